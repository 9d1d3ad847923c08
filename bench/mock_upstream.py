"""A fast mock Gemini upstream on raw asyncio HTTP/1.1 (keep-alive, no framework overhead).

POST .../models/{m}:generateContent          -> one GenerateContentResponse after `latency` seconds
POST .../models/{m}:streamGenerateContent?alt=sse -> `chunks` SSE events, the first after `latency`,
                                                 then one every `chunk_interval` seconds
POST .../models/{m}:embedContent             -> {embedding:{values}}
Run standalone: python -m bench.mock_upstream --port P [--latency S --chunks N --chunk-interval S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass


@dataclass
class MockSettings:
    latency: float = 0.0
    chunks: int = 5
    chunk_interval: float = 0.0
    text: str = "hello"


def _usage(n_chunks: int) -> dict:
    return {"promptTokenCount": 8, "candidatesTokenCount": n_chunks, "totalTokenCount": 8 + n_chunks}


def unary_body(model: str, s: MockSettings) -> bytes:
    return json.dumps({
        "candidates": [{"content": {"role": "model", "parts": [{"text": s.text * max(1, s.chunks)}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": _usage(s.chunks),
        "modelVersion": model,
        "responseId": "mock-1",
    }).encode()


def sse_event(model: str, s: MockSettings, i: int) -> bytes:
    last = i == s.chunks - 1
    cand = {"content": {"role": "model", "parts": [{"text": s.text}]}, "index": 0}
    ev: dict = {"candidates": [cand], "modelVersion": model, "responseId": "mock-1"}
    if last:
        cand["finishReason"] = "STOP"
        ev["usageMetadata"] = _usage(s.chunks)
    return b"data: " + json.dumps(ev).encode() + b"\r\n\r\n"


class MockGemini:
    def __init__(self, settings: MockSettings | None = None) -> None:
        self.settings = settings or MockSettings()
        self.server: asyncio.base_events.Server | None = None
        self.requests = 0

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> "MockGemini":
        self.server = await asyncio.start_server(self._conn, host, port, backlog=1024)
        return self

    async def close(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for ln in lines[1:]:
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length") or 0)
                if n:
                    await reader.readexactly(n)
                self.requests += 1
                await self._respond(method, target, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _respond(self, method: str, target: str, w: asyncio.StreamWriter) -> None:
        s = self.settings
        path = target.split("?", 1)[0]
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        if method != "POST" or ":" not in path:
            body = b'{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}'
            w.write(b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode() + b"\r\n\r\n" + body)
            await w.drain()
            return
        if s.latency:
            await asyncio.sleep(s.latency)
        if path.endswith(":streamGenerateContent"):
            w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for i in range(s.chunks):
                if i and s.chunk_interval:
                    await asyncio.sleep(s.chunk_interval)
                ev = sse_event(model, s, i)
                w.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
                await w.drain()
            w.write(b"0\r\n\r\n")
        else:
            if path.endswith(":embedContent"):
                body = json.dumps({"embedding": {"values": [0.1, 0.2, 0.3]}}).encode()
            else:
                body = unary_body(model, s)
            w.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode() + b"\r\n\r\n" + body)
        await w.drain()


async def _serve(args: argparse.Namespace) -> None:
    mock = await MockGemini(MockSettings(args.latency, args.chunks, args.chunk_interval)).start(args.host, args.port)
    print(f"mock gemini listening on {args.host}:{mock.port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--chunk-interval", type=float, default=0.0)
    args = ap.parse_args(argv)
    try:
        import uvloop  # type: ignore
        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
