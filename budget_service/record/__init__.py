"""The system of record behind budget_service (general_settings.database_url).

`base.RecordStore` is the interface; `postgres.PostgresRecord` the PostgreSQL backend (asyncpg,
pooled); `migrate` applies the numbered SQL files in `migrations/`. Redis stays the hot path:
nothing on the request path waits for the record (see budget_service/durable.py and outbox.py).
"""

from budget_service.record.base import RecordStore, SPEND_COLUMNS

__all__ = ["RecordStore", "SPEND_COLUMNS", "open_record"]


async def open_record(url: str, **kw) -> RecordStore:
    """Open (and migrate) the record store named by `url` (postgresql://...)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("postgres", "postgresql"):
        raise ValueError(f"database_url must be postgresql://...; got scheme {scheme!r}")
    from budget_service.record.postgres import PostgresRecord

    return await PostgresRecord.open(url, **kw)
