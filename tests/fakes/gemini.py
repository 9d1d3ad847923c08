"""Strict fake of the Gemini API — AI Studio (v1beta) and Vertex AI (v1 publishers/google) —
speaking the real wire format.

It validates request bodies the way Google does (unknown fields, roles, empty parts -> 400 with
Google's error envelope) and answers:
- by default an echo: text "echo: <last user text>" (unary, or 3 SSE deltas when streaming),
  with usageMetadata;
- or scripted answers queued per model via `FakeGemini.enqueue(model, *answers)` where an answer is
  `{"status": int, "body": dict}` (unary JSON), `{"sse": [event dicts], "close_early": bool}` (the
  connection then drops after the events, before the body's end) or
  `{"delay": seconds, ...}` combined with either (SSE: `"gap": seconds` between events, or `"burst": True`
  for every event in one write).
Every request is recorded (`.requests`) so tests can assert what gemgate sent.
AI Studio requests need `x-goog-api-key` (or `?key=`) in `valid_keys`; Vertex requests need
`Authorization: Bearer <token>` accepted by `token_ok` (wire it to the fake OAuth server's issued
tokens). Embeddings: `:embedContent`, `:batchEmbedContents` (AI Studio) and `:predict` (Vertex),
answering deterministic vectors derived from the text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
from collections import defaultdict, deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.gemini_validate import thinking_budget_problem, validate_embed, validate_generate_content

VALID_KEYS_DEFAULT = {"test-key"}

def google_error(code: int, status: str, message: str, details: list | None = None) -> JSONResponse:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return JSONResponse({"error": err}, status_code=code)


def _last_user_text(body: dict) -> str:
    for content in reversed(body.get("contents", [])):
        if content.get("role") == "user":
            texts = [p["text"] for p in content.get("parts", []) if "text" in p]
            if texts:
                return " ".join(texts)
    return ""


def echo_response(body: dict, model: str) -> dict:
    reply = f"echo: {_last_user_text(body)}"
    finish = "STOP"
    limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
    if isinstance(limit, int) and len(reply.split()) > limit:  # like Google: cut at maxOutputTokens
        reply, finish = " ".join(reply.split()[:limit]), "MAX_TOKENS"
    n = int((body.get("generationConfig") or {}).get("candidateCount", 1))
    system = (body.get("systemInstruction") or {}).get("parts", [])
    all_parts = [p for c in body["contents"] for p in c["parts"]] + system
    prompt_tokens = sum(len(p.get("text", "").split()) for p in all_parts) + 1
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": reply}]}, "finishReason": finish, "index": i}
            for i in range(n)
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": len(reply.split()) * n,
            "totalTokenCount": prompt_tokens + len(reply.split()) * n,
        },
        "modelVersion": model,
        "responseId": "fakeresp123",
    }


def echo_stream(body: dict, model: str) -> list[dict]:
    full = echo_response(body, model)
    text = full["candidates"][0]["content"]["parts"][0]["text"]
    thirds = [text[: len(text) // 3], text[len(text) // 3 : 2 * len(text) // 3], text[2 * len(text) // 3 :]]
    events = []
    for k, piece in enumerate(thirds):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}}
        if k == 2:
            cand["finishReason"] = full["candidates"][0]["finishReason"]
        event: dict[str, Any] = {"candidates": [cand], "modelVersion": model, "responseId": "fakeresp123"}
        event["usageMetadata"] = dict(full["usageMetadata"]) if k == 2 else {"promptTokenCount": full["usageMetadata"]["promptTokenCount"]}
        events.append(event)
    return events


def fake_vector(text: str, dims: int) -> list[float]:
    """Deterministic unit vector for `text` (same text -> same vector)."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] + i * 31) % 255) / 127.0 - 1.0 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


KNOWN_MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-3-pro-preview",
                "text-embedding-004", "gemini-embedding-001")


def model_exists(model: str) -> bool:
    """What the fake's models.get knows: the listed models and any other gemini-*/embedding name
    (generateContent accepts any name too); anything else is a 404 as on Google."""
    return model in KNOWN_MODELS or model.startswith("gemini-") or "embedding" in model


def model_resource(model: str) -> dict:
    embedding = "embedding" in model
    return {"name": f"models/{model}", "version": "001", "displayName": model, "description": "fake",
            "inputTokenLimit": 2048 if embedding else 1048576, "outputTokenLimit": 1 if embedding else 65536,
            "supportedGenerationMethods": ["embedContent", "batchEmbedContents"] if embedding
            else ["generateContent", "countTokens"]}


_VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/models/(?P<target>.+)$")


