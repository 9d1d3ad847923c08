"""The record-store interface: what budget_service needs from its system of record.

Documents are the ledger's plain dicts (see budget_service/ledger.py); kinds are key | team | user
(a key's id is its token, the sha256 of the key). Spend rows are dicts with SPEND_COLUMNS; money is
integer micro-USD, times are unix seconds (floats). Every method raises
GatewayError(UNAVAILABLE) when the store cannot be reached in time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

KINDS = ("key", "team", "user")

# one spend-log row per charged request (LiteLLM's spend-log fields, gemgate names)
SPEND_COLUMNS = (
    "request_id", "call_type", "api_key", "key_id", "key_alias", "team_id", "user_id", "end_user",
    "model_group", "model_id", "model", "custom_llm_provider", "prompt_tokens", "completion_tokens",
    "total_tokens", "cached_tokens", "reasoning_tokens", "spend_micros", "start_time", "end_time",
    "charged_at", "status", "charge", "request_tags", "metadata",
)


class RecordStore(ABC):
    # ---- documents ----
    @abstractmethod
    async def put_doc(self, kind: str, id_: str, doc: dict, *, create: bool = False) -> bool:
        """Upsert (create=False) or insert-if-absent (create=True; False when it exists)."""

    @abstractmethod
    async def delete_doc(self, kind: str, id_: str) -> bool: ...

    @abstractmethod
    async def all_docs(self, kind: str) -> list[dict]: ...

    # ---- spend log ----
    @abstractmethod
    async def insert_spend(self, rows: list[dict]) -> int:
        """Insert rows; a row whose request_id is already present is skipped. Returns rows added."""

    @abstractmethod
    async def spend_since(self, kind: str, since: dict[str, float | None]) -> dict[str, int]:
        """Sum of spend per entity id (kind key|team|user) charged at or after `since[id]`
        (None = all time)."""

    @abstractmethod
    async def totals(self, kind: str) -> dict[str, int]:
        """Lifetime spend per key id | team | user | model group."""

    @abstractmethod
    async def total(self, since: float | None = None) -> int:
        """All spend (charged at or after `since`; None = all time)."""

    @abstractmethod
    async def spend_logs(self, *, filters: dict, start: float | None, end: float | None,
                         offset: int, limit: int) -> tuple[list[dict], int]:
        """Rows newest first matching `filters` (column -> value) and start_time in [start, end)."""

    @abstractmethod
    async def spend_report(self, *, start: float, end: float, group_by: str) -> list[dict]:
        """Spend per (day, group, model, api_key): keys day, group, model, api_key, spend_micros,
        prompt_tokens, completion_tokens, total_tokens, requests. group_by: team|user|key|model|customer."""

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
