"""Redis (hot path) kept consistent with the system of record (PostgreSQL).

`DurableStore` wraps the RedisStore the ledger uses and changes only what touches durable state:
- document writes (keys, teams, users) go to the record first, then to Redis; the record being
  unreachable refuses the write (GatewayError UNAVAILABLE -> HTTP 503), nothing is half-written
  into Redis only;
- a settlement's spend-log facts are staged in Redis and taken into the outbox by the charge
  script (budget_service/outbox.py); a settlement whose reservation Redis no longer has (Redis was
  emptied while the request ran) is still charged ("unreserved") to the key/team/user counters and
  the outbox;
- Redis emptied or replaced (the `P record:synced` marker is gone) -> `rebuild()`: the outbox's
  in-memory rows are written first, then current-period spend counters, lifetime totals, teams,
  users and finally keys are restored from the record, so a key that works again already has its
  spend; triggered by a key lookup miss, every write, and a watcher every `watch_interval`;
- lifetime spend views (stat/global) are answered from the spend log.
Everything else (admission, reservations, rate windows) is plain Redis, untouched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone

from budget_service.durations import parse_duration
from budget_service.outbox import Outbox
from budget_service.record.base import KINDS, RecordStore
from budget_service.redis_store import RedisStore
from gemgate.errors import ErrorKind, GatewayError

log = logging.getLogger("gemgate.budget.durable")

LOG_TTL = 3600  # staged spend-log facts of a settlement live this long at most


def period_start(duration: str | None, now: float) -> float | None:
    """Start of the budget period containing `now` (None: no period, i.e. all time)."""
    if not duration:
        return None
    p = parse_duration(duration)
    pid = p.period_id(now)
    if p.unit == "mo":
        months = pid * p.count
        return datetime(1970 + months // 12, months % 12 + 1, 1, tzinfo=timezone.utc).timestamp()
    return float(pid * p.seconds)


def entity_id(kind: str, doc: dict) -> str:
    return (doc.get("id") or doc["token"]) if kind == "key" else doc["id"]


class DurableStore:
    def __init__(self, redis: RedisStore, record: RecordStore, *, outbox: Outbox | None = None,
                 watch_interval: float = 1.0) -> None:
        self.redis = redis
        self.record = record
        self.outbox = outbox or Outbox(redis.r, redis.prefix, record)
        self.watch_interval = watch_interval
        self.spend_key: Callable[[str, str, dict, float], tuple[str, int]] | None = None
        self.proxy_budget: dict | None = None
        self.clock: Callable[[], float] | None = None
        self._rebuild_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self.rebuilds = 0
        self._synced_once = False

    def __getattr__(self, name):  # everything not overridden is the RedisStore's
        return getattr(self.redis, name)

    def bind(self, ledger) -> None:
        """The ledger owns the spend-counter naming and the clock."""
        self.spend_key = ledger.spend_key
        self.clock = ledger.clock
        # litellm_settings.max_budget: the proxy-wide entity every charge counts against
        self.proxy_budget = getattr(ledger, "proxy_budget", None)

    # ---- lifecycle ----
    @property
    def marker(self) -> str:
        return self.redis.k("record:synced")

    async def start(self) -> None:
        """At startup: adopt what a Redis-only gateway left in Redis, or rebuild an empty Redis."""
        await self.redis._do(self.redis.r.set(self.redis.k("outbox:on"), "1"))
        await self.ensure_synced()
        self.start_tasks()

    def start_tasks(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.get_running_loop().create_task(self.outbox.run()),
                           asyncio.get_running_loop().create_task(self._watch())]

    async def stop(self) -> None:
        self.outbox.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.outbox.flush(timeout=5.0)
        except (GatewayError, TimeoutError):
            log.warning("stopping with %d spend rows not yet in the record; they stay in the Redis outbox",
                        len(self.outbox.pending))
        await self.record.close()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                await self.ensure_synced()
            except GatewayError:
                pass  # Redis or PostgreSQL down: try again next time
            except Exception:
                log.exception("record sync check failed")

    # ---- consistency ----
    async def ensure_synced(self) -> None:
        if await self.redis._do(self.redis.r.exists(self.marker)):
            return
        async with self._rebuild_lock:
            if await self.redis._do(self.redis.r.exists(self.marker)):
                return
            # before this process ever synced, documents without the marker are a Redis-only
            # gateway's state -> adopt them; afterwards a missing marker always means Redis lost data
            if not self._synced_once and any([await self.redis.ids(k) for k in KINDS]):
                await self._adopt()
            else:
                await self.rebuild()
            self._synced_once = True

    async def rebuild(self) -> None:
        """Restore Redis from the record (Redis was emptied or replaced)."""
        assert self.spend_key is not None and self.clock is not None, "bind(ledger) first"
        r = self.redis.r
        await self.outbox.flush_memory()  # rows only memory still has: into the record first
        await self.redis._do(r.set(self.redis.k("outbox:on"), "1"))
        now = self.clock()
        docs = {kind: await self.record.all_docs(kind) for kind in KINDS}
        # 1. current-period spend, before any key can be used again
        for kind in KINDS:
            since = {entity_id(kind, d): period_start(d.get("budget_duration"), now) for d in docs[kind]}
            sums = await self.record.spend_since(kind, since) if since else {}
            async with r.pipeline(transaction=False) as p:
                for d in docs[kind]:
                    key, exp = self.spend_key(kind, entity_id(kind, d), d, now)
                    p.set(key, sums.get(entity_id(kind, d), 0), exat=int(exp))
                await self.redis._do(p.execute())
        if self.proxy_budget is not None:  # the proxy-wide budget: every charge of its period
            key, exp = self.spend_key("proxy", "global", self.proxy_budget, now)
            since = period_start(self.proxy_budget.get("budget_duration"), now)
            await self.redis._do(r.set(key, await self.record.total(since), exat=int(exp)))
        # 2. lifetime totals
        async with r.pipeline(transaction=True) as p:
            for kind in ("key", "team", "user", "model"):
                totals = await self.record.totals(kind)
                p.delete(self.redis.k(f"stat:{kind}"))
                if totals:
                    p.hset(self.redis.k(f"stat:{kind}"), mapping=totals)
            p.set(self.redis.k("stat:global"), await self.record.total())
            await self.redis._do(p.execute())
        # 3. documents: teams and users, then keys (a key found means its spend is back)
        for kind in ("team", "user", "key"):
            async with r.pipeline(transaction=False) as p:
                for d in docs[kind]:
                    id_ = d["token"] if kind == "key" else d["id"]
                    p.set(self.redis.k(f"doc:{kind}:{id_}"), json.dumps(d))
                    p.sadd(self.redis.k(f"ids:{kind}"), id_)
                await self.redis._do(p.execute())
        await self.redis._do(r.set(self.marker, "1"))
        self.rebuilds += 1
        (log.warning if any(docs.values()) else log.info)(
            "Redis had no gemgate state: restored %d keys, %d teams, %d users and their spend from the record",
            len(docs["key"]), len(docs["team"]), len(docs["user"]))

    async def _adopt(self) -> None:
        """First start with a database over a Redis-only gateway's data: copy its documents into the
        record (Redis keeps its counters; spend from before the database is not in the log)."""
        n = 0
        for kind in KINDS:
            for d in await self.redis.get_docs(kind, await self.redis.ids(kind)):
                n += await self.record.put_doc(kind, d["token"] if kind == "key" else d["id"], d, create=True)
        await self.redis._do(self.redis.r.set(self.marker, "1"))
        log.warning("copied %d documents from Redis into the record (first start with database_url)", n)

    # ---- documents: the record first ----
    async def get_doc(self, kind: str, id_: str) -> dict | None:
        doc = await self.redis.get_doc(kind, id_)
        if doc is None and not await self.redis._do(self.redis.r.exists(self.marker)):
            await self.ensure_synced()
            doc = await self.redis.get_doc(kind, id_)
        return doc

    async def put_doc(self, kind: str, id_: str, doc: dict, *, create: bool = False) -> bool:
        await self.ensure_synced()
        if not await self.record.put_doc(kind, id_, doc, create=create) and create:
            return False
        await self.redis.put_doc(kind, id_, doc)
        return True

    async def delete_doc(self, kind: str, id_: str) -> bool:
        await self.ensure_synced()
        await self.record.delete_doc(kind, id_)
        return await self.redis.delete_doc(kind, id_)

    # ---- settlements ----
    async def stage_log(self, request_id: str, facts_json: str) -> None:
        """The router's spend-log facts, picked up by the charge script."""
        await self.redis._do(self.redis.r.set(self.redis.k(f"log:{request_id}"), facts_json, ex=LOG_TTL))

    async def settle(self, **kw) -> tuple[bool, int]:
        """RedisStore.settle (same arguments), plus the charge of a reservation Redis lost."""
        # a reservation only exists in a synced Redis, so the common path needs no sync check
        applied, charged = await self.redis.settle(**kw)
        rid = kw["request_id"]
        if applied or await self.redis._do(self.redis.r.exists(self.redis.k(f"done:{rid}"))):
            return applied, charged
        await self.ensure_synced()  # Redis lost it: restore first, so the rebuild cannot overwrite this charge
        return await self._charge_unreserved(kw["now"], rid, max(0, int(kw["cost"])), kw.get("model") or "",
                                             kw["done_ttl"])

    async def _charge_unreserved(self, now: float, rid: str, cost: int, model: str, done_ttl: int) -> tuple[bool, int]:
        """Redis lost this request's reservation (emptied while it ran): charge it anyway."""
        r = self.redis.r
        facts = json.loads(await self.redis._do(r.get(self.redis.k(f"log:{rid}"))) or "{}")
        key = await self.redis.get_doc("key", facts.get("api_key") or "") if facts.get("api_key") else None
        ents: list[tuple[str, str, dict]] = []
        if key is not None:
            ents.append(("key", entity_id("key", key), key))
            for kind in ("team", "user"):
                if key.get(f"{kind}_id"):
                    d = await self.redis.get_doc(kind, key[f"{kind}_id"])
                    if d is not None:
                        ents.append((kind, d["id"], d))
        attrib = {kind: id_ for kind, id_, _ in ents}
        if self.proxy_budget is not None:
            ents.append(("proxy", "global", self.proxy_budget))
        model = model or facts.get("model_group") or ""
        if not await self.redis._do(r.set(self.redis.k(f"done:{rid}"), f"unreserved:{cost}", ex=done_ttl, nx=True)):
            return False, 0  # a concurrent settlement of the same id won
        async with r.pipeline(transaction=True) as p:
            for kind, id_, d in ents:
                skey, exp = self.spend_key(kind, id_, d, now)
                p.incrby(skey, cost)
                p.expireat(skey, int(exp))
                if kind != "proxy":
                    p.hincrby(self.redis.k(f"stat:{kind}"), id_, cost)
            if model:
                p.hincrby(self.redis.k("stat:model"), model, cost)
            p.incrby(self.redis.k("stat:global"), cost)
            p.xadd(self.redis.k("outbox"), {"rid": rid, "cost": cost, "how": "unreserved",
                                             "attrib": json.dumps(attrib), "model": model,
                                             "log": json.dumps(facts) if facts else ""})
            p.delete(self.redis.k(f"log:{rid}"))
            await self.redis._do(p.execute())
        log.warning("request %s settled without a reservation in Redis (Redis lost it); charged %d micro-USD",
                    rid[:64], cost)
        return True, cost

    # ---- lifetime spend views: from the log ----
    async def stat(self, kind: str) -> dict[str, int]:
        try:
            return await self.record.totals(kind)
        except GatewayError:
            return await self.redis.stat(kind)

    async def stat_one(self, kind: str, id_: str) -> int:
        try:
            return (await self.record.spend_since(kind, {id_: None})).get(id_, 0)
        except GatewayError:
            return await self.redis.stat_one(kind, id_)

    async def global_spend(self) -> int:
        try:
            return await self.record.total()
        except GatewayError:
            return await self.redis.global_spend()
