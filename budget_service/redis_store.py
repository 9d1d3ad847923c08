"""Redis persistence for budget_service: JSON documents (keys, teams, users) and the Lua
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

  P lease:{router_id}        a live router instance (expires unless renewed by Reserve/Heartbeat)
  P swept:{request_id}       how a reservation was resolved without its router (for a late Settle)

Reservation resolution without a Settle: a router's reservation is due one lease period after it
was made; the sweep (inside every Reserve/Settle/Sweep script) renews it while the router's lease
key exists, and once the lease lapsed (router dead) resolves it: released (charged 0) if its
upstream call never started (no Heartbeat marked it), else charged its FULL reserved amount (an upper
bound of what it can cost). A later Settle of a swept request (its router was alive but cut off)
corrects the charge to the actual cost, exactly once. Dead-router sweeping waits until the store has
been reachable for a grace period (`allow_dead`), so live routers cut off by an outage can renew
first. Reservations without a router are charged in full at their deadline.
Time always comes from the caller (ARGV), so the clock is injectable.

Redis errors and timeouts become GatewayError(UNAVAILABLE) within `deadline` seconds, each saying
what happened (no free pooled connection, no answer in time, unreachable).
Keys are built inside the scripts from the prefix: single-node Redis only (not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from gemgate.errors import ErrorKind, GatewayError
from gemgate.redis_client import NoScriptError, PoolBusy, Redis, RedisAuthError, RedisError

T = TypeVar("T")

_LIB = r"""
local function num(k) if k == nil or k == '' then return 0 end return tonumber(redis.call('GET', k) or '0') end

local function add_stats(P, at, model, cost)
  if cost == 0 then return end
  for _, kind in ipairs({'key', 'team', 'user'}) do
    if at[kind] and at[kind] ~= '' then redis.call('HINCRBY', P .. 'stat:' .. kind, at[kind], cost) end
  end
  if model ~= '' then redis.call('HINCRBY', P .. 'stat:model', model, cost) end
  redis.call('INCRBY', P .. 'stat:global', cost)
end

-- Resolve reservation `rid`: charge `cost`, release its in-flight amount and parallel slot, mark it
-- done. `keep`: it was resolved without its router (swept); remember how, so that a late Settle
-- from that router can correct the charge exactly once.
local function charge(P, rid, cost, tokens, model, how, done_ttl, keep)
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
  add_stats(P, at, model, cost)
  redis.call('SET', P .. 'done:' .. rid, how .. ':' .. cost, 'EX', done_ttl)
  if keep then
    redis.call('HSET', P .. 'swept:' .. rid, 'ents', r[3] or '[]', 'attrib', r[4] or '{}', 'model', model,
      'charged', cost)
    redis.call('EXPIRE', P .. 'swept:' .. rid, done_ttl)
  end
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

-- Due reservations: a live router's (its lease key exists) get another lease period; a dead
-- router's are resolved (only when allow_dead: the store has been reachable long enough for live
-- routers to renew their leases): released if their upstream call never started, else charged in
-- full. Reservations without a router are charged in full at their deadline.
local function sweep(P, now, done_ttl, allow_dead)
  local ids = redis.call('ZRANGEBYSCORE', P .. 'resz', '-inf', now, 'LIMIT', 0, 200)
  local n = 0
  for _, rid in ipairs(ids) do
    local r = redis.call('HMGET', P .. 'res:' .. rid, 'amount', 'router', 'lease', 'started')
    if not r[1] then
      redis.call('ZREM', P .. 'resz', rid)
    elseif r[2] and r[2] ~= '' then
      if redis.call('EXISTS', P .. 'lease:' .. r[2]) == 1 then
        redis.call('ZADD', P .. 'resz', now + (tonumber(r[3]) or 15), rid)
      elseif allow_dead == 1 then
        if r[4] == '1' then
          charge(P, rid, tonumber(r[1]), -1, '', 'expired', done_ttl, true)
        else
          charge(P, rid, 0, -1, '', 'released', done_ttl, true)
        end
        n = n + 1
      end
    else
      charge(P, rid, tonumber(r[1]), -1, '', 'expired', done_ttl, true)
      n = n + 1
    end
  end
  return n
