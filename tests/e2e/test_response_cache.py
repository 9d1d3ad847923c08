"""The response cache end to end (litellm_settings.cache on real Redis): the real CLI, the openai
client, the strict fake Gemini (its recorded requests count upstream calls), PostgreSQL for the
spend log, and a Redis of the test's own that is killed for the outage path."""

from __future__ import annotations

import time
import uuid

import httpx
import openai
import pytest
import redis

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config
from tests.e2e.test_readiness import OwnRedis
from tests.service.record.conftest import PG_URL, run_sql

MASTER = "sk-master-cache-test-0123456789-abcdefghij"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cache")
    schema = f"gg_cache_{uuid.uuid4().hex[:12]}"
    run_sql(f"CREATE SCHEMA {schema}")
    cfg = gemini_config(fake_gemini_server.base_url, master_key=MASTER,
                        database_url=f"{PG_URL}?search_path={schema}")
    cfg["litellm_settings"] = {"cache": True, "cache_params": {"type": "redis", "ttl": 600}}
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gateway
    try:
        assert gateway.stop() == 0, gateway.log()
    finally:
        run_sql(f"DROP SCHEMA {schema} CASCADE")


def admin(gw, path, body=None, method="POST", **params):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, params=params,
                      headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def new_key(gw, **fields) -> str:
    return admin(gw, "/key/generate", fields)["key"]


def client(gw, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)


def upstream_calls(fake, op="generateContent") -> int:
    return sum(1 for r in fake.requests if r["op"] == op)


def ask(c, text, **extra):
    return c.chat.completions.with_raw_response.create(
        model="flash", messages=[{"role": "user", "content": text}], max_tokens=20, temperature=0.7, **extra)


def entries(gw, pattern: str | None = None) -> list[bytes]:
    return list(redis.Redis.from_url(REDIS_URL).scan_iter(match=pattern or f"{gw.redis_prefix}cache:*", count=1000))


def wait_cached(gw, count: int, pattern: str | None = None, timeout: float = 5.0) -> list[bytes]:
    """The cache writes in the background after answering: wait until `count` entries exist."""
    deadline = time.monotonic() + timeout
    while True:
        keys = entries(gw, pattern)
        if len(keys) >= count or time.monotonic() > deadline:
            return keys
        time.sleep(0.02)


