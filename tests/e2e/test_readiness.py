"""Issue 10 item 10: /health/readiness is 503 while what keyed requests need (budget_service, Redis)
is unreachable, and healthy again once it is back. Uses its own redis-server on a free port."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
import redis

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.server import free_port

MASTER = "sk-readiness-test-0123456789-abcdefghijklmno"


class OwnRedis:
    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def wait_for(gw, status: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{gw.base_url}/health/readiness", timeout=5)
        if r.status_code == status:
            return r.json()
        assert time.monotonic() < deadline, f"readiness stayed {r.status_code}: {r.text}"
        time.sleep(0.1)


def chat(gw) -> httpx.Response:
    return httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER}"},
                      json={"model": "flash", "messages": [{"role": "user", "content": "hi"}]}, timeout=15)


@pytest.fixture
def own_redis(tmp_path):
    r = OwnRedis(tmp_path)
    r.start()
    yield r
    r.stop()


def test_readiness_follows_redis(fake_gemini_server, tmp_path, own_redis):
    cfg = gemini_config(fake_gemini_server.base_url, master_key=MASTER, redis_url=own_redis.url, budget_deadline=0.5)
    gw = start_gateway(write_config(tmp_path, cfg), tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        assert wait_for(gw, 200) == {"status": "healthy", "router_service": "healthy", "budget_service": "healthy"}
        assert chat(gw).status_code == 200
        own_redis.stop()
        body = wait_for(gw, 503, timeout=10)
        assert body["status"] == "unhealthy" and body["budget_service"] != "healthy"
        assert chat(gw).status_code == 503  # and indeed keyed requests cannot be served
        own_redis.start()  # same port
        wait_for(gw, 200, timeout=15)
        assert chat(gw).status_code == 200
        assert gw.proc.poll() is None
    finally:
        assert gw.stop() == 0, gw.log()
