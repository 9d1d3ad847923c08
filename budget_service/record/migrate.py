"""Versioned schema migrations: numbered SQL files applied in order at startup.

`migrations/NNNN_name.sql` files are applied in number order, each in its own transaction that also
records it in `gemgate_schema_migrations`, under a PostgreSQL advisory lock so that several
budget_service processes starting at once apply each file exactly once. A database whose recorded
version is newer than the newest file this build knows is refused (an older gemgate must not write
into a schema it does not understand).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gemgate.budget.record")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_ID = 0x67656D67  # "gemg": the advisory lock that serialises migrations

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS gemgate_schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    out = []
    for p in sorted(directory.glob("*.sql")):
        m = _NAME.match(p.name)
        if not m:
            raise MigrationError(f"migration file {p.name!r} is not named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), p.read_text()))
    versions = [m.version for m in out]
    if versions != list(range(1, len(out) + 1)):
        raise MigrationError(f"migration numbers must be 1..N without gaps, found {versions}")
    return out


async def current_version(conn) -> int:
    await conn.execute(VERSION_TABLE)
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM gemgate_schema_migrations"))


async def migrate(conn, *, target: int | None = None, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the pending migrations (up to `target`, default all). Returns the versions applied."""
    migrations = available(directory)
    newest = migrations[-1].version if migrations else 0
    target = newest if target is None else target
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
    try:
        have = await current_version(conn)
        if have > newest:
            raise MigrationError(
                f"the database schema is at version {have}, newer than this gemgate knows ({newest}); "
                "upgrade gemgate or point database_url at another database"
            )
        for m in migrations:
            if m.version <= have or m.version > target:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO gemgate_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name
                )
            log.info("database schema migrated to version %d (%s)", m.version, m.name)
            applied.append(m.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    return applied
