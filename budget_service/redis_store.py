"""Redis persistence for budget_service: JSON documents (keys, teams, users) and the two Lua
scripts that make every admission and settlement atomic.

Layout (P = key prefix, default "gemgate:"):
  P doc:{kind}:{id}          JSON document (kind = key | team | user; key id = sha256 hex)
  P ids:{kind}               set of ids
  P spend:{kind}:{id}:{dur}:{period}   spend in micro-USD in one budget period (period id in the key)
  P out:{kind}:{id}          micro-USD reserved by in-flight requests
  P rpm|tpm:{kind}:{id}:{minute}       fixed one-minute windows
  P par:{kind}:{id}          in-flight requests
  P res:{request_id}         reservation record (hash); P resz: zset request_id -> deadline
  P done:{request_id}        settled marker (idempotency), expires after done_ttl
  P stat:{key|team|user|model} hashes of lifetime spend; P stat:global lifetime total
  P outbox                   stream of charges for the system of record (only while P outbox:on
                             exists, i.e. database_url is set; see budget_service/outbox.py);
                             P log:{request_id} the router's spend-log facts, read by the charge

Reservation expiry: a reservation whose deadline passed (its router crashed or never settled) is
swept by the next Reserve/Settle/Sweep script: the FULL reserved amount is charged as spent, its
parallel slot released and its request id marked done ("expired"), so a late Settle is a no-op.
Time always comes from the caller (ARGV), so the clock is injectable.

Redis errors and timeouts become GatewayError(UNAVAILABLE) within `deadline` seconds.
Keys are built inside the scripts from the prefix: single-node Redis only (not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gemgate.errors import ErrorKind, GatewayError

T = TypeVar("T")

_LIB = r"""
local function charge(P, rid, cost, tokens, model, how, done_ttl)
  local rk = P .. 'res:' .. rid
  local r = redis.call('HMGET', rk, 'amount', 'tokens', 'ents', 'attrib', 'model')
  local amount = tonumber(r[1]) or 0
  local rtokens = tonumber(r[2]) or 0
  local ents = cjson.decode(r[3] or '[]')
  local at = cjson.decode(r[4] or '{}')
  if model == nil or model == '' then model = r[5] or '' end
  if cost < 0 then cost = 0 end
  for _, e in ipairs(ents) do
    if cost > 0 then
      redis.call('INCRBY', e[1], cost)
      redis.call('EXPIREAT', e[1], e[5])
    end
    redis.call('DECRBY', e[2], amount)
    if e[3] ~= '' and tokens >= 0 and redis.call('EXISTS', e[3]) == 1 then
      redis.call('INCRBY', e[3], tokens - rtokens)
    end
    if e[4] ~= '' then redis.call('DECR', e[4]) end
  end
  if cost > 0 then
    for _, kind in ipairs({'key', 'team', 'user'}) do
      if at[kind] and at[kind] ~= '' then redis.call('HINCRBY', P .. 'stat:' .. kind, at[kind], cost) end
    end
    if model ~= '' then redis.call('HINCRBY', P .. 'stat:model', model, cost) end
    redis.call('INCRBY', P .. 'stat:global', cost)
  end
  redis.call('SET', P .. 'done:' .. rid, how .. ':' .. cost, 'EX', done_ttl)
  -- system of record (budget_service/outbox.py): the charge joins the outbox in the same script
  if redis.call('EXISTS', P .. 'outbox:on') == 1 then
    redis.call('XADD', P .. 'outbox', '*', 'rid', rid, 'cost', cost, 'how', how, 'attrib', r[4] or '{}',
      'model', model, 'log', redis.call('GET', P .. 'log:' .. rid) or '')
    redis.call('DEL', P .. 'log:' .. rid)
  end
  redis.call('DEL', rk)
  redis.call('ZREM', P .. 'resz', rid)
  return cost
end

local function sweep(P, now, done_ttl)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'resz', '-inf', now, 'LIMIT', 0, 200)
  for _, rid in ipairs(ids) do
    local amount = redis.call('HGET', P .. 'res:' .. rid, 'amount')
    if amount then
      charge(P, rid, tonumber(amount), -1, '', 'expired', done_ttl)
    else
      redis.call('ZREM', P .. 'resz', rid)
    end
  end
  return #ids
