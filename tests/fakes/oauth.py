"""Strict fake of Google's OAuth 2.0 token endpoint for service-account JWT-bearer grants.

Accepts only `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` form posts,
verifies the RS256 signature against the configured service account's public key and checks the
claims (iss == client_email, aud == Google's token endpoint, scope has cloud-platform, iat/exp sane). Counts
fetches (`FakeOAuth.fetches`, also GET /stats) and issues tokens with a configurable expires_in.
`make_service_account()` creates a throwaway RSA key and service-account JSON pointing at the fake.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUD = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def make_service_account(token_uri: str, *, project_id: str = "test-project", email: str | None = None) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = email or f"gemgate-test-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


def write_service_account(path, info: dict) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(info, fh)
    return str(path)


def _b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class FakeOAuth:
    """Configure with `expires_in`; call `trust(info)` to register a service account; mount `.app`."""

    def __init__(self, *, expires_in: int = 3599, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay  # seconds to sleep per fetch (makes races visible)
        self.token_path = "/token"
        self.base_url = ""
        self.fetches = 0
        self.rejections: list[str] = []
        self._accounts: dict[str, rsa.RSAPublicKey] = {}
        self._issued: dict[str, float] = {}  # token -> expiry (time.time)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[Route(self.token_path, self._token, methods=["POST"]), Route("/stats", self._stats, methods=["GET"])]
        )

    @property
    def token_uri(self) -> str:
        return self.base_url + self.token_path

    def trust(self, info: dict) -> None:
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        self._accounts[info["client_email"]] = key.public_key()

    def is_valid(self, token: str) -> bool:
        with self._lock:
            exp = self._issued.get(token)
        return exp is not None and time.time() < exp

    def revoke(self, token: str) -> None:
        with self._lock:
            self._issued.pop(token, None)

    async def _stats(self, request: Request) -> JSONResponse:
        return JSONResponse({"fetches": self.fetches})

    def _reject(self, description: str) -> JSONResponse:
        self.rejections.append(description)
        return _error(400, "invalid_grant", description)

    async def _token(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _error(400, "invalid_request", "content-type must be application/x-www-form-urlencoded")
        form = parse_qs((await request.body()).decode(), keep_blank_values=True, strict_parsing=False)
        if set(form) != {"grant_type", "assertion"} or any(len(v) != 1 for v in form.values()):
            return _error(400, "invalid_request", "expected exactly grant_type and assertion")
        if form["grant_type"][0] != GRANT_TYPE:
            return _error(400, "unsupported_grant_type", "Invalid grant_type")
        parts = form["assertion"][0].split(".")
        if len(parts) != 3:
            return self._reject("Invalid JWT: not a JWS compact serialization")
        try:
            header = json.loads(_b64d(parts[0]))
            claims = json.loads(_b64d(parts[1]))
            signature = _b64d(parts[2])
        except ValueError:
            return self._reject("Invalid JWT: undecodable segment")
        if header.get("alg") != "RS256":
            return self._reject("Invalid JWT: alg must be RS256")
        public = self._accounts.get(claims.get("iss"))
        if public is None:
            return self._reject("Invalid JWT: unknown issuer")
        try:
            public.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return self._reject("Invalid JWT Signature.")
        # google-auth always signs aud = Google's canonical endpoint (which real Google requires),
        # whatever the key file's token_uri; the fake's own URL is accepted too
        if claims.get("aud") not in (GOOGLE_TOKEN_AUD, self.token_uri):
            return self._reject("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
            return self._reject("Invalid JWT: scope must include cloud-platform")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or iat > now + 60 or exp < now or exp - iat > 3600:
            return self._reject("Invalid JWT: iat/exp out of range")
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.fetches += 1
            self._issued[token] = now + self.expires_in
        return JSONResponse({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})