end
"""

# ARGV: P now rid amount tokens deadline done_ttl model attrib router lease extend allow_dead n,
# then n x 12 entity fields:
#   name spend_key spend_expireat out_key budget rpm_key rpm tpm_key tpm par_key par window_expireat
# (limit -1 = none; '' key = not tracked), then nv and nv x (version key, expected value): the
# versions of the documents the admission read (budget_service/doc_cache.py); a mismatch -> 'stale'.
# Returns {1, reserved} or {0, entity_index, reason, used, limit}.
# extend=1 raises the existing reservation of rid (same attribution) to `amount` if the budgets it
# was admitted against have room for the difference; it never lowers it and counts no new request.
RESERVE = _LIB + r"""
local P, now, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local amount, tokens, deadline = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local done_ttl, model, attrib = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local router, lease, extend, allow_dead = ARGV[10], tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])
local n = tonumber(ARGV[14])
-- the document versions the ledger admitted with (its cache): any change since -> 'stale'
local vo = 15 + n * 12
for j = 1, tonumber(ARGV[vo] or '0') do
  if (redis.call('GET', ARGV[vo + 2 * j - 1]) or '0') ~= ARGV[vo + 2 * j] then return {0, -1, 'stale', 0, 0} end
end
if router ~= '' then redis.call('SET', P .. 'lease:' .. router, '1', 'PX', math.floor(lease * 1000)) end
sweep(P, now, done_ttl, allow_dead)
local rk = P .. 'res:' .. rid
if redis.call('EXISTS', rk) == 1 then
  local cur = tonumber(redis.call('HGET', rk, 'amount'))
  if extend ~= '1' then return {1, cur} end
  if redis.call('HGET', rk, 'attrib') ~= attrib then return {0, -1, 'mismatch', 0, 0} end
  if amount <= cur then return {1, cur} end
  local delta = amount - cur
  local ents = cjson.decode(redis.call('HGET', rk, 'ents'))
  for i, e in ipairs(ents) do
    local budget = tonumber(e[6] or -1)
    if budget >= 0 then
      local used = num(e[1]) + num(e[2])
      if used + delta > budget then return {0, i - 1, 'budget', used, budget} end
    end
  end
  local rtokens = tonumber(redis.call('HGET', rk, 'tokens') or '0')
  for _, e in ipairs(ents) do
    redis.call('INCRBY', e[2], delta)
    if e[3] ~= '' and tokens > rtokens and redis.call('EXISTS', e[3]) == 1 then
      redis.call('INCRBY', e[3], tokens - rtokens)
    end
  end
  if tokens > rtokens then redis.call('HSET', rk, 'tokens', tokens) end
  redis.call('HSET', rk, 'amount', amount)
  return {1, amount}
end
if extend == '1' then return {0, -1, 'missing', 0, 0} end
if redis.call('EXISTS', P .. 'done:' .. rid) == 1 then return {0, -1, 'duplicate', 0, 0} end
for i = 0, n - 1 do
  local o = 14 + i * 12
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
  local o = 14 + i * 12
  local win = tonumber(ARGV[o + 12])
  redis.call('INCRBY', ARGV[o + 4], amount)
  if ARGV[o + 6] ~= '' then redis.call('INCR', ARGV[o + 6]); redis.call('EXPIREAT', ARGV[o + 6], win) end
  if ARGV[o + 8] ~= '' then redis.call('INCRBY', ARGV[o + 8], tokens); redis.call('EXPIREAT', ARGV[o + 8], win) end
  if ARGV[o + 10] ~= '' then redis.call('INCR', ARGV[o + 10]) end
  table.insert(ents, {ARGV[o + 2], ARGV[o + 4], ARGV[o + 8], ARGV[o + 10], tonumber(ARGV[o + 3]), tonumber(ARGV[o + 5])})
end
redis.call('HSET', rk, 'amount', amount, 'tokens', tokens, 'model', model, 'deadline', deadline,
  'attrib', attrib, 'ents', cjson.encode(ents), 'router', router, 'lease', lease,
  'started', extend == 's' and '1' or '0')
redis.call('ZADD', P .. 'resz', deadline, rid)
return {1, amount}
"""

# ARGV: P now rid cost tokens model done_ttl how allow_dead. Returns {applied(0/1), charged}.
# A request its router's lapsed lease got swept is corrected to `cost` here, exactly once.
SETTLE = _LIB + r"""
local P, now, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local cost, tokens, model, done_ttl, how = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8]
sweep(P, now, done_ttl, tonumber(ARGV[9]))
if redis.call('EXISTS', P .. 'done:' .. rid) == 1 then
  local sk = P .. 'swept:' .. rid
  if redis.call('EXISTS', sk) == 0 then return {0, 0} end
  local s = redis.call('HMGET', sk, 'ents', 'attrib', 'model', 'charged')
  local delta = cost - (tonumber(s[4]) or 0)
  if model == '' then model = s[3] or '' end
  for _, e in ipairs(cjson.decode(s[1] or '[]')) do
    if delta > 0 then
      redis.call('INCRBY', e[1], delta)
      redis.call('EXPIREAT', e[1], e[5])
    elseif delta < 0 and redis.call('EXISTS', e[1]) == 1 then
      redis.call('INCRBY', e[1], delta)
    end
  end
  add_stats(P, cjson.decode(s[2] or '{}'), model, delta)
  if delta ~= 0 and redis.call('EXISTS', P .. 'outbox:on') == 1 then  -- a correction row of its own
    redis.call('XADD', P .. 'outbox', '*', 'rid', rid .. ':corrected', 'cost', delta, 'how', 'corrected',
      'attrib', s[2] or '{}', 'model', model, 'log', redis.call('GET', P .. 'log:' .. rid) or '')
    redis.call('DEL', P .. 'log:' .. rid)
  end
  redis.call('DEL', sk)
  redis.call('SET', P .. 'done:' .. rid, 'late:' .. cost, 'EX', done_ttl)
  return {1, cost}
