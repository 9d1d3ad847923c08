"""Google OAuth access tokens for Vertex AI (google-auth), cached per credential.

`GoogleTokens.token(credentials)` returns a bearer token for `vertex_credentials` (a path to a
service-account JSON file, the JSON text itself, or a parsed dict) or, when None, Application Default
Credentials. Tokens are cached per credential identity (shared by every deployment using the same
credentials), refreshed `margin` seconds before expiry, off the event loop (google-auth's refresh
blocks), single-flight under concurrency (one asyncio lock per credential). `invalidate()` after an
upstream 401 forces exactly one refresh. Nothing here ever logs or raises token or key material.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gemgate.errors import ErrorKind, GatewayError

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
DEFAULT_MARGIN = 300.0  # refresh this many seconds before expiry

Credentials = str | dict[str, Any] | None


def _config_error(message: str) -> GatewayError:
    return GatewayError(ErrorKind.INTERNAL, f"Vertex credentials: {message}")


def load_credential_info(credentials: str | dict[str, Any]) -> dict[str, Any]:
    """vertex_credentials (path, JSON text or dict) -> parsed JSON dict. Errors never echo contents."""
    if isinstance(credentials, dict):
        return credentials
    text = credentials.strip()
    if not text.startswith("{"):
        try:
            with open(os.path.expanduser(text), encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise _config_error(f"cannot read the credentials file ({exc.strerror})") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise _config_error("the credentials are not valid JSON") from None
    if not isinstance(info, dict):
        raise _config_error("the credentials JSON must be an object")
    return info


def _identity(credentials: Credentials) -> str:
    """Stable cache key for a credential input (a digest, so secrets are not kept as keys)."""
    if credentials is None:
        return "adc"
    raw = json.dumps(credentials, sort_keys=True) if isinstance(credentials, dict) else credentials
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class _Entry:
    creds: Any = field(repr=False)
    project_id: str | None
    token: str | None = field(default=None, repr=False)  # never printable
    refresh_at: float = 0.0  # clock() seconds after which the token is refreshed
    stale: bool = False
    pending: asyncio.Future | None = None  # the in-flight refresh (single-flight)


class GoogleTokens:
    """Process-wide token provider. `clock` is injectable for tests (seconds, like time.time)."""

    def __init__(self, *, margin: float = DEFAULT_MARGIN, clock: Callable[[], float] = time.time) -> None:
        self.margin = margin
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._by_identity: dict[str, str] = {}  # input digest -> credential key
        self._loading: dict[str, asyncio.Future] = {}  # input digest -> in-flight load
        self.refreshes = 0  # number of token fetches performed (observability / tests)

    # ---- credential loading ----
    def _cached(self, credentials: Credentials) -> tuple[str, _Entry | None]:
        ident = _identity(credentials)
        key = self._by_identity.get(ident)
        return ident, (self._entries[key] if key is not None else None)

    def _store(self, ident: str, loaded: tuple[Any, str | None, str]) -> _Entry:
        creds, project, key = loaded
        entry = self._entries.get(key)
        if entry is None:  # first loader wins, so concurrent loads still share one entry
            entry = self._entries[key] = _Entry(creds=creds, project_id=project)
        self._by_identity[ident] = key
        return entry

    def _entry(self, credentials: Credentials) -> _Entry:
        ident, entry = self._cached(credentials)
        return entry if entry is not None else self._store(ident, self._load(credentials))

    async def load(self, credentials: Credentials) -> None:
        """Parse/load the credentials off the event loop (file reads; ADC may probe the GCE
        metadata server). Idempotent; token() calls it."""
        await self._aentry(credentials)

    async def _aentry(self, credentials: Credentials) -> _Entry:
        ident, entry = self._cached(credentials)
        if entry is not None:
            return entry
        pending = self._loading.get(ident)
        if pending is None:  # single-flight load per credential input
            pending = self._loading[ident] = asyncio.ensure_future(asyncio.to_thread(self._load, credentials))
            pending.add_done_callback(lambda fut: self._loaded(ident, fut))
        await asyncio.shield(pending)
        return self._cached(credentials)[1] or self._store(ident, pending.result())

    def _loaded(self, ident: str, fut: asyncio.Future) -> None:
        self._loading.pop(ident, None)
        if not fut.cancelled() and fut.exception() is None:
            self._store(ident, fut.result())

    def _load(self, credentials: Credentials) -> tuple[Any, str | None, str]:
        import google.auth
        import google.auth.exceptions

        if credentials is None:
            try:
                creds, project = google.auth.default(scopes=SCOPES)
            except google.auth.exceptions.GoogleAuthError:
                raise _config_error(
                    "no vertex_credentials configured and Application Default Credentials are not available"
                ) from None
            return creds, project, "adc"
        info = load_credential_info(credentials)
        creds = _from_info(info)
        project = info.get("project_id") or getattr(creds, "quota_project_id", None)
        # identity of the credential itself: same account+key => same cache entry
        key = "|".join(
            str(info.get(k, "")) for k in ("type", "client_email", "private_key_id", "client_id", "token_uri")
        )
        return creds, project, key

    def project_id(self, credentials: Credentials) -> str | None:
        """The project named by the credentials (service-account `project_id` or ADC project)."""
        return self._entry(credentials).project_id

    # ---- tokens ----
    def _fresh(self, entry: _Entry) -> bool:
        return entry.token is not None and not entry.stale and self.clock() < entry.refresh_at

    async def token(self, credentials: Credentials) -> str:
        entry = await self._aentry(credentials)
        if self._fresh(entry):
            return entry.token  # type: ignore[return-value]
        if entry.pending is None:
            # one refresh per credential, shared by every waiter; shielded so a cancelled caller
            # does not abort the refresh the others are waiting for
            entry.pending = asyncio.ensure_future(self._refresh(entry))
            entry.pending.add_done_callback(lambda fut: _settle(entry, fut))
        return await asyncio.shield(entry.pending)

    def invalidate(self, credentials: Credentials, stale_token: str | None = None) -> None:
        """Mark the cached token unusable (after an upstream 401). If `stale_token` is given and the
        cache already holds a different (newer) token, nothing happens, so N concurrent 401s cause one
        refresh."""
        entry = self._entry(credentials)
        if stale_token is None or entry.token == stale_token:
            entry.stale = True

    async def _refresh(self, entry: _Entry) -> str:
        import google.auth.exceptions

        try:
            await asyncio.to_thread(_blocking_refresh, entry.creds)
        except google.auth.exceptions.TransportError:
            raise GatewayError(ErrorKind.BAD_GATEWAY, "Vertex: cannot reach the Google token endpoint") from None
        except google.auth.exceptions.RefreshError:
            raise GatewayError(
                ErrorKind.AUTHENTICATION,
                "Vertex: the token endpoint rejected the configured credentials",
                code="upstream_authentication_failed",
            ) from None
        token = entry.creds.token
        if not token:
            raise GatewayError(ErrorKind.AUTHENTICATION, "Vertex: the token endpoint returned no access token")
        self.refreshes += 1
        entry.token = token
        entry.stale = False
        expiry = getattr(entry.creds, "expiry", None)  # naive UTC datetime in google-auth
        if expiry is None:
            lifetime = 3600.0
        else:
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            lifetime = max((expiry - now).total_seconds(), 0.0)
        # refresh `margin` before expiry; for short-lived tokens, at half-life at the latest
        entry.refresh_at = self.clock() + lifetime - min(self.margin, lifetime / 2)
        return token


def _settle(entry: _Entry, fut: asyncio.Future) -> None:
    entry.pending = None
    if not fut.cancelled():
        fut.exception()  # mark retrieved: every waiter may have been cancelled


def _from_info(info: dict[str, Any]) -> Any:
    """Type-specific loading (service_account or authorized_user only; never arbitrary external
    credential configs)."""
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    kind = info.get("type")
    try:
        if kind == "service_account":
            return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
    except (ValueError, KeyError, TypeError):
        raise _config_error(f"malformed {kind} credentials JSON") from None
    raise _config_error("credentials JSON must be of type service_account or authorized_user")


def _blocking_refresh(creds: Any) -> None:
    import google.auth.transport.requests

    creds.refresh(google.auth.transport.requests.Request())
