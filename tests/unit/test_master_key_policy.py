"""Issue 10 item 9: the master-key startup rule (pure)."""

from __future__ import annotations

import pytest

from gemgate.master_key_policy import UnsafeStartup, check, is_loopback_host, weakness

STRONG = "sk-" + "Zq8wVb3Kp1Lr7Tn5Xc2Md9Fg4Hj6Sa0Ye"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "[::1]", "localhost"])
def test_loopback(host):
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "", None])
def test_public(host):
    assert not is_loopback_host(host)


@pytest.mark.parametrize("key", ["sk-1234", "SK-1234".lower(), "sk-admin", "sk-short-but-random-9f8e7d",
                                 "sk-" + "a" * 40, "sk-" + "ab" * 20])
def test_weak_keys(key):
    assert weakness(key)


def test_strong_key():
    assert weakness(STRONG) is None


def test_unset_key():
    assert check(None, "127.0.0.1", permit=False) == []
    with pytest.raises(UnsafeStartup, match="dangerously_permit_weak_or_unset_master_key"):
        check(None, "0.0.0.0", permit=False)
    assert "started anyway" in check(None, "0.0.0.0", permit=True)[0]


def test_weak_key():
    [warning] = check("sk-1234", "127.0.0.1", permit=False)
    assert "weak" in warning and "sk-1234" not in warning  # the key itself is never printed
    with pytest.raises(UnsafeStartup) as exc:
        check("sk-1234", "0.0.0.0", permit=False)
    assert "sk-1234" not in str(exc.value)
    assert check("sk-1234", "0.0.0.0", permit=True)


def test_strong_key_anywhere():
    assert check(STRONG, "0.0.0.0", permit=False) == []
    assert check(STRONG, "127.0.0.1", permit=False) == []
