"""LiteLLM's router_settings.retry_policy / allowed_fails_policy: exception class names -> ErrorKinds.

retry_policy `{"RateLimitErrorRetries": 3, ...}`: how often a failure of that class is retried
(overrides num_retries for it; a class that is normally not retried, e.g. AuthenticationError, is
retried - on another deployment when there is one - if its value is > 0).
allowed_fails_policy `{"RateLimitErrorAllowedFails": 100, ...}`: failures of that class a
deployment may have within a minute before it cools down (counted per class; overrides
allowed_fails; a class that normally never counts, e.g. BadRequestError, counts when listed).
"""

from __future__ import annotations

import difflib

from gemgate.errors import ErrorKind

CLASSES: dict[str, tuple[ErrorKind, ...]] = {
    "BadRequestError": (ErrorKind.INVALID_REQUEST, ErrorKind.CONTEXT_LENGTH_EXCEEDED),
    "AuthenticationError": (ErrorKind.AUTHENTICATION, ErrorKind.PERMISSION),
    "TimeoutError": (ErrorKind.REQUEST_TIMEOUT, ErrorKind.UPSTREAM_TIMEOUT),
    "RateLimitError": (ErrorKind.RATE_LIMIT,),
    "ContentPolicyViolationError": (ErrorKind.CONTENT_POLICY,),
    "InternalServerError": (ErrorKind.UPSTREAM_ERROR, ErrorKind.BAD_GATEWAY, ErrorKind.UNAVAILABLE,
                            ErrorKind.INTERNAL),
}
SUFFIX = {"retry_policy": "Retries", "allowed_fails_policy": "AllowedFails"}


def class_of(kind: ErrorKind) -> str | None:
    for name, kinds in CLASSES.items():
        if kind in kinds:
            return name
    return None


def check_policy(field: str, policy: dict[str, int]) -> dict[str, int]:
    suffix = SUFFIX[field]
    valid = [c + suffix for c in CLASSES]
    for key, value in policy.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (one of {', '.join(valid)})"
            raise ValueError(f"unknown {field} entry {key!r}{hint}")
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{field}.{key} must be an integer >= 0")
    return policy


def lookup(field: str, policy: dict[str, int], kind: ErrorKind) -> int | None:
    cls = class_of(kind)
    return None if cls is None else policy.get(cls + SUFFIX[field])
