"""A request in a provider's own API format, as the router carries it to a deployment.

The router routes a `NativeCall` like a chat request (same keys, budgets, retries, fallbacks,
cooldowns). At the chosen deployment the provider either passes the body through (the deployment
speaks that API family: Claude for Anthropic Messages, Gemini for native Gemini) or translates it
through the OpenAI chat shape with `via_chat` / `via_stream`, which every provider supports.

Results: unary `{"body": <native answer>, "usage": <OpenAI usage>}`; streams yield
`{"event": <native event>}` items and end with one `{"usage": <OpenAI usage>}` item.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from router_service.native import anthropic_openai as a2o
from router_service.native import gemini_openai as g2o
from router_service.routing import mock_switches

# Gateway keys a native body may carry next to the API's own fields (LiteLLM's request extras).
GATEWAY_KEYS = (*mock_switches.SWITCHES, *mock_switches.ROUTER_KEYS, "drop_params")


def split_gateway_keys(body: dict) -> tuple[dict, dict]:
    """-> (native body, gateway keys)."""
    native = {k: v for k, v in body.items() if k not in GATEWAY_KEYS}
    return native, {k: body[k] for k in GATEWAY_KEYS if body.get(k) is not None}


@dataclass
class NativeCall:
    family: str  # "anthropic" | "gemini"
    op: str      # "generate" | "count_tokens" | "embed"
    body: dict
    group: str
    gateway: dict = field(default_factory=dict)
    stream: bool = False
    betas: tuple[str, ...] = ()
    drop_params: bool = False  # litellm_settings.drop_params
    api: str = ""              # gemini: "gemini" | "vertex" (the caller's URL shape)

    def drop(self, dep: Any) -> bool:
        lp = getattr(dep, "litellm_params", None)
        return bool(self.gateway.get("drop_params") or self.drop_params or getattr(lp, "drop_params", False))

    # ---- family hooks (overridden) ----
    def estimate_request(self) -> dict:
        """A lenient OpenAI-shaped twin of the body, for admission estimates and usage records."""
        raise NotImplementedError

    def to_openai(self, dep: Any, group: str) -> dict:
        raise NotImplementedError

    def from_openai(self, resp: dict, group: str) -> dict:
        raise NotImplementedError

    def stream_translator(self, group: str) -> Any:
        raise NotImplementedError

    def router_request(self) -> dict:
        """What the router sees: the estimate twin plus the gateway keys (mock_*, num_retries, ...).
        Its sampling numbers are only kept when well-typed (the deployment's API judges the real ones)."""
        twin = self.estimate_request()
        for key in ("temperature", "top_p"):
            if isinstance(twin.get(key), bool) or not isinstance(twin.get(key), (int, float)):
                twin.pop(key, None)
        for key in ("max_tokens", "top_k", "n"):
            if isinstance(twin.get(key), bool) or not isinstance(twin.get(key), int):
                twin.pop(key, None)
        return {**twin, **self.gateway, "model": self.group}


class AnthropicCall(NativeCall):
    def estimate_request(self) -> dict:
        return a2o.to_openai(self.body, group=self.group, strict=False)

    def to_openai(self, dep: Any, group: str) -> dict:
        return a2o.to_openai(self.body, group=group, strict=True, drop=self.drop(dep))

    def from_openai(self, resp: dict, group: str) -> dict:
        return a2o.from_openai(resp, group=group)

    def stream_translator(self, group: str) -> a2o.AnthropicStreamFromOpenAI:
        return a2o.AnthropicStreamFromOpenAI(group=group)


ChatFn = Callable[..., Awaitable[dict]]
StreamFn = Callable[..., AsyncIterator[dict]]


async def via_chat(chat: ChatFn, dep: Any, call: NativeCall, group: str, *, timeout: float) -> dict:
    """Translate the native request to chat, call `chat(dep, request, timeout=)`, translate back."""
    resp = await chat(dep, call.to_openai(dep, group), timeout=timeout)
    if call.op == "count_tokens":  # only reached with mock_response: the mock's prompt count
        return {"body": {"input_tokens": int((resp.get("usage") or {}).get("prompt_tokens") or 0),
                         "totalTokens": int((resp.get("usage") or {}).get("prompt_tokens") or 0)}, "usage": None}
    return {"body": call.from_openai(resp, group), "usage": resp.get("usage")}


async def via_stream(stream: StreamFn, dep: Any, call: NativeCall, group: str, *, timeout: float) -> AsyncIterator[dict]:
    request = {**call.to_openai(dep, group), "stream": True, "stream_options": {"include_usage": True}}
    translator = call.stream_translator(group)
    usage = None
    async for chunk in stream(dep, request, timeout=timeout):
        if not chunk.get("choices") and chunk.get("usage") is not None:
            usage = chunk["usage"]
        for event in translator.feed(chunk):
            yield {"event": event}
    for event in translator.finish():
        yield {"event": event}
    yield {"usage": usage}


def mock_chat(text: str) -> ChatFn:
    async def chat(_dep: Any, request: dict, *, timeout: float) -> dict:
        return mock_switches.completion(request, text)
    return chat


def mock_stream(text: str) -> StreamFn:
    def stream(_dep: Any, request: dict, *, timeout: float) -> AsyncIterator[dict]:
        return mock_switches.chunks(request, text)
    return stream


class GeminiCall(NativeCall):
    def estimate_request(self) -> dict:
        out = g2o.to_openai(self.body, group=self.group, strict=False)
        n = ((self.body.get("generationConfig") or {}).get("candidateCount"))
        if isinstance(n, int) and n > 1:
            out["n"] = n  # the estimate covers every candidate the deployment may produce
        return out

    def to_openai(self, dep: Any, group: str) -> dict:
        return g2o.to_openai(self.body, group=group, strict=True, drop=self.drop(dep))

    def from_openai(self, resp: dict, group: str) -> dict:
        return g2o.from_openai(resp, group=group)

    def stream_translator(self, group: str) -> g2o.GeminiStreamFromOpenAI:
        return g2o.GeminiStreamFromOpenAI(group=group)
