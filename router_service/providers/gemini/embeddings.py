"""OpenAI embeddings <-> Gemini :embedContent / :batchEmbedContents (AI Studio) and :predict (Vertex)."""

from __future__ import annotations

from typing import Any

from gemgate.errors import invalid

_ALLOWED = {"model", "input", "dimensions", "encoding_format", "user", "task_type", "drop_params",
            "metadata", "timeout", "num_retries", "mock_response"}


def _inputs(req: dict) -> list[str]:
    raw = req.get("input")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise invalid("input must be a non-empty string or array of strings", "input")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise invalid("each input must be a non-empty string (token arrays are not supported)", f"input[{i}]")
    return items


def _check(req: dict) -> None:
    if req.get("drop_params"):
        return
    for key, val in req.items():
        if val is not None and key not in _ALLOWED:
            raise invalid(f"{key} is not supported for Gemini embeddings", key)
    if req.get("encoding_format") not in (None, "float"):
        raise invalid("only encoding_format float is supported", "encoding_format")


def _dimensions(req: dict) -> int | None:
    dims = req.get("dimensions")
    if dims is None:
        return None
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise invalid("dimensions must be a positive integer", "dimensions")
    return dims


def _studio_request(model: str, text: str, dims: int | None, task: Any) -> dict:
    body: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
    if task:
        body["taskType"] = task
    if dims:
        body["outputDimensionality"] = dims
    return body


def to_gemini_embed_request(req: dict, *, model: str, vertex: bool = False) -> tuple[str, dict]:
    """-> (op, body): op is "embedContent", "batchEmbedContents" (AI Studio) or "predict" (Vertex)."""
    _check(req)
    texts, dims, task = _inputs(req), _dimensions(req), req.get("task_type")
    if vertex:
        instances = [{"content": t, **({"task_type": task} if task else {})} for t in texts]
        body: dict[str, Any] = {"instances": instances}
        if dims:
            body["parameters"] = {"outputDimensionality": dims}
        return "predict", body
    if len(texts) == 1:
        single = _studio_request(model, texts[0], dims, task)
        single.pop("model")
        return "embedContent", single
    return "batchEmbedContents", {"requests": [_studio_request(model, t, dims, task) for t in texts]}


def _vectors(body: dict) -> tuple[list[list[float]], int]:
    if "predictions" in body:
        vecs, tokens = [], 0
        for p in body.get("predictions") or []:
            emb = p.get("embeddings") or {}
            vecs.append(emb.get("values") or [])
            tokens += int((emb.get("statistics") or {}).get("token_count", 0))
        return vecs, tokens
    if "embeddings" in body:
        return [e.get("values") or [] for e in body.get("embeddings") or []], 0
    return [(body.get("embedding") or {}).get("values") or []], 0


def from_gemini_embed_response(body: dict, *, model: str, prompt_tokens: int | None = None) -> dict:
    """Gemini embed answer -> OpenAI embeddings response. AI Studio reports no token counts; pass an
    estimate as prompt_tokens if you have one."""
    vecs, tokens = _vectors(body)
    used = tokens if tokens else (prompt_tokens or 0)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)],
        "model": model,
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
