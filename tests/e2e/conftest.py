from __future__ import annotations

import pytest

from tests.e2e.gateway import start_gateway, write_config

TEST_KEY = "test-key"


def gemini_config(base_url: str, **general) -> dict:
    return {
        "model_list": [
            {"model_name": "flash", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": "os.environ/FAKE_GEMINI_KEY", "api_base": f"{base_url}/v1beta"}},
            {"model_name": "badkey", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": "wrong-key", "api_base": f"{base_url}/v1beta"}},
            {"model_name": "down", "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_key": "x", "api_base": "http://127.0.0.1:9/v1beta"}},
            {"model_name": "g3", "litellm_params": {"model": "gemini/gemini-3-pro-preview", "api_key": "os.environ/FAKE_GEMINI_KEY", "api_base": f"{base_url}/v1beta"}},
            {"model_name": "embed", "litellm_params": {"model": "gemini/text-embedding-004", "api_key": "os.environ/FAKE_GEMINI_KEY", "api_base": f"{base_url}/v1beta"}},
        ],
        # error-mapping tests want the first upstream answer, without retries or cooldowns (tested apart)
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
        "general_settings": general,
    }


@pytest.fixture(scope="module")
def gateway(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url))
    gw = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY})
    yield gw
    assert gw.stop() == 0, gw.log()


@pytest.fixture
def client(gateway):
    import openai

    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="anything", max_retries=0, timeout=30)