def settled_spend(gw, key, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        spend = admin(gw, "/key/info", method="GET", key=key)["info"]["spend"]
        if spend == pytest.approx(expected, abs=1e-9) or time.monotonic() > deadline:
            return spend
        time.sleep(0.05)


def test_hit_is_served_without_upstream_free_and_marked(gw, fake_gemini):
    key = new_key(gw, max_budget=1.0, key_alias="cached")
    c = client(gw, key)
    before = len(entries(gw))
    first = ask(c, "cache me please")
    cost = float(first.headers["x-gemgate-response-cost"])
    assert cost > 0 and "x-gemgate-cache-hit" not in first.headers and upstream_calls(fake_gemini) == 1
    assert len(wait_cached(gw, before + 1)) == before + 1
    second = ask(c, "cache me please")
    assert upstream_calls(fake_gemini) == 1  # answered from the cache
    assert second.headers["x-gemgate-cache-hit"] == "true"
    assert len(second.headers["x-litellm-cache-key"]) == 64
    assert second.headers["x-gemgate-response-cost"] == "0.000000"
    assert second.parse().model_dump() == first.parse().model_dump()
    assert settled_spend(gw, key, cost) == pytest.approx(cost, abs=1e-9)  # the hit added nothing
    # a hit reserves nothing: with one micro-dollar of headroom it is still served, a miss is not
    admin(gw, "/key/update", {"key": key, "max_budget": cost + 1e-6})
    assert ask(c, "cache me please").headers["x-gemgate-cache-hit"] == "true"
    with pytest.raises(openai.RateLimitError) as exc:
        ask(c, "cache me please", extra_body={"cache": {"no-cache": True}})
    assert exc.value.body["type"] == "budget_exceeded" and upstream_calls(fake_gemini) == 1
    admin(gw, "/key/update", {"key": key, "max_budget": 1.0})
    rid = second.headers["x-gemgate-request-id"]
    deadline = time.monotonic() + 10
    while not (rows := admin(gw, "/spend/logs", method="GET", request_id=rid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rows) == 1 and rows[0]["cache_hit"] == "True" and rows[0]["spend"] == 0, rows
    assert rows[0]["metadata"]["cache_hit"] is True and key not in str(rows)
    first_row = admin(gw, "/spend/logs", method="GET", request_id=first.headers["x-gemgate-request-id"])
    assert first_row[0]["cache_hit"] == "False" and first_row[0]["spend"] == pytest.approx(cost, abs=1e-9)
    # streams bypass the cache: both go upstream
    for _ in range(2):
        stream = c.chat.completions.create(model="flash", messages=[{"role": "user", "content": "cache me please"}],
                                           max_tokens=20, temperature=0.7, stream=True)
        assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert upstream_calls(fake_gemini, "streamGenerateContent") == 2


def test_no_cache_no_store_ttl_and_s_maxage(gw, fake_gemini):
    c = client(gw, new_key(gw))
    n = len(entries(gw))
    ask(c, "controls one")
    wait_cached(gw, n + 1)
    assert ask(c, "controls one").headers.get("x-gemgate-cache-hit") == "true"
    fresh = ask(c, "controls one", extra_body={"cache": {"no-cache": True}})
    assert "x-gemgate-cache-hit" not in fresh.headers and upstream_calls(fake_gemini) == 2
    # no-store: answered upstream and not written, so the next identical request goes upstream too
    n = len(entries(gw))
    ask(c, "controls two", extra_body={"cache": {"no-store": True}})
    time.sleep(0.3)
    assert len(entries(gw)) == n and upstream_calls(fake_gemini) == 3
    assert "x-gemgate-cache-hit" not in ask(c, "controls two").headers and upstream_calls(fake_gemini) == 4
    wait_cached(gw, n + 1)
    # ttl: the entry lives that long
    ns = f"{gw.redis_prefix}ttl-ns"
    ask(c, "controls three", extra_body={"cache": {"ttl": 1, "namespace": ns}})
    (entry,) = wait_cached(gw, 1, f"{ns}:*")
    assert 0 < redis.Redis.from_url(REDIS_URL).pttl(entry) <= 1000
    assert ask(c, "controls three", extra_body={"cache": {"namespace": ns}}).headers["x-gemgate-cache-hit"] == "true"
    assert upstream_calls(fake_gemini) == 5
    time.sleep(1.2)
    assert "x-gemgate-cache-hit" not in ask(c, "controls three", extra_body={"cache": {"namespace": ns}}).headers
    assert upstream_calls(fake_gemini) == 6
    # another namespace does not see it; s-maxage refuses an entry older than it
    assert "x-gemgate-cache-hit" not in ask(c, "controls one", extra_body={"cache": {"namespace": ns}}).headers
    time.sleep(0.5)
    old = ask(c, "controls one", extra_body={"cache": {"s-maxage": 0.2}})
    assert "x-gemgate-cache-hit" not in old.headers and upstream_calls(fake_gemini) == 8
    with pytest.raises(openai.BadRequestError) as exc:
        ask(c, "controls one", extra_body={"cache": {"ttl": "soon"}})
    assert exc.value.body["param"] == "cache.ttl" and upstream_calls(fake_gemini) == 8


def test_hits_obey_allowlists_and_tenants(gw, fake_gemini):
    owner = new_key(gw, models=["flash"])
    c = client(gw, owner)
    n = len(entries(gw))
    ask(c, "allowlisted answer")
    wait_cached(gw, n + 1)
    assert ask(c, "allowlisted answer").headers["x-gemgate-cache-hit"] == "true"
    # another key never reads this key's cached answer
    other = client(gw, new_key(gw))
    assert "x-gemgate-cache-hit" not in ask(other, "allowlisted answer").headers
    assert upstream_calls(fake_gemini) == 2
    # the key loses the model: its own cached answer is refused like any request
    admin(gw, "/key/update", {"key": owner, "models": ["g3"]})
    with pytest.raises(openai.PermissionDeniedError) as exc:
        ask(c, "allowlisted answer")
    assert exc.value.body["code"] == "model_not_allowed"
    # a blocked key neither
    admin(gw, "/key/update", {"key": owner, "models": ["flash"]})
    admin(gw, "/key/block", {"key": owner})
    with pytest.raises(openai.APIStatusError) as exc:
        ask(c, "allowlisted answer")
    assert exc.value.status_code in (401, 403)
    with pytest.raises(openai.AuthenticationError):
        ask(client(gw, "sk-not-a-key"), "allowlisted answer")
    assert upstream_calls(fake_gemini) == 2


def test_embeddings_are_cached(gw, fake_gemini):
    c = client(gw, new_key(gw))
    n = len(entries(gw))
    first = c.embeddings.with_raw_response.create(model="embed", input=["cache this vector"])
    wait_cached(gw, n + 1)
    second = c.embeddings.with_raw_response.create(model="embed", input=["cache this vector"])
    assert second.headers["x-gemgate-cache-hit"] == "true"
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert len(fake_gemini.requests) == 1


def test_cache_redis_outage_serves_requests(fake_gemini, tmp_path):
    own = OwnRedis(tmp_path)
    own.start()
    cfg = gemini_config(fake_gemini.base_url, master_key=MASTER)
    cfg["litellm_settings"] = {"cache": True, "cache_params": {"type": "redis", "host": "127.0.0.1",
                                                               "port": own.port, "namespace": "outage"}}
    gw = start_gateway(write_config(tmp_path, cfg), tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        c = client(gw, new_key(gw))
        ask(c, "outage question")
        r = redis.Redis(port=own.port)
        deadline = time.monotonic() + 5
        while not list(r.scan_iter(match="outage:*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ask(c, "outage question").headers["x-gemgate-cache-hit"] == "true"
        own.stop()
        for i in range(3):  # cache down: served upstream, never an error
            t0 = time.monotonic()
            resp = ask(c, "outage question")
            assert resp.status_code == 200 and "x-gemgate-cache-hit" not in resp.headers
            assert time.monotonic() - t0 < 3.0
        assert upstream_calls(fake_gemini) == 4
        assert "response cache: Redis" in gw.log()
    finally:
        own.stop()
        assert gw.stop() == 0, gw.log()


def test_without_authentication_callers_share_one_scope(fake_gemini, tmp_path):
    ns = f"gg-cache-shared-{uuid.uuid4().hex[:8]}"
    cfg = gemini_config(fake_gemini.base_url)  # no master_key: loopback only, no tenants
    cfg["litellm_settings"] = {"cache": True, "cache_params": {"mode": "default_off", "namespace": ns}}
    gw = start_gateway(write_config(tmp_path, cfg), tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY})
    try:
        opt_in = {"cache": {"use-cache": True}}
        assert "x-gemgate-cache-hit" not in ask(client(gw, "sk-anything-1"), "shared", extra_body=opt_in).headers
        assert len(wait_cached(gw, 1, f"{ns}:*")) == 1
        # another key string (no authentication: nobody is anyone) gets the same entry
        hit = ask(client(gw, "sk-anything-2"), "shared", extra_body=opt_in)
        assert hit.headers["x-gemgate-cache-hit"] == "true" and upstream_calls(fake_gemini) == 1
        # default_off: a request that does not opt in never uses the cache
        assert "x-gemgate-cache-hit" not in ask(client(gw, "sk-anything-2"), "shared").headers
        assert upstream_calls(fake_gemini) == 2
    finally:
        r = redis.Redis.from_url(REDIS_URL)
        for k in r.scan_iter(match=f"{ns}:*"):
            r.delete(k)
        assert gw.stop() == 0, gw.log()
