"""database_url end to end: the real CLI, the openai client, PostgreSQL (a schema of its own on the
shared server) and a Redis of the test's own that is killed and restarted EMPTY."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import httpx
import openai
import pytest
import redis

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config
from tests.fakes.server import free_port
from tests.service.record.conftest import PG_URL, run_sql

MASTER = "sk-master-db-test-0123456789"
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")  # CI installs it


class OwnRedis:
    """A redis-server on a free port without persistence: a restart really loses everything."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def own_redis():
    r = OwnRedis()
    r.start()
    yield r
    r.kill()


@pytest.fixture
def pg_schema():
    name = f"gg_e2e_{uuid.uuid4().hex[:12]}"
    run_sql(f"CREATE SCHEMA {name}")
    yield name
    run_sql(f"DROP SCHEMA {name} CASCADE")


def admin(gw, path, body=None, method="POST", **params):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, params=params,
                      headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


def test_keys_and_spend_survive_redis_restarted_empty(fake_gemini, tmp_path, own_redis, pg_schema):
    db = f"{PG_URL}?search_path={pg_schema}"
    cfg = write_config(tmp_path, gemini_config(fake_gemini.base_url, master_key=MASTER, database_url=db,
                                               redis_url=own_redis.url))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        key = admin(gw, "/key/generate", {"max_budget": 1.0, "key_alias": "durable", "user_id": "ann"})["key"]
        client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)
        raw = client.chat.completions.with_raw_response.create(
            model="flash", messages=[{"role": "user", "content": "hello db"}], max_tokens=10, user="end-user-7",
            extra_body={"metadata": {"tags": ["nightly"]}})
        rid, cost = raw.headers["x-gemgate-request-id"], float(raw.headers["x-gemgate-response-cost"])
        assert cost > 0
        rows = wait_for(lambda: admin(gw, "/spend/logs", method="GET", request_id=rid))
        assert len(rows) == 1, rows
        row = rows[0]
        assert row["spend"] == pytest.approx(cost, abs=1e-6) and row["model_group"] == "flash"
        assert row["user"] == "ann" and row["end_user"] == "end-user-7" and row["request_tags"] == ["nightly"]
        assert row["prompt_tokens"] > 0 and row["call_type"] == "chat" and row["status"] == "success"
        assert row["metadata"]["user_api_key_alias"] == "durable" and key not in str(row)

        # Redis dies and comes back empty (what the old compose file did on every restart)
        own_redis.kill()
        own_redis.start()
        raw2 = client.chat.completions.with_raw_response.create(
            model="flash", messages=[{"role": "user", "content": "still here?"}], max_tokens=10)
        assert raw2.http_response.status_code == 200  # the key made before the loss works after it
        cost2 = float(raw2.headers["x-gemgate-response-cost"])
        spent = wait_for(lambda: (s := admin(gw, "/key/info", method="GET", key=key)["info"]["spend"])
                         and s == pytest.approx(cost + cost2, abs=1e-6) and s)
        assert spent == pytest.approx(cost + cost2, abs=1e-6)  # spend continued from where it was
        assert "restored 1 keys" in gw.log()
        assert "Redis has no persistence" not in gw.log()
    finally:
        assert gw.stop() == 0, gw.log()


def test_redis_only_warns_what_a_restart_loses(fake_gemini, tmp_path, own_redis):
    cfg = write_config(tmp_path, gemini_config(fake_gemini.base_url, master_key=MASTER, redis_url=own_redis.url))
    gw = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY, "DATABASE_URL": ""})
    try:
        assert wait_for(lambda: "Redis has no persistence" in gw.log(), 5)
        assert "loses every virtual key" in gw.log()
        r = httpx.get(f"{gw.base_url}/spend/logs", headers={"Authorization": f"Bearer {MASTER}"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "no_database"
    finally:
        assert gw.stop() == 0, gw.log()
