import asyncio
import json

import pytest

from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.google_auth import GoogleTokens
from tests.fakes.oauth import make_service_account


async def test_token_from_file_path_is_cached(oauth, sa_file):
    tokens = GoogleTokens()
    t1 = await tokens.token(sa_file)
    t2 = await tokens.token(sa_file)
    assert t1 == t2 and oauth.is_valid(t1)
    assert oauth.fetches == 1 and not oauth.rejections


async def test_json_text_dict_and_path_share_one_cache_entry(oauth, sa_info, sa_file):
    tokens = GoogleTokens()
    a = await tokens.token(sa_file)
    b = await tokens.token(json.dumps(sa_info))
    c = await tokens.token(dict(sa_info))
    assert a == b == c and oauth.fetches == 1


async def test_different_accounts_get_different_tokens(oauth, sa_info):
    other = make_service_account(oauth.token_uri)
    oauth.trust(other)
    tokens = GoogleTokens()
    assert await tokens.token(sa_info) != await tokens.token(other)
    assert oauth.fetches == 2


async def test_refreshed_before_expiry(oauth, sa_info):
    oauth.expires_in = 1000
    now = [1_000_000.0]
    tokens = GoogleTokens(margin=300, clock=lambda: now[0])
    t1 = await tokens.token(sa_info)
    now[0] += 650  # 350 s left: still outside the margin
    assert await tokens.token(sa_info) == t1 and oauth.fetches == 1
    now[0] += 60  # 290 s left: inside the margin -> proactive refresh, old token still valid upstream
    t2 = await tokens.token(sa_info)
    assert t2 != t1 and oauth.fetches == 2 and oauth.is_valid(t1)


async def test_short_lived_tokens_refresh_at_half_life(oauth, sa_info):
    oauth.expires_in = 60
    now = [0.0]
    tokens = GoogleTokens(margin=300, clock=lambda: now[0])
    t1 = await tokens.token(sa_info)
    now[0] += 20
    assert await tokens.token(sa_info) == t1
    now[0] += 15
    assert await tokens.token(sa_info) != t1 and oauth.fetches == 2


async def test_cancelled_waiter_does_not_abort_shared_refresh(oauth, sa_info):
    oauth.delay = 0.3
    tokens = GoogleTokens()
    first = asyncio.create_task(tokens.token(sa_info))
    second = asyncio.create_task(tokens.token(sa_info))
    await asyncio.sleep(0.05)
    first.cancel()
    assert oauth.is_valid(await second) and oauth.fetches == 1


async def test_hundred_concurrent_first_requests_fetch_once(oauth, sa_info):
    oauth.delay = 0.2
    tokens = GoogleTokens()
    results = await asyncio.gather(*(tokens.token(sa_info) for _ in range(100)))
    assert len(set(results)) == 1
    assert oauth.fetches == 1


async def test_refresh_does_not_block_event_loop(oauth, sa_info):
    oauth.delay = 0.3
    tokens = GoogleTokens()
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await tokens.token(sa_info)
    task.cancel()
    assert ticks >= 10


async def test_invalidate_forces_exactly_one_refresh(oauth, sa_info):
    tokens = GoogleTokens()
    t1 = await tokens.token(sa_info)
    for _ in range(5):  # five concurrent 401s reporting the same stale token
        tokens.invalidate(sa_info, t1)
    t2s = await asyncio.gather(*(tokens.token(sa_info) for _ in range(10)))
    assert len(set(t2s)) == 1 and t2s[0] != t1 and oauth.fetches == 2
    tokens.invalidate(sa_info, t1)  # stale report after refresh: ignored
    assert await tokens.token(sa_info) == t2s[0] and oauth.fetches == 2


async def test_jwt_signed_with_wrong_key_is_rejected(oauth, sa_info):
    impostor = make_service_account(oauth.token_uri)
    impostor["client_email"] = sa_info["client_email"]  # claims to be the trusted account
    tokens = GoogleTokens()
    with pytest.raises(GatewayError) as ei:
        await tokens.token(impostor)
    assert ei.value.kind is ErrorKind.AUTHENTICATION
    assert oauth.rejections == ["Invalid JWT Signature."] and oauth.fetches == 0
    assert "PRIVATE KEY" not in ei.value.message and "ya29" not in ei.value.message


async def test_unreachable_token_endpoint(sa_info):
    info = dict(sa_info, token_uri="http://127.0.0.1:9/token")
    with pytest.raises(GatewayError) as ei:
        await GoogleTokens().token(info)
    assert ei.value.kind is ErrorKind.BAD_GATEWAY


def test_project_id_from_service_account(sa_file):
    assert GoogleTokens().project_id(sa_file) == "sa-project"


@pytest.mark.parametrize("creds", ["/nonexistent/sa.json", "{not json", '["list"]', '{"type": "weird"}'])
def test_bad_credentials_are_config_errors_without_contents(creds):
    with pytest.raises(GatewayError) as ei:
        GoogleTokens().project_id(creds)
    assert ei.value.kind is ErrorKind.INTERNAL and "weird" not in ei.value.message


def test_adc_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(GatewayError) as ei:
        GoogleTokens().project_id(None)
    assert ei.value.kind is ErrorKind.INTERNAL


async def test_adc_via_env_file(oauth, sa_file, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", sa_file)
    tokens = GoogleTokens()
    assert tokens.project_id(None) == "sa-project"
    assert oauth.is_valid(await tokens.token(None))


async def test_token_never_in_reprs(oauth, sa_info):
    tokens = GoogleTokens()
    token = await tokens.token(sa_info)
    entry = tokens._entry(sa_info)
    assert token not in repr(entry) and "PRIVATE" not in repr(entry)
