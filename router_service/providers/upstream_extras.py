"""What a deployment (and, when allowed, the client) adds to the upstream HTTP call:
litellm_params.extra_headers, allowlisted client headers (general_settings.
forward_client_headers_to_llm_api; set per request by the servicer) and litellm_params.extra_body
(merged into the JSON body, e.g. Vertex `labels`). Credentials are never forwarded or overridden."""

from __future__ import annotations

from typing import TYPE_CHECKING

import contextvars

if TYPE_CHECKING:
    from gemgate.config import Deployment


# client headers forwarded for this request (already allowlisted by gemgate.forward_headers)
FORWARDED: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar("gemgate_forwarded", default=())


def headers(dep: Deployment, base: dict[str, str]) -> dict[str, str]:
    """`base` (gemgate's own: content type, auth) plus the extras; the extras never replace `base`."""
    extra = dep.litellm_params.extra_headers
    fwd = FORWARDED.get()
    if not extra and not fwd:
        return base
    out = {}
    for name, value in (*fwd, *extra.items()):
        out[name.lower()] = value
    out.update({k.lower(): v for k, v in base.items()})
    return out


def body(dep: Deployment, payload: dict) -> dict:
    extra = dep.litellm_params.extra_body
    if not extra:
        return payload
    return {**payload, **extra}
