"""OpenAI embeddings request <-> Vertex `:predict` for text-embedding / gemini-embedding models (pure)."""

from __future__ import annotations

import base64
import struct

from gemgate.errors import ErrorKind, GatewayError, invalid

_ALLOWED = {"model", "input", "dimensions", "encoding_format", "user", "drop_params"}


def to_predict_request(req: dict) -> dict:
    raw = req.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
        raise invalid("input must be a string or a non-empty list of strings (token arrays are not supported)", "input")
    if not req.get("drop_params"):
        for key, value in req.items():
            if key not in _ALLOWED and not key.startswith("mock_") and value is not None:
                raise invalid(f"parameter {key!r} is not supported for Vertex embeddings", key)
    if req.get("encoding_format") not in (None, "float", "base64"):
        raise invalid("encoding_format must be float or base64", "encoding_format")
    body: dict = {"instances": [{"content": text} for text in inputs]}
    if req.get("dimensions") is not None:
        body["parameters"] = {"outputDimensionality": int(req["dimensions"])}
    return body


def _encode(values: list[float], fmt: str | None) -> list[float] | str:
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return values


def from_predict_response(body: dict, *, model: str, encoding_format: str | None = None) -> dict:
    predictions = body.get("predictions")
    if not isinstance(predictions, list):
        raise GatewayError(ErrorKind.BAD_GATEWAY, "Vertex: embeddings response without predictions")
    data, tokens = [], 0
    for i, pred in enumerate(predictions):
        emb = (pred or {}).get("embeddings") or {}
        values = emb.get("values")
        if not isinstance(values, list):
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Vertex: embeddings response without values")
        tokens += int((emb.get("statistics") or {}).get("token_count") or 0)
        data.append({"object": "embedding", "index": i, "embedding": _encode(values, encoding_format)})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
