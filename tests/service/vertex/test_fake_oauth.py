"""The fake OAuth endpoint itself must be strict, or the google_auth tests prove nothing."""

import base64
import json
import time

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.fakes.oauth import CLOUD_PLATFORM, GOOGLE_TOKEN_AUD, GRANT_TYPE


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(info, **overrides):
    now = int(time.time())
    claims = {"iss": info["client_email"], "aud": GOOGLE_TOKEN_AUD, "scope": CLOUD_PLATFORM, "iat": now, "exp": now + 3600}
    claims.update(overrides)
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": info["private_key_id"]}).encode())
    payload = b64(json.dumps(claims).encode())
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    sig = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(sig)}"


def post(oauth, data):
    return httpx.post(oauth.token_uri, data=data)


def test_valid_grant_and_stats(oauth, sa_info):
    oauth.expires_in = 42
    r = post(oauth, {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info)})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 42 and oauth.is_valid(body["access_token"])
    assert httpx.get(oauth.base_url + "/stats").json() == {"fetches": 1}


def test_rejections(oauth, sa_info):
    cases = [
        {"grant_type": "client_credentials", "assertion": jwt(sa_info)},
        {"grant_type": GRANT_TYPE},
        {"grant_type": GRANT_TYPE, "assertion": "not.a.jwt"},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info, aud="https://evil.example/token")},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info, scope="https://www.googleapis.com/auth/drive")},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info, iss="someone@else")},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info, exp=int(time.time()) - 10)},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info, exp=int(time.time()) + 7200)},
        {"grant_type": GRANT_TYPE, "assertion": jwt(sa_info)[:-4] + "AAAA"},
    ]
    for data in cases:
        assert post(oauth, data).status_code == 400, data
    assert httpx.post(oauth.token_uri, json={"grant_type": GRANT_TYPE}).status_code == 400
    assert oauth.fetches == 0