end
"""

# ARGV: P now rid amount tokens deadline done_ttl model attrib n, then n x 12 entity fields:
#   name spend_key spend_expireat out_key budget rpm_key rpm tpm_key tpm par_key par window_expireat
# (limit -1 = none; '' key = not tracked). Returns {1, reserved} or {0, entity_index, reason, used, limit}.
RESERVE = _LIB + r"""
local P, now, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local amount, tokens, deadline = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local done_ttl, model, attrib, n = tonumber(ARGV[7]), ARGV[8], ARGV[9], tonumber(ARGV[10])
sweep(P, now, done_ttl)
local rk = P .. 'res:' .. rid
if redis.call('EXISTS', rk) == 1 then return {1, tonumber(redis.call('HGET', rk, 'amount'))} end
if redis.call('EXISTS', P .. 'done:' .. rid) == 1 then return {0, -1, 'duplicate', 0, 0} end
local function num(k) if k == '' then return 0 end return tonumber(redis.call('GET', k) or '0') end
for i = 0, n - 1 do
  local o = 10 + i * 12
  local budget, rpm, tpm, par = tonumber(ARGV[o + 5]), tonumber(ARGV[o + 7]), tonumber(ARGV[o + 9]), tonumber(ARGV[o + 11])
  if budget >= 0 then
    local used = num(ARGV[o + 2]) + num(ARGV[o + 4])
    if used >= budget or used + amount > budget then return {0, i, 'budget', used, budget} end
  end
  if rpm >= 0 then
    local c = num(ARGV[o + 6])
    if c + 1 > rpm then return {0, i, 'rpm', c, rpm} end
  end
  if tpm >= 0 then
    local c = num(ARGV[o + 8])
    if c + tokens > tpm then return {0, i, 'tpm', c, tpm} end
  end
  if par >= 0 then
    local c = num(ARGV[o + 10])
    if c + 1 > par then return {0, i, 'parallel', c, par} end
  end
end
local ents = {}
for i = 0, n - 1 do
  local o = 10 + i * 12
  local win = tonumber(ARGV[o + 12])
  redis.call('INCRBY', ARGV[o + 4], amount)
  if ARGV[o + 6] ~= '' then redis.call('INCR', ARGV[o + 6]); redis.call('EXPIREAT', ARGV[o + 6], win) end
  if ARGV[o + 8] ~= '' then redis.call('INCRBY', ARGV[o + 8], tokens); redis.call('EXPIREAT', ARGV[o + 8], win) end
  if ARGV[o + 10] ~= '' then redis.call('INCR', ARGV[o + 10]) end
  table.insert(ents, {ARGV[o + 2], ARGV[o + 4], ARGV[o + 8], ARGV[o + 10], tonumber(ARGV[o + 3])})
end
redis.call('HSET', rk, 'amount', amount, 'tokens', tokens, 'model', model, 'deadline', deadline,
  'attrib', attrib, 'ents', cjson.encode(ents))
