"""The spend-log facts of one request (pure), sent with its settlement.

Only validated or gateway-owned values: ids, model names, token counts, times, the key's hash and
alias, the request's `user` and string `tags` (clipped). Never prompt content, never the key.
"""

from __future__ import annotations

import time

from gemgate.v1 import budget_pb2

MAX_TAGS = 32
MAX_TEXT = 256


def _text(v) -> str:
    return v[:MAX_TEXT] if isinstance(v, str) else ""


def _tags(request: dict) -> list[str]:
    tags = request.get("tags")
    meta = request.get("metadata")
    if tags is None and isinstance(meta, dict):
        tags = meta.get("tags")
    if not isinstance(tags, list):
        return []
    return [t[:MAX_TEXT] for t in tags if isinstance(t, str)][:MAX_TAGS]


def spend_entry(*, call_type: str, request: dict | None, identity, info, usage: dict | None, start_time: float,
                ok: bool, error: BaseException | None, stream: bool = False, now: float | None = None,
                response_model: str = "") -> budget_pb2.SpendLogEntry:
    request = request or {}
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    deployment = getattr(info, "deployment", None)
    provider_model = response_model or (deployment.litellm_params.upstream_model if deployment is not None else "")
    e = budget_pb2.SpendLogEntry(
        call_type=call_type,
        api_key=getattr(identity, "key_hash", "") or "",
        key_alias=getattr(identity, "key_alias", "") or "",
        end_user=_text(request.get("user")),
        model_group=(getattr(info, "model_group", "") or _text(request.get("model"))),
        model_id=getattr(info, "model_id", "") or "",
        model=_text(provider_model),
        custom_llm_provider=getattr(info, "provider", "") or "",
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
        cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
        reasoning_tokens=int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0),
        start_time=start_time,
        end_time=time.time() if now is None else now,
        status="success" if ok else "failure",
        request_tags=_tags(request),
    )
    meta = {"stream": stream, "attempts": int(getattr(info, "attempts", 0) or 0)}
    if getattr(info, "fallback_used", None):
        meta["fallback_used"] = info.fallback_used
    kind = getattr(error, "kind", None)
    if not ok and kind is not None:
        meta["error_type"] = kind.name
        meta["error_code"] = str(getattr(error, "code", "") or "")
    e.metadata.update(meta)
    return e