end
if redis.call('EXISTS', P .. 'res:' .. rid) == 0 then return {0, -1} end
return {1, charge(P, rid, cost, tokens, model, how, done_ttl, false)}
"""

SWEEP = _LIB + r"""
return sweep(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
"""

# ARGV: P router lease, then request ids whose upstream call started. Returns how many were open.
HEARTBEAT = r"""
local P, router, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('SET', P .. 'lease:' .. router, '1', 'PX', math.floor(lease * 1000))
local n = 0
for i = 4, #ARGV do
  local rk = P .. 'res:' .. ARGV[i]
  if redis.call('EXISTS', rk) == 1 then
    redis.call('HSET', rk, 'started', '1')
    n = n + 1
  end
end
return n
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


POOL_SIZE = 64


class RedisStore:
    def __init__(self, client: Redis, *, prefix: str = "gemgate:", deadline: float = 2.0,
                 clock=time.monotonic) -> None:
        self.r = client
        self.prefix = prefix
        self.deadline = deadline
        self._mono = clock
        self.last_failure = clock()  # reachability: last failed Redis call (or when we started)
        self._reserve = client.register_script(RESERVE)
        self._settle = client.register_script(SETTLE)
        self._sweep = client.register_script(SWEEP)
        self._heartbeat = client.register_script(HEARTBEAT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "gemgate:", deadline: float = 2.0,
                 pool_size: int = POOL_SIZE) -> "RedisStore":
        # a pooled socket found dead (Redis restarted) is dropped with the rest of the idle ones and
        # the call is sent once more on a new connection: safe, every script is idempotent by request id
        client = Redis.from_url(url, decode_responses=True, socket_timeout=deadline, socket_connect_timeout=deadline,
                                max_connections=pool_size, pool_timeout=deadline)
        return cls(client, prefix=prefix, deadline=deadline)

    def reachable_for(self) -> float:
        """Seconds since the last failed Redis call (or since this store was made)."""
        return self._mono() - self.last_failure

    def k(self, name: str) -> str:
        return self.prefix + name

    async def _do(self, aw: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.deadline):  # not wait_for: no extra task per store call
                return await aw
        except PoolBusy:
            raise GatewayError(
                ErrorKind.UNAVAILABLE, f"budget store busy: no Redis connection became free within "
                f"{self.deadline:g}s; request not admitted", code="budget_store_busy", retry_after=1.0,
            ) from None
        except asyncio.TimeoutError:
            self.last_failure = self._mono()
            raise GatewayError(
                ErrorKind.UNAVAILABLE, f"budget store (Redis) did not answer within {self.deadline:g}s; "
                "request not admitted", code="budget_store_timeout", retry_after=1.0,
            ) from None
        except RedisAuthError:  # the reply (WRONGPASS ...) names Redis's address: not for API clients
            self.last_failure = self._mono()
            raise GatewayError(
                ErrorKind.UNAVAILABLE, "budget store (Redis) refused gemgate's credentials; request not admitted",
                code="budget_store_unreachable", retry_after=1.0,
            ) from None
        except (RedisError, OSError):
            self.last_failure = self._mono()
            raise GatewayError(
                ErrorKind.UNAVAILABLE, "budget store (Redis) is unreachable; request not admitted",
                code="budget_store_unreachable", retry_after=1.0,
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

    def version_key(self, kind: str, id_: str) -> str:
        """Bumped by every write of the document (the admission cache's staleness check)."""
        return self.k(f"ver:{kind}:{id_}")

    async def get_version(self, kind: str, id_: str) -> str:
        return str(await self._do(self.r.get(self.version_key(kind, id_))) or "0")

    async def put_doc(self, kind: str, id_: str, doc: dict, *, create: bool = False) -> bool:
        async def go() -> bool:
            async with self.r.pipeline(transaction=True) as p:
                p.set(self.k(f"doc:{kind}:{id_}"), json.dumps(doc), nx=create)
                p.sadd(self.k(f"ids:{kind}"), id_)
                p.incr(self.version_key(kind, id_))
                ok, _, _ = await p.execute()
            return bool(ok)

        return await self._do(go())

    async def delete_doc(self, kind: str, id_: str) -> bool:
        async def go() -> bool:
            async with self.r.pipeline(transaction=True) as p:
                p.delete(self.k(f"doc:{kind}:{id_}"))
                p.srem(self.k(f"ids:{kind}"), id_)
                p.incr(self.version_key(kind, id_))
                n, _, _ = await p.execute()
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
    def _reserve_argv(
        self, *, now: float, request_id: str, amount: int, tokens: int, deadline: float, done_ttl: int,
        model: str, attrib: dict[str, str], entities: list[EntityArgs], router: str = "", lease: float = 15.0,
        extend: bool = False, allow_dead: bool = True, started: bool = False,
        versions: list[tuple[str, str]] = (),
    ) -> list[Any]:
        # mode: "1" extend, "s" a new reservation whose upstream call starts at once, "0" new
        mode = "1" if extend else "s" if started else "0"
        argv: list[Any] = [self.prefix, now, request_id, int(amount), int(tokens), deadline, done_ttl, model,
                           json.dumps(attrib, sort_keys=True), router, lease, mode,
                           int(allow_dead), len(entities)]
        for e in entities:
            argv.extend(e.argv())
        argv.append(len(versions))
        for vkey, value in versions:
            argv.extend((vkey, value))
        return argv

    @staticmethod
    def _reserve_result(res) -> ReserveResult:
        if int(res[0]) == 1:
            return ReserveResult(True, reserved=int(res[1]))
        return ReserveResult(False, entity=int(res[1]), reason=str(res[2]), used=int(res[3]), limit=int(res[4]))

    def _settle_argv(self, *, now: float, request_id: str, cost: int, tokens: int, model: str, done_ttl: int,
                     how: str, allow_dead: bool = True) -> list[Any]:
        return [self.prefix, now, request_id, max(0, int(cost)), int(tokens), model, done_ttl, how, int(allow_dead)]

    async def reserve(self, **kw) -> ReserveResult:
        return self._reserve_result(await self._do(self._reserve(keys=[], args=self._reserve_argv(**kw))))

    async def settle(self, **kw) -> tuple[bool, int]:
        res = await self._do(self._settle(keys=[], args=self._settle_argv(**kw)))
        return bool(int(res[0])), max(0, int(res[1]))

    async def _scripts(self, calls: list[tuple[Any, list[Any]]]) -> list[Any]:
        """Many (script, arguments) calls in one round trip, in order (pipelined, not a transaction:
        each call is atomic on its own, as when sent alone). A failed call's slot holds its
        exception; calls Redis did not know the script for are loaded and sent again."""
        async def go() -> list[Any]:
            todo, out = list(range(len(calls))), [None] * len(calls)
            for _ in range(2):
                async with self.r.pipeline(transaction=False) as p:
                    for i in todo:
                        p.evalsha(calls[i][0].sha, 0, *calls[i][1])
                    got = await p.execute(raise_on_error=False)
                for i, res in zip(todo, got):
                    out[i] = res
                todo = [i for i, res in zip(todo, got) if isinstance(res, NoScriptError)]
                if not todo:
                    break
                for script in {id(calls[i][0]): calls[i][0] for i in todo}.values():
                    await self.r.script_load(script.script)
            return out

        return await self._do(go())

    async def settle_and_reserve_many(self, settles: list[dict], reserves: list[dict]) \
            -> tuple[list[tuple[bool, int] | Exception], list[ReserveResult | Exception]]:
        """`settle` for each of `settles`, then `reserve` for each of `reserves`, in one round trip
        (the settlements run first). Each slot: its result or its exception."""
        raw = await self._scripts([(self._settle, self._settle_argv(**kw)) for kw in settles]
                                  + [(self._reserve, self._reserve_argv(**kw)) for kw in reserves])
        done, admitted = raw[:len(settles)], raw[len(settles):]
        return ([r if isinstance(r, Exception) else (bool(int(r[0])), max(0, int(r[1]))) for r in done],
                [r if isinstance(r, Exception) else self._reserve_result(r) for r in admitted])

    async def sweep(self, *, now: float, done_ttl: int, allow_dead: bool = True) -> int:
        return int(await self._do(self._sweep(keys=[], args=[self.prefix, now, done_ttl, int(allow_dead)])))

    async def heartbeat(self, *, router: str, lease: float, started: list[str]) -> int:
        return int(await self._do(self._heartbeat(keys=[], args=[self.prefix, router, lease, *started])))

    async def delete_prefix(self) -> None:
        """Remove every key under this store's prefix (tests only; SCAN + DEL, never FLUSHDB)."""
        async for key in self.r.scan_iter(match=self.prefix + "*", count=500):
            await self.r.delete(key)
