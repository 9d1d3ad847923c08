"""Schema migrations on a real PostgreSQL: fresh database, upgrade from the previous schema,
concurrent startups, a database newer than this build."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from budget_service.record.migrate import MigrationError, available, current_version, migrate
from budget_service.record.postgres import PostgresRecord
from tests.service.record.conftest import PG_URL


async def _tables(conn) -> set[str]:
    rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r["table_name"] for r in rows}


async def test_fresh_database_gets_every_migration(schema):
    conn = await schema.conn()
    try:
        applied = await migrate(conn)
        assert applied == [m.version for m in available()] and len(applied) >= 2
        assert await current_version(conn) == applied[-1]
        assert {"gemgate_keys", "gemgate_teams", "gemgate_users", "gemgate_spend_logs",
                "gemgate_schema_migrations"} <= await _tables(conn)
        assert await migrate(conn) == []  # idempotent: a restart applies nothing
    finally:
        await conn.close()


async def test_upgrade_from_previous_schema_keeps_data(schema):
    conn = await schema.conn()
    try:
        assert await migrate(conn, target=1) == [1]
        cols = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'gemgate_spend_logs' "
            "AND table_schema = current_schema()")}
        assert "end_user" not in cols  # really the old schema
        await conn.execute(
            "INSERT INTO gemgate_spend_logs (request_id, key_id, spend_micros, charged_at, start_time) "
            "VALUES ('old-1', 'k1', 1234, $1, $1)", datetime(2026, 1, 2, tzinfo=timezone.utc))
        await conn.execute("INSERT INTO gemgate_teams (id, doc) VALUES ('t1', '{\"id\": \"t1\"}')")
    finally:
        await conn.close()
    # the gateway's own startup path upgrades it
    rec = await PostgresRecord.open(PG_URL, server_settings=schema.settings)
    try:
        conn = await schema.conn()
        assert await current_version(conn) == available()[-1].version
        row = await conn.fetchrow("SELECT * FROM gemgate_spend_logs WHERE request_id = 'old-1'")
        await conn.close()
        assert row["spend_micros"] == 1234 and row["end_user"] == "" and row["cached_tokens"] == 0
        assert row["request_tags"] == "[]" or row["request_tags"] == []
        assert await rec.spend_since("key", {"k1": None}) == {"k1": 1234}
        assert [d["id"] for d in await rec.all_docs("team")] == ["t1"]
    finally:
        await rec.close()


async def test_concurrent_startups_apply_each_migration_once(schema):
    conns = [await schema.conn() for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = sorted(v for r in results for v in r)
        assert applied == [m.version for m in available()]
        n = await conns[0].fetchval("SELECT count(*) FROM gemgate_schema_migrations")
        assert n == len(available())
    finally:
        for c in conns:
            await c.close()


async def test_database_newer_than_this_build_is_refused(schema):
    conn = await schema.conn()
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO gemgate_schema_migrations (version, name) VALUES (999, 'future')")
        with pytest.raises(MigrationError, match="newer"):
            await migrate(conn)
    finally:
        await conn.close()
