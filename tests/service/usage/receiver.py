"""A real local HTTP receiver for sink tests: records every request (method, path, headers, body)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        end = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < end:
            await asyncio.sleep(0.01)
        return self.requests


def start_receiver(status: int = 200, delay: float = 0.0) -> Receiver:
    rec = Receiver(status=status, delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if rec.delay:
                time.sleep(rec.delay)
            rec.requests.append(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(rec.status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):  # quiet
            pass

    rec.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.server.daemon_threads = True
    threading.Thread(target=rec.server.serve_forever, daemon=True).start()
    return rec
