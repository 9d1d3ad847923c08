"""Native Gemini API calls on Gemini deployments (AI Studio and Vertex share this; the providers
give URL, auth and transport): pass-through of Gemini-family calls, and token counting for
translated (Anthropic) calls. Pure body work lives in router_service.native.gemini_passthrough."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import AsyncIterator, Awaitable, Callable

from router_service.native import gemini_passthrough as gp
from router_service.providers import gemini_flow as flow
from router_service.providers import upstream_extras as extras
from router_service.providers.gemini.fetch_images import MediaFetcher

if TYPE_CHECKING:
    from gemgate.config import Deployment

Post = Callable[["Deployment", str, dict, float], Awaitable[dict]]
Events = Callable[["Deployment", str, dict, float], AsyncIterator[dict]]


def passes_through(call) -> bool:
    return call.family == "gemini"


async def unary(post: Post, fetcher: MediaFetcher, dep: Deployment, call, group: str, *, vertex: bool,
                timeout: float) -> dict | None:
    """-> the result, or None when the call is a translated generate (the caller uses via_chat)."""
    lp = dep.litellm_params
    if passes_through(call):
        body = gp.upstream_body(call.body, vertex=vertex, deployment=lp.as_dict, drop=call.drop(dep))
        if call.op == "count_tokens":
            payload = await post(dep, "countTokens", gp.count_body(body, vertex=vertex, upstream_model=lp.upstream_model), timeout)
            return {"body": payload, "usage": None}
        payload = await post(dep, "generateContent", extras.body(dep, body), timeout)
        return {"body": payload, "usage": gp.openai_usage(payload)}
    if call.op == "count_tokens":
        body = await flow.chat_body(fetcher, dep, call.to_openai(dep, group), vertex=vertex)
        payload = await post(dep, "countTokens", gp.count_body(body, vertex=vertex, upstream_model=lp.upstream_model), timeout)
        return {"body": {"input_tokens": int(payload.get("totalTokens") or 0)}, "usage": None}
    return None


async def stream(events: Events, dep: Deployment, call, *, vertex: bool, timeout: float) -> AsyncIterator[dict]:
    body = gp.upstream_body(call.body, vertex=vertex, deployment=dep.litellm_params.as_dict, drop=call.drop(dep))
    tracker = gp.GeminiEventTracker()
    async for payload in events(dep, "streamGenerateContent", extras.body(dep, body), timeout):
        yield {"event": tracker.see(payload)}
    tracker.finish()
    yield {"usage": tracker.openai_usage()}
