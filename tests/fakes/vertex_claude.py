"""Fake Vertex AI endpoint: Claude `:rawPredict` / `:streamRawPredict` (strictly validated with
claude_validate), plus minimal Gemini `:generateContent` / `:streamGenerateContent?alt=sse` and embeddings `:predict`, all requiring a
Bearer token that the FakeOAuth issued and that is still valid (else 401 UNAUTHENTICATED in Google's
envelope, as Vertex answers). Records every request in `.requests`."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.claude_validate import validate_claude_body, validate_count_body
from tests.fakes.oauth import FakeOAuth

PREFIX = "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{rest:path}"


def _google_error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, status_code=code)


def claude_message(text: str = "Hello!", *, stop_reason: str = "end_turn") -> dict:
    return {
        "id": "msg_vrtx_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def claude_text_events(text: str = "Hello there") -> list[tuple[str, dict]]:
    half = len(text) // 2
    return [
        ("message_start", {"type": "message_start", "message": {**claude_message(""), "content": [], "stop_reason": None,
                                                                "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[:half]}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[half:]}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}),
    ]


class FakeVertex:
    def __init__(self, oauth: FakeOAuth) -> None:
        self.oauth = oauth
        self.requests: list[dict] = []  # {"path", "op", "model", "auth", "body"}
        self.claude_response: Callable[[dict], dict] = lambda body: claude_message()
        self.claude_events: Callable[[dict], list[tuple[str, dict]]] = lambda body: claude_text_events()
        self.claude_burst = False  # True: every stream event in one write, as a fast upstream's one read
        self.app = Starlette(routes=[Route(PREFIX, self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        model, _, op = request.path_params["rest"].rpartition(":")
        auth = request.headers.get("authorization", "")
        body_bytes = await request.body()
        try:
            body = json.loads(body_bytes)
        except ValueError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self.requests.append({"path": request.url.path, "query": request.url.query, "op": op, "model": model,
                              "headers": dict(request.headers),
                              "publisher": request.path_params["publisher"], "auth": auth, "body": body})
        if not auth.startswith("Bearer ") or not self.oauth.is_valid(auth[7:]):
            return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        publisher = request.path_params["publisher"]
        if publisher == "anthropic" and model == "count-tokens" and op == "rawPredict":
            problem = validate_count_body(body)
            if problem is not None:
                return JSONResponse(problem, status_code=400)
            return JSONResponse({"input_tokens": len(json.dumps(body["messages"])) // 4 + 1})
        if publisher == "anthropic":
            if op not in ("rawPredict", "streamRawPredict"):
                return _google_error(404, "NOT_FOUND", f"unknown method {op}")
            problem = validate_claude_body(body)
            if problem is not None:
                return JSONResponse(problem, status_code=400)
            if op == "rawPredict":
                if body.get("stream"):
                    return JSONResponse({"type": "error", "error": {"type": "invalid_request_error",
                                                                    "message": "stream is not allowed on rawPredict"}}, 400)
                return JSONResponse(self.claude_response(body))
            events = self.claude_events(body)

            async def gen():
                frames = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
                if self.claude_burst:
                    yield b"".join(frames)
                    return
                for frame in frames:
                    yield frame

            return StreamingResponse(gen(), media_type="text/event-stream")
        if op == "generateContent":
            return JSONResponse({
                "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi from Vertex"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7},
                "responseId": "vtx-1",
            })
        if op == "streamGenerateContent":
            if request.url.query != "alt=sse":
                return _google_error(400, "INVALID_ARGUMENT", "this fake streams only with alt=sse")
            events = [
                {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi from "}]}}]},
                {"candidates": [{"content": {"role": "model", "parts": [{"text": "Vertex"}]}, "finishReason": "STOP"}],
                 "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}},
            ]

            async def sse():
                for ev in events:
                    yield f"data: {json.dumps(ev)}\r\n\r\n".encode()

            return StreamingResponse(sse(), media_type="text/event-stream")
        if op == "predict":
            instances = body.get("instances") or []
            dims = (body.get("parameters") or {}).get("outputDimensionality", 3)
            return JSONResponse({"predictions": [
                {"embeddings": {"values": [0.5] * dims, "statistics": {"token_count": len(i.get("content", "").split()),
                                                                        "truncated": False}}}
                for i in instances
            ]})
        return _google_error(404, "NOT_FOUND", f"unknown method {op}")
