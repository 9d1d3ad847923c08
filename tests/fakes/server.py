"""Run an ASGI app with uvicorn in a background thread on a free port (tests only)."""

from __future__ import annotations

import socket
from contextlib import contextmanager
import threading
import time
from dataclasses import dataclass

import uvicorn

from gemgate.ports import free_port  # noqa: F401  (re-exported for the tests)


@dataclass
class ServerHandle:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run_in_thread(app) -> ServerHandle:
    """Start `app` on 127.0.0.1:<free port>; returns a handle with `.base_url` and `.stop()`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", loop="asyncio", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    return ServerHandle(f"http://127.0.0.1:{port}", server, thread)


@contextmanager
def serving(fake):
    """Run a fake's ASGI `app` in a thread for the duration; sets `fake.base_url`."""
    handle = run_in_thread(fake.app)
    fake.base_url = handle.base_url
    try:
        yield fake
    finally:
        handle.stop()
