"""The streaming response of every streamed endpoint (chat, legacy completions, Anthropic Messages,
native Gemini, Responses): the body's events come from a gRPC stream whose `cancel` tells the router
when the client goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.responses import StreamingResponse

# what every event stream answers with: no caching, and no buffering by a proxy (nginx) in between
STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventStream(StreamingResponse):
    """A StreamingResponse without Starlette's per-stream task group (for ASGI servers below spec 2.4,
    such as uvicorn, it runs the body in a second task beside a disconnect listener): the events go
    out from the request's own task, the first one at once; one plain task, started after the first
    event, waits for the client's disconnect and then cancels the gRPC call (`on_disconnect`), which
    tells the router and ends the event loop here with CancelledError (answered by returning, as
    Starlette's cancelled body task would). `headers` get STREAM_HEADERS added."""

    def __init__(self, content, on_disconnect: Callable[[], object], *, headers: dict[str, str] | None = None,
                 **kwargs) -> None:
        super().__init__(content, headers={**(headers or {}), **STREAM_HEADERS}, **kwargs)
        self._on_disconnect = on_disconnect
        self._disconnected = False

    async def _watch(self, receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._disconnected = True
        self._on_disconnect()

    async def __call__(self, scope, receive, send) -> None:
        watcher = None
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if watcher is None:
                    watcher = asyncio.get_running_loop().create_task(self._watch(receive))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._disconnected:
                raise
        finally:
            if watcher is not None:
                watcher.cancel()
