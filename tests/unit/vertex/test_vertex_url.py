import pytest

from gemgate.config import Deployment
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.google_auth import GoogleTokens
from router_service.providers.vertex import VertexProvider, vertex_url


def dep(model, **params):
    return Deployment.model_validate({"model_name": "grp", "litellm_params": {"model": f"vertex_ai/{model}", **params}})


def provider():
    return VertexProvider(http=None, tokens=GoogleTokens())  # URL building needs no IO


def test_default_location():
    url = provider().url(dep("gemini-2.5-flash", vertex_project="p1"), "generateContent")
    assert url == ("https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1"
                   "/publishers/google/models/gemini-2.5-flash:generateContent")


def test_location_and_claude_publisher():
    url = provider().url(dep("claude-sonnet-4-5@20250929", vertex_project="p1", vertex_location="europe-west1"), "rawPredict")
    assert url == ("https://europe-west1-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west1"
                   "/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")


def test_global_location():
    url = provider().url(dep("gemini-3-pro-preview", vertex_project="p1", vertex_location="global"), "generateContent")
    assert url.startswith("https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/")


def test_api_base_replaces_host():
    url = provider().url(dep("gemini-2.5-pro", vertex_project="p", api_base="http://localhost:8080/"), "predict")
    assert url == "http://localhost:8080/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:predict"


def test_config_alias_names():
    d = Deployment.model_validate({"model_name": "g", "litellm_params": {
        "model": "vertex_ai/gemini-2.5-pro", "vertex_ai_project": "ap", "vertex_ai_location": "asia-east1"}})
    assert "/projects/ap/locations/asia-east1/" in provider().url(d, "generateContent")


def test_project_from_service_account_json(tmp_path):
    info = {"type": "service_account", "project_id": "from-sa", "client_email": "x@y", "token_uri": "http://t",
            "private_key": _pem()}
    url = provider().url(dep("gemini-2.5-pro", vertex_credentials=info), "generateContent")
    assert "/projects/from-sa/" in url


def test_missing_project_is_clear_config_error():
    info = {"type": "service_account", "client_email": "x@y", "token_uri": "http://t", "private_key": _pem()}
    with pytest.raises(GatewayError) as ei:
        provider().url(dep("gemini-2.5-pro", vertex_credentials=info), "generateContent")
    assert ei.value.kind is ErrorKind.INTERNAL and "vertex_project" in ei.value.message


def test_vertex_url_helper():
    assert vertex_url(project="p", location="global", publisher="anthropic", model="m", op="x") == \
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/anthropic/models/m:x"


def _pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
