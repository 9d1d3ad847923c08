"""Untrusted JSON bodies: bounded depth and size, valid Unicode, key order kept, never a 500."""

import json
import sys

import pytest

from gemgate import safejson
from gemgate.errors import ErrorKind, GatewayError


def _err(raw: bytes) -> GatewayError:
    with pytest.raises(GatewayError) as exc:
        safejson.parse(raw)
    assert exc.value.kind is ErrorKind.INVALID_REQUEST
    return exc.value


def test_100k_nested_arrays_is_a_400_without_recursion():
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the parser must not need the Python stack for depth
    try:
        err = _err(b"[" * 100_000 + b"]" * 100_000)
        err2 = _err(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    finally:
        sys.setrecursionlimit(limit)
    assert "nested" in err.message and "nested" in err2.message


def test_depth_limit_is_exact_and_names_the_path():
    levels = safejson.MAX_DEPTH - 1  # below the top-level object
    ok = {"metadata": json.loads("[" * levels + "]" * levels)}
    assert safejson.parse(json.dumps(ok).encode()) == ok
    deep = {"model": "m", "metadata": json.loads("[" * (levels + 1) + "]" * (levels + 1))}
    err = _err(json.dumps(deep).encode())
    assert err.param.startswith("metadata[0]") and err.code == "nesting_too_deep"


@pytest.mark.parametrize("body,param", [
    (b'{"model": "\\ud800", "messages": []}', "model"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "hi \\udfff"}]}', "messages[0].content"),
    (b'{"tools": [{"type": "function", "function": {"name": "f\\ud83d"}}]}', "tools[0].function.name"),
    (b'{"user": "\\udc00\\ud800"}', "user"),
])
def test_unpaired_surrogates_are_a_400_naming_the_string(body, param):
    err = _err(body)
    assert err.param == param
    assert "Unicode" in err.message


def test_paired_surrogates_and_non_ascii_are_fine():
    assert safejson.parse(b'{"a": "\\ud83d\\ude00 \xc3\xa9"}') == {"a": "\U0001F600 \u00e9"}


def test_invalid_utf8_bytes_are_a_400():
    assert "JSON" in _err(b'{"a": "\xed\xa0\x80"}').message


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"[1,]", b"NaN", b'{"a": 1e400}', b"\xff"])
def test_malformed_bodies_are_400s(raw):
    _err(raw)


def test_value_count_is_bounded_before_parsing():
    err = _err(b"[" + b"0," * safejson.MAX_VALUES + b"0]")
    assert err.code == "too_many_values"


def test_key_order_is_the_clients():
    raw = b'{"z": 1, "a": {"y": 2, "b": 3, "m": [{"q": 1, "c": 2}]}}'
    value = safejson.parse(raw)
    assert list(value) == ["z", "a"] and list(value["a"]) == ["y", "b", "m"]
    assert safejson.dumps(value) == raw.decode().replace(" ", "")
