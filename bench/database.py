"""The benchmark's PostgreSQL: a schema of its own (dropped afterwards) and the spend-log count."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


class BenchDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self.schema = f"gemgate_bench_{uuid.uuid4().hex[:10]}"

    @property
    def gateway_url(self) -> str:
        """database_url for the gateway: the same server, confined to this run's schema."""
        parts = urlsplit(self.url)
        query = "&".join(q for q in (parts.query, f"search_path={self.schema}") if q)
        return urlunsplit(parts._replace(query=query))

    async def _exec(self, sql: str):
        import asyncpg

        conn = await asyncpg.connect(self.url, timeout=5)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def create(self) -> None:
        await self._exec(f"CREATE SCHEMA {self.schema}")

    async def rows(self) -> int:
        return int(await self._exec(f"SELECT count(*) FROM {self.schema}.gemgate_spend_logs"))

    async def drop(self) -> None:
        await self._exec(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