class FakeGemini:
    def __init__(self, valid_keys: set[str] | None = None, token_ok=None) -> None:
        self.valid_keys = set(valid_keys or VALID_KEYS_DEFAULT)
        self.token_ok = token_ok or (lambda token: False)
        self.requests: list[dict] = []
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.validate = validate_generate_content
        self.app = Starlette(routes=[
            Route("/v1beta/models", self._list_models, methods=["GET"]),
            Route("/v1beta/models/{target:path}", self._get_model, methods=["GET"]),
            Route("/v1beta/models/{target:path}", self._handle, methods=["POST"]),
            Route("/v1/projects/{rest:path}", self._handle_vertex, methods=["POST"]),
        ])

    def enqueue(self, model: str, *answers: dict) -> None:
        with self._lock:
            self._scripts[model].extend(answers)

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()

    def _next_script(self, model: str) -> dict | None:
        with self._lock:
            queue = self._scripts.get(model)
            return queue.popleft() if queue else None

    async def _record(self, request: Request, model: str, op: str, vertex: bool, **extra) -> tuple[Any, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            self.requests.append({"model": model, "op": op, "vertex": vertex, "query": dict(request.query_params), "body": body,
                                  "headers": {k: v for k, v in request.headers.items()}, "path": request.url.path, **extra})
        if body is None:
            return None, google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        return body, None

    async def _handle(self, request: Request) -> Response:
        model, _, op = request.path_params["target"].partition(":")
        body, bad = await self._record(request, model, op, vertex=False)
        if bad is not None:
            return bad
        problem = self._key_problem(request)
        if problem is not None:
            return problem
        if op in ("embedContent", "batchEmbedContents") and "embedding" not in model:
            return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not supported for {op}.")
        if op == "countTokens":
            return self._count(body, vertex=False)
        if op == "embedContent":
            return self._embed(model, body)
        if op == "batchEmbedContents":
            return self._batch_embed(model, body)
        return await self._generate(request, model, op, body, vertex=False)

    def _key_problem(self, request: Request) -> Response | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
        if key not in self.valid_keys:
            return google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])
        return None

    def _record_get(self, request: Request, model: str, op: str) -> None:
        with self._lock:
            self.requests.append({"model": model, "op": op, "vertex": False, "query": dict(request.query_params),
                                  "body": None, "headers": dict(request.headers), "path": request.url.path})

    async def _get_model(self, request: Request) -> Response:
        """models.get: the model's metadata; an unknown model is a 404 like Google's."""
        model = request.path_params["target"]
        self._record_get(request, model, "models.get")
        bad = self._key_problem(request)
        if bad is not None:
            return bad
        if not model_exists(model):
            return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not "
                                                  "supported for getModel. Call ListModels to see the list of available models and their supported methods.")
        return JSONResponse(model_resource(model))

    async def _list_models(self, request: Request) -> Response:
        self._record_get(request, "", "models.list")
        bad = self._key_problem(request)
        if bad is not None:
            return bad
        size = request.query_params.get("pageSize", "50")
        if not size.isdigit() or not 0 < int(size) <= 1000:
            return google_error(400, "INVALID_ARGUMENT", "Invalid value for page_size")
        models = [model_resource(m) for m in KNOWN_MODELS][: int(size)]
        return JSONResponse({"models": models, "nextPageToken": "fake-next"} if int(size) < len(KNOWN_MODELS)
                            else {"models": models})

    async def _handle_vertex(self, request: Request) -> Response:
        match = _VERTEX_PATH.match(request.url.path)
        if not match:
            return google_error(404, "NOT_FOUND", f"The requested URL {request.url.path} was not found on this server.")
        model, _, op = match["target"].partition(":")
        body, bad = await self._record(request, model, op, vertex=True, project=match["project"], location=match["location"])
        if bad is not None:
            return bad
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if not token or not self.token_ok(token):
            return google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
        if op == "predict":
            return self._predict(model, body)
        if op == "countTokens":
            return self._count(body, vertex=True, model=model)
        return await self._generate(request, model, op, body, vertex=True)

    def _count(self, body: dict, *, vertex: bool, model: str = "") -> Response:
        """countTokens: AI Studio takes {contents} or {generateContentRequest}; Vertex the prompt
        fields (contents, systemInstruction, tools, generationConfig) at the top level, or
        `instances` for non-Gemini (embedding) models."""
        if vertex and "instances" in body:
            if "embedding" not in model or set(body) - {"instances", "model"}:
                return google_error(400, "INVALID_ARGUMENT", "instances is only supported for non-Gemini models "
                                                             "and alone")
            inst = body["instances"]
            if not isinstance(inst, list) or not inst or not all(isinstance(i, dict) and isinstance(i.get("content"), str)
                                                                 for i in inst):
                return google_error(400, "INVALID_ARGUMENT", "instances must be a non-empty list of {content}")
            return JSONResponse({"totalTokens": sum(len(i["content"].split()) for i in inst)})
        if vertex:
            allowed = {"contents", "systemInstruction", "tools", "generationConfig", "model", "instances"}
            gen = body
        else:
            allowed = {"contents", "generateContentRequest"}
            if "contents" in body and "generateContentRequest" in body:
                return google_error(400, "INVALID_ARGUMENT", "contents and generate_content_request cannot both be set")
            gen = body.get("generateContentRequest") or {"contents": body.get("contents")}
            if "generateContentRequest" in body and not str(gen.get("model", "")).startswith("models/"):
                return google_error(400, "INVALID_ARGUMENT", "generate_content_request.model is required")
        unknown = sorted(set(body) - allowed)
        if unknown:
            return google_error(400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        problem = self.validate({k: v for k, v in gen.items() if k != "model"}, vertex=vertex)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem)
        words = sum(len(p.get("text", "").split()) for c in gen.get("contents") or [] for p in c.get("parts") or [])
        return JSONResponse({"totalTokens": words + 1})

    def _embed(self, model: str, body: dict) -> Response:
        problem = validate_embed("embedContent", body, vertex=False)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem)
        text = " ".join(p["text"] for p in body["content"]["parts"])
        return JSONResponse({"embedding": {"values": fake_vector(text, body.get("outputDimensionality", 768))}})

    def _batch_embed(self, model: str, body: dict) -> Response:
        problem = validate_embed("batchEmbedContents", body, vertex=False)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem)
        out = []
        for i, req in enumerate(body["requests"]):
            if req.get("model") != f"models/{model}":
                return google_error(400, "INVALID_ARGUMENT", f"* BatchEmbedContentsRequest.requests[{i}].model: model must be models/{model}")
            text = " ".join(p["text"] for p in req["content"]["parts"])
            out.append({"values": fake_vector(text, req.get("outputDimensionality", 768))})
        return JSONResponse({"embeddings": out})

    def _predict(self, model: str, body: dict) -> Response:
        problem = validate_embed("predict", body, vertex=True)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem)
        dims = (body.get("parameters") or {}).get("outputDimensionality", 768)
        preds = []
        for inst in body["instances"]:
            preds.append({"embeddings": {"values": fake_vector(inst["content"], dims),
                                         "statistics": {"token_count": len(inst["content"].split()), "truncated": False}}})
        return JSONResponse({"predictions": preds, "metadata": {"billableCharacterCount": sum(len(i["content"]) for i in body["instances"])}})

    async def _generate(self, request: Request, model: str, op: str, body: dict, *, vertex: bool) -> Response:
        if op not in ("generateContent", "streamGenerateContent"):
            return google_error(404, "NOT_FOUND", f"Method {op} not found.")
        if "embedding" in model:
            return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not supported for {op}.")
        problem = self.validate(body, vertex=vertex) or thinking_budget_problem(model, body)
        if problem:
            return google_error(400, "INVALID_ARGUMENT", problem)
        script = self._next_script(model)
        if script and script.get("delay"):
            await asyncio.sleep(script["delay"])
        if op == "generateContent":
            if script is None or ("status" not in script and "body" not in script):
                return JSONResponse(echo_response(body, model))
            return JSONResponse(script.get("body", {}), status_code=script.get("status", 200))
        if request.query_params.get("alt") != "sse":
            return google_error(400, "INVALID_ARGUMENT", "fake: only alt=sse streaming is implemented")
        if script is not None and "status" in script and script["status"] != 200:
            return JSONResponse(script.get("body", {}), status_code=script["status"])
        events = script["sse"] if script and "sse" in script else echo_stream(body, model)
        gap = (script or {}).get("gap", 0.0)

        async def gen():
            if (script or {}).get("burst"):  # every event in one write, as a fast upstream's one read
                yield b"".join(b"data: " + json.dumps(event).encode() + b"\r\n\r\n" for event in events)
            else:
                for event in events:
                    yield b"data: " + json.dumps(event).encode() + b"\r\n\r\n"
                    if gap:
                        await asyncio.sleep(gap)
            if (script or {}).get("close_early"):  # the connection drops before the body's end
                raise ConnectionAbortedError("fake: stream cut before its end")

        return StreamingResponse(gen(), media_type="text/event-stream")
