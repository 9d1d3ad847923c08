"""PostgreSQL record store (asyncpg, one pool per process).

Tables are created by the numbered migrations (record/migrations). Every call is bounded by
`deadline` seconds and fails as GatewayError(UNAVAILABLE); the pool reconnects by itself when the
server returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
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
    def __init__(self, pool: asyncpg.Pool, *, deadline: float = 5.0) -> None:
        self.pool = pool
        self.deadline = deadline

    @classmethod
    async def open(cls, url: str, *, deadline: float = 5.0, pool_size: int = 10,
                   server_settings: dict[str, str] | None = None) -> "PostgresRecord":
        """Connect, apply pending migrations, return the store. Raises GatewayError(UNAVAILABLE)."""
        try:
            pool = await asyncio.wait_for(asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, command_timeout=deadline, init=_init,
                server_settings=server_settings, timeout=deadline,
            ), deadline)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("cannot open the PostgreSQL pool: %s", type(exc).__name__)
            raise unavailable() from None
        store = cls(pool, deadline=deadline)
        async with pool.acquire() as conn:
            await migrate(conn)
        return store

    async def _do(self, aw: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(aw, self.deadline)
        except (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError,
                asyncpg.exceptions.ConnectionDoesNotExistError):
            raise unavailable() from None

    async def ping(self) -> bool:
        return bool(await self._do(self.pool.fetchval("SELECT 1")))

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), 5)
        except (asyncio.TimeoutError, OSError):
            self.pool.terminate()

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
        status = await self._do(self.pool.execute(sql, *args))
        return status.endswith(" 1")

    async def delete_doc(self, kind: str, id_: str) -> bool:
        col = "token" if kind == "key" else "id"
        status = await self._do(self.pool.execute(f"DELETE FROM {_TABLE[kind]} WHERE {col} = $1", id_))
        return status.endswith(" 1")

    async def all_docs(self, kind: str) -> list[dict]:
        assert kind in KINDS
        rows = await self._do(self.pool.fetch(f"SELECT doc FROM {_TABLE[kind]} ORDER BY created_at"))
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
        placeholders = ", ".join(f"${i + 1}" for i in range(len(cols)))
        sql = (f"INSERT INTO gemgate_spend_logs ({', '.join(cols)}) VALUES ({placeholders}) "
               "ON CONFLICT (request_id) DO NOTHING")

        async def go() -> int:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    before = await conn.fetchval("SELECT count(*) FROM gemgate_spend_logs WHERE request_id = ANY($1)",
                                                 [r[0] for r in records])
                    await conn.executemany(sql, records)
            return len({r[0] for r in records}) - int(before)

        return await self._do(go())

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
                rows = await self._do(self.pool.fetch(q, ids))
            else:
                q = (f"SELECT {col} AS id, sum(spend_micros)::bigint AS s FROM gemgate_spend_logs "
                     f"WHERE {col} = ANY($1) AND charged_at >= $2 GROUP BY {col}")
                rows = await self._do(self.pool.fetch(q, ids, _ts(start)))
            out.update({r["id"]: int(r["s"] or 0) for r in rows})
        return out

    async def totals(self, kind: str) -> dict[str, int]:
        col = _ENTITY_COL[kind]
        rows = await self._do(self.pool.fetch(
            f"SELECT {col} AS id, sum(spend_micros)::bigint AS s FROM gemgate_spend_logs "
            f"WHERE {col} <> '' GROUP BY {col}"))
        return {r["id"]: int(r["s"] or 0) for r in rows}

    async def total(self) -> int:
        return int(await self._do(self.pool.fetchval(
            "SELECT coalesce(sum(spend_micros), 0)::bigint FROM gemgate_spend_logs")))

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

        async def go():
            async with self.pool.acquire() as conn:
                total = await conn.fetchval(f"SELECT count(*) FROM gemgate_spend_logs {cond}", *args)
                rows = await conn.fetch(
                    f"SELECT {', '.join(SPEND_COLUMNS)} FROM gemgate_spend_logs {cond} "
                    f"ORDER BY start_time DESC NULLS LAST, request_id LIMIT {int(limit)} OFFSET {int(offset)}", *args)
            return rows, int(total)

        rows, total = await self._do(go())
        out = []
        for r in rows:
            d = dict(r)
            for c in _TIME_COLS:
                d[c] = _unix(d[c])
            out.append(d)
        return out, total

    async def spend_report(self, *, start: float, end: float, group_by: str) -> list[dict]:
        col = _ENTITY_COL[group_by]
        rows = await self._do(self.pool.fetch(
            f"SELECT to_char(date_trunc('day', start_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, "
            f"{col} AS grp, model_group AS model, api_key, max(key_alias) AS key_alias, "
            "sum(spend_micros)::bigint AS spend_micros, sum(prompt_tokens)::bigint AS prompt_tokens, "
            "sum(completion_tokens)::bigint AS completion_tokens, sum(total_tokens)::bigint AS total_tokens, "
            "count(*) AS requests FROM gemgate_spend_logs WHERE start_time >= $1 AND start_time < $2 "
            f"GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4", _ts(start), _ts(end)))
        return [{**dict(r), "group": r["grp"]} for r in rows]