redis.call('ZADD', P .. 'resz', deadline, rid)
return {1, amount}
"""

# ARGV: P now rid cost tokens model done_ttl how. Returns {applied(0/1), charged}.
SETTLE = _LIB + r"""
local P, now, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local cost, tokens, model, done_ttl, how = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8]
sweep(P, now, done_ttl)
if redis.call('EXISTS', P .. 'done:' .. rid) == 1 then return {0, 0} end
if redis.call('EXISTS', P .. 'res:' .. rid) == 0 then return {0, -1} end
return {1, charge(P, rid, cost, tokens, model, how, done_ttl)}
"""

SWEEP = _LIB + r"""
return sweep(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
"""


@dataclass(frozen=True)
class EntityArgs:
    """One budgeted entity (key, team or user) as the Reserve script sees it."""

    name: str
    spend_key: str
    spend_expireat: int
    out_key: str
    budget: int = -1
    rpm_key: str = ""
    rpm: int = -1
    tpm_key: str = ""
    tpm: int = -1
    par_key: str = ""
    par: int = -1
    window_expireat: int = 0

    def argv(self) -> list[Any]:
        return [self.name, self.spend_key, self.spend_expireat, self.out_key, self.budget, self.rpm_key,
                self.rpm, self.tpm_key, self.tpm, self.par_key, self.par, self.window_expireat]


@dataclass(frozen=True)
class ReserveResult:
    ok: bool
    reserved: int = 0
    entity: int = -1
    reason: str = ""
    used: int = 0
    limit: int = 0


class RedisStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "gemgate:", deadline: float = 2.0) -> None:
        self.r = client
        self.prefix = prefix
        self.deadline = deadline
        self._reserve = client.register_script(RESERVE)
        self._settle = client.register_script(SETTLE)
        self._sweep = client.register_script(SWEEP)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "gemgate:", deadline: float = 2.0) -> "RedisStore":
        # one immediate retry on a dropped connection (Redis restarted: the pooled sockets are stale);
        # safe because every script is idempotent by request id
        client = aioredis.from_url(
            url, decode_responses=True, socket_timeout=deadline, socket_connect_timeout=deadline,
            health_check_interval=30, retry=Retry(NoBackoff(), 1),
            retry_on_error=[redis.exceptions.ConnectionError],
        )
        return cls(client, prefix=prefix, deadline=deadline)

    def k(self, name: str) -> str:
        return self.prefix + name

    async def _do(self, aw: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(aw, self.deadline)
        except (asyncio.TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            raise GatewayError(
                ErrorKind.UNAVAILABLE, "budget store (Redis) is unavailable; request not admitted", retry_after=1.0
            ) from None

    async def ping(self) -> bool:
        return bool(await self._do(self.r.ping()))

    async def close(self) -> None:
        await self.r.aclose()

    # ---- documents ----
    async def get_doc(self, kind: str, id_: str) -> dict | None:
        raw = await self._do(self.r.get(self.k(f"doc:{kind}:{id_}")))
        return json.loads(raw) if raw else None

    async def get_docs(self, kind: str, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        raws = await self._do(self.r.mget([self.k(f"doc:{kind}:{i}") for i in ids]))
        return [json.loads(x) for x in raws if x]

    async def put_doc(self, kind: str, id_: str, doc: dict, *, create: bool = False) -> bool:
        async def go() -> bool:
            async with self.r.pipeline(transaction=True) as p:
                p.set(self.k(f"doc:{kind}:{id_}"), json.dumps(doc), nx=create)
                p.sadd(self.k(f"ids:{kind}"), id_)
                ok, _ = await p.execute()
            return bool(ok)

        return await self._do(go())

    async def delete_doc(self, kind: str, id_: str) -> bool:
        async def go() -> bool:
            async with self.r.pipeline(transaction=True) as p:
                p.delete(self.k(f"doc:{kind}:{id_}"))
                p.srem(self.k(f"ids:{kind}"), id_)
                n, _ = await p.execute()
            return bool(n)

        return await self._do(go())

    async def ids(self, kind: str) -> list[str]:
        return sorted(await self._do(self.r.smembers(self.k(f"ids:{kind}"))))

    # ---- counters ----
    async def get_int(self, key: str) -> int:
        return int(await self._do(self.r.get(key)) or 0)

    async def stat(self, kind: str) -> dict[str, int]:
        raw = await self._do(self.r.hgetall(self.k(f"stat:{kind}")))
        return {k: int(v) for k, v in raw.items()}

    async def stat_one(self, kind: str, id_: str) -> int:
        return int(await self._do(self.r.hget(self.k(f"stat:{kind}"), id_)) or 0)

    async def global_spend(self) -> int:
        return await self.get_int(self.k("stat:global"))

    # ---- scripts ----
    async def reserve(
        self, *, now: float, request_id: str, amount: int, tokens: int, deadline: float, done_ttl: int,
        model: str, attrib: dict[str, str], entities: list[EntityArgs],
    ) -> ReserveResult:
        argv: list[Any] = [self.prefix, now, request_id, int(amount), int(tokens), deadline, done_ttl, model,
                           json.dumps(attrib), len(entities)]
        for e in entities:
            argv.extend(e.argv())
        res = await self._do(self._reserve(keys=[], args=argv))
        if int(res[0]) == 1:
            return ReserveResult(True, reserved=int(res[1]))
        return ReserveResult(False, entity=int(res[1]), reason=str(res[2]), used=int(res[3]), limit=int(res[4]))

    async def settle(
        self, *, now: float, request_id: str, cost: int, tokens: int, model: str, done_ttl: int, how: str
    ) -> tuple[bool, int]:
        argv = [self.prefix, now, request_id, max(0, int(cost)), int(tokens), model, done_ttl, how]
        res = await self._do(self._settle(keys=[], args=argv))
        return bool(int(res[0])), max(0, int(res[1]))

    async def sweep(self, *, now: float, done_ttl: int) -> int:
        return int(await self._do(self._sweep(keys=[], args=[self.prefix, now, done_ttl])))

    async def delete_prefix(self) -> None:
        """Remove every key under this store's prefix (tests only; SCAN + DEL, never FLUSHDB)."""
        async for key in self.r.scan_iter(match=self.prefix + "*", count=500):
            await self.r.delete(key)
