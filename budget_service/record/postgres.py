"""PostgreSQL record store (asyncpg, one pool per process).

Tables are created by the numbered migrations (record/migrations). Every call is bounded by
`deadline` seconds and fails as GatewayError(UNAVAILABLE); the pool reconnects by itself when the
server returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, TypeVar

import asyncpg

from budget_service.record.base import KINDS, SPEND_COLUMNS, RecordStore
from budget_service.record.migrate import migrate
from gemgate.errors import ErrorKind, GatewayError

log = logging.getLogger("gemgate.budget.record")
T = TypeVar("T")

_TABLE = {"key": "gemgate_keys", "team": "gemgate_teams", "user": "gemgate_users"}
_ENTITY_COL = {"key": "key_id", "team": "team_id", "user": "user_id", "model": "model_group",
               "customer": "end_user"}
_FILTERS = {"api_key", "key_id", "team_id", "user_id", "request_id", "model_group", "end_user", "status"}
_TIME_COLS = ("start_time", "end_time", "charged_at")


def _ts(v: float | None) -> datetime | None:
    return None if v is None else datetime.fromtimestamp(float(v), timezone.utc)


def _unix(v: datetime | None) -> float | None:
    return None if v is None else v.timestamp()


def unavailable() -> GatewayError:
    return GatewayError(ErrorKind.UNAVAILABLE, "the system of record (PostgreSQL) is unavailable", retry_after=1.0)


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PostgresRecord(RecordStore):
    """`open(lazy=True)` returns a store even when PostgreSQL cannot be reached yet: every call then
    answers UNAVAILABLE and tries to connect (and migrate) again, at most once per `retry_every` s."""

    def __init__(self, url: str, *, deadline: float = 5.0, pool_size: int = 10,
                 server_settings: dict[str, str] | None = None, retry_every: float = 1.0) -> None:
        self.url = url
        self.deadline = deadline
        self.pool_size = pool_size
        self.server_settings = server_settings
        self.retry_every = retry_every
        self._pool: asyncpg.Pool | None = None
        self._next_try = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, lazy: bool = False, **kw) -> "PostgresRecord":
        """Connect and apply pending migrations. Unreachable: GatewayError(UNAVAILABLE), or with
        lazy=True a store that connects later. A schema it cannot use: MigrationError."""
        store = cls(url, **kw)
        try:
            await store.connect()
        except GatewayError:
            if not lazy:
                raise
            log.warning("PostgreSQL is not reachable; serving from Redis and connecting in the background")
        return store

    async def connect(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is not None:
                return self._pool
            if time.monotonic() < self._next_try:
                raise unavailable()
            try:
                pool = await asyncio.wait_for(asyncpg.create_pool(
                    self.url, min_size=1, max_size=self.pool_size, command_timeout=self.deadline, init=_init,
                    server_settings=self.server_settings, timeout=self.deadline,
                ), self.deadline)
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._next_try = time.monotonic() + self.retry_every
                log.warning("cannot open the PostgreSQL pool: %s", type(exc).__name__)
                raise unavailable() from None
            try:
                async with pool.acquire() as conn:
                    await migrate(conn)
            except BaseException:
                pool.terminate()
                raise
            self._pool = pool
            return pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise unavailable()
        return self._pool

    async def _do(self, aw) -> T:
        """Run `aw` (a coroutine function taking the pool, or an awaitable) within the deadline."""
        try:
            if callable(aw):
                aw = aw(await self.connect())
            return await asyncio.wait_for(aw, self.deadline)
        except (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError,
                asyncpg.exceptions.ConnectionDoesNotExistError):
            raise unavailable() from None

    async def ping(self) -> bool:
        return bool(await self._do(lambda pool: pool.fetchval("SELECT 1")))

    async def close(self) -> None:
        if self._pool is None:
            return
        try:
            await asyncio.wait_for(self._pool.close(), 5)
        except (asyncio.TimeoutError, OSError):
            self._pool.terminate()

    # ---- documents ----
    async def put_doc(self, kind: str, id_: str, doc: dict, *, create: bool = False) -> bool:
        table = _TABLE[kind]
        conflict = "DO NOTHING" if create else "DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()" + (
            ", key_id = EXCLUDED.key_id, key_alias = EXCLUDED.key_alias, team_id = EXCLUDED.team_id, "
            "user_id = EXCLUDED.user_id" if kind == "key" else "")
        if kind == "key":
            sql = (f"INSERT INTO {table} (token, key_id, key_alias, team_id, user_id, doc) "
                   f"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (token) {conflict}")
            args: tuple[Any, ...] = (id_, doc.get("id") or id_, doc.get("key_alias"), doc.get("team_id"),
                                     doc.get("user_id"), doc)
        else:
            sql = f"INSERT INTO {table} (id, doc) VALUES ($1, $2) ON CONFLICT (id) {conflict}"
            args = (id_, doc)
        status = await self._do(lambda pool: pool.execute(sql, *args))
        return status.endswith(" 1")

    async def delete_doc(self, kind: str, id_: str) -> bool:
        col = "token" if kind == "key" else "id"
        status = await self._do(lambda pool: pool.execute(f"DELETE FROM {_TABLE[kind]} WHERE {col} = $1", id_))
        return status.endswith(" 1")

    async def all_docs(self, kind: str) -> list[dict]:
        assert kind in KINDS
        rows = await self._do(lambda pool: pool.fetch(f"SELECT doc FROM {_TABLE[kind]} ORDER BY created_at"))
        return [r["doc"] for r in rows]

    # ---- spend log ----
    async def insert_spend(self, rows: list[dict]) -> int:
        if not rows:
            return 0
        cols = SPEND_COLUMNS
        records = []
        for r in rows:
            rec = []
            for c in cols:
                v = r.get(c)
                if c in _TIME_COLS:
                    v = _ts(v)
                elif c == "request_tags":
                    v = list(v or [])
                elif c == "metadata":
                    v = dict(v or {})
                elif v is None:
                    v = 0 if c.endswith(("_tokens", "_micros")) else ""
                rec.append(v)
            records.append(rec)
        # one statement per batch: unnest the columns, skip request ids already logged
        kid = f"${cols.index('key_id') + 1}"

        def value(i: int, c: str) -> str:
            if c in ("api_key", "key_alias"):  # not described by the router (a sweep): from the key
                col = "token" if c == "api_key" else "key_alias"
                return (f"COALESCE(NULLIF(${i + 1}, ''), (SELECT {col} FROM gemgate_keys WHERE key_id = {kid} "
                        f"AND {kid} <> '' LIMIT 1), '')")
            return f"${i + 1}"

        placeholders = ", ".join(value(i, c) for i, c in enumerate(cols))
        sql = (f"INSERT INTO gemgate_spend_logs ({', '.join(cols)}) VALUES ({placeholders}) "
               "ON CONFLICT (request_id) DO NOTHING")

        async def go(pool) -> int:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    before = await conn.fetchval("SELECT count(*) FROM gemgate_spend_logs WHERE request_id = ANY($1)",
                                                 [r[0] for r in records])
                    await conn.executemany(sql, records)
            return len({r[0] for r in records}) - int(before)

        return await self._do(go)

    async def spend_since(self, kind: str, since: dict[str, float | None]) -> dict[str, int]:
        col = _ENTITY_COL[kind]
        out: dict[str, int] = {}
        by_start: dict[float | None, list[str]] = {}
        for id_, s in since.items():
            by_start.setdefault(s, []).append(id_)
        for start, ids in by_start.items():
            if start is None:
                q = (f"SELECT {col} AS id, sum(spend_micros)::bigint AS s FROM gemgate_spend_logs "
                     f"WHERE {col} = ANY($1) GROUP BY {col}")
                rows = await self._do(lambda pool: pool.fetch(q, ids))
            else:
                q = (f"SELECT {col} AS id, sum(spend_micros)::bigint AS s FROM gemgate_spend_logs "
                     f"WHERE {col} = ANY($1) AND charged_at >= $2 GROUP BY {col}")
                rows = await self._do(lambda pool: pool.fetch(q, ids, _ts(start)))
            out.update({r["id"]: int(r["s"] or 0) for r in rows})
        return out

    async def totals(self, kind: str) -> dict[str, int]:
        col = _ENTITY_COL[kind]
        rows = await self._do(lambda pool: pool.fetch(
            f"SELECT {col} AS id, sum(spend_micros)::bigint AS s FROM gemgate_spend_logs "
            f"WHERE {col} <> '' GROUP BY {col}"))
        return {r["id"]: int(r["s"] or 0) for r in rows}

    async def total(self, since: float | None = None) -> int:
        if since is None:
            return int(await self._do(lambda pool: pool.fetchval(
                "SELECT coalesce(sum(spend_micros), 0)::bigint FROM gemgate_spend_logs")))
        return int(await self._do(lambda pool: pool.fetchval(
            "SELECT coalesce(sum(spend_micros), 0)::bigint FROM gemgate_spend_logs WHERE charged_at >= $1",
            _ts(since))))

    async def spend_logs(self, *, filters: dict, start: float | None, end: float | None,
                         offset: int, limit: int) -> tuple[list[dict], int]:
        where, args = [], []
        for col, val in filters.items():
            if col not in _FILTERS:
                raise ValueError(f"unknown spend-log filter {col!r}")
            args.append(val)
            where.append(f"{col} = ${len(args)}")
        if start is not None:
            args.append(_ts(start))
            where.append(f"start_time >= ${len(args)}")
        if end is not None:
            args.append(_ts(end))
            where.append(f"start_time < ${len(args)}")
        cond = ("WHERE " + " AND ".join(where)) if where else ""

        async def go(pool):
            async with pool.acquire() as conn:
                total = await conn.fetchval(f"SELECT count(*) FROM gemgate_spend_logs {cond}", *args)
                rows = await conn.fetch(
                    f"SELECT {', '.join(SPEND_COLUMNS)} FROM gemgate_spend_logs {cond} "
                    f"ORDER BY start_time DESC NULLS LAST, request_id LIMIT {int(limit)} OFFSET {int(offset)}", *args)
            return rows, int(total)

        rows, total = await self._do(go)
        out = []
        for r in rows:
            d = dict(r)
            for c in _TIME_COLS:
                d[c] = _unix(d[c])
            out.append(d)
        return out, total

    async def spend_report(self, *, start: float, end: float, group_by: str) -> list[dict]:
        col = _ENTITY_COL[group_by]
        rows = await self._do(lambda pool: pool.fetch(
            f"SELECT to_char(date_trunc('day', start_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, "
            f"{col} AS grp, model_group AS model, api_key, max(key_alias) AS key_alias, "
            "sum(spend_micros)::bigint AS spend_micros, sum(prompt_tokens)::bigint AS prompt_tokens, "
            "sum(completion_tokens)::bigint AS completion_tokens, sum(total_tokens)::bigint AS total_tokens, "
            "count(*) AS requests FROM gemgate_spend_logs WHERE start_time >= $1 AND start_time < $2 "
            f"GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4", _ts(start), _ts(end)))
        return [{**dict(r), "group": r["grp"]} for r in rows]
