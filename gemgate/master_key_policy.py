"""Startup rule for the master key (as LiteLLM does it):

- no master_key and a non-loopback bind: refuse to start;
- a weak or publicly known master_key (`sk-1234`, shorter than 32 characters, a handful of distinct
  characters): a warning on loopback, refused on a non-loopback bind;

unless `general_settings.dangerously_permit_weak_or_unset_master_key: true` (LiteLLM's name) or the
CLI flag `--dangerously-permit-weak-or-unset-master-key`, which turn a refusal into a warning.
"""

from __future__ import annotations

import ipaddress

MIN_LENGTH = 32
SWITCH = "general_settings.dangerously_permit_weak_or_unset_master_key: true"
FLAG = "--dangerously-permit-weak-or-unset-master-key"
CHECKED_ENV = "GEMGATE_MASTER_KEY_CHECKED"  # set by the CLI for its children: warnings already printed
# keys printed in LiteLLM's and gemgate's docs and tutorials
KNOWN_KEYS = frozenset({
    "sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-admin", "sk-master", "sk-master-key",
    "sk-my-master-key", "sk-test", "sk-password", "sk-secret", "sk-changeme", "sk-litellm", "sk-litellm-master-key",
    "sk-anything", "sk-anything-or-your-key", "sk-xxxx", "sk-xxxxxxxx",
})


class UnsafeStartup(Exception):
    """Refused configuration; the message says why and how to override."""


def is_loopback_host(host: str | None) -> bool:
    if host is None:
        return False
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False  # a name or 0.0.0.0 / :: (every interface): treat as public


def weakness(key: str) -> str | None:
    """Why `key` is weak, or None."""
    if key in KNOWN_KEYS or key.lower() in KNOWN_KEYS:
        return "it is a publicly known example key"
    if len(key) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    if len(set(key[3:])) < 10:
        return "it has fewer than 10 distinct characters"
    return None


def check(master_key: str | None, host: str | None, *, permit: bool) -> list[str]:
    """Warnings to print; raises UnsafeStartup when startup must be refused."""
    public = not is_loopback_host(host)
    override = f"set {SWITCH} in the config or pass {FLAG} (not recommended)"
    if not master_key:
        if not public:
            return []
        msg = (f"no general_settings.master_key while listening on {host}: anyone who can reach the port could "
               f"use every model without a key. Set a strong master_key (e.g. `sk-` + `python -c 'import secrets; "
               f"print(secrets.token_urlsafe(32))'`), or bind to 127.0.0.1")
        if permit:
            return [msg + f" -- started anyway because of {SWITCH.split(':')[0]} / {FLAG}"]
        raise UnsafeStartup(f"{msg}, or {override}.")
    reason = weakness(master_key)
    if reason is None:
        return []
    msg = f"general_settings.master_key is weak ({reason})"
    if not public:
        return [msg + "; acceptable on loopback only — use at least 32 random characters before exposing the gateway"]
    if permit:
        return [msg + f" while listening on {host} -- started anyway because of {SWITCH.split(':')[0]} / {FLAG}"]
    raise UnsafeStartup(f"{msg} and the gateway listens on {host}. Use at least {MIN_LENGTH} random characters "
                        f"after `sk-`, bind to 127.0.0.1, or {override}.")
