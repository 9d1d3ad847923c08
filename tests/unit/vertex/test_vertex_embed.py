import base64
import struct

import pytest

from gemgate.errors import GatewayError
from router_service.providers.vertex_embed import from_predict_response, to_predict_request


def test_request_mapping():
    assert to_predict_request({"model": "e", "input": "hi"}) == {"instances": [{"content": "hi"}]}
    assert to_predict_request({"model": "e", "input": ["a", "b"], "dimensions": 256}) == {
        "instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 256}}


@pytest.mark.parametrize("bad", [{"input": [1, 2]}, {"input": []}, {"input": "x", "encoding_format": "int8"},
                                 {"input": "x", "foo": 1}])
def test_request_rejects(bad):
    with pytest.raises(GatewayError) as ei:
        to_predict_request({"model": "e", **bad})
    assert ei.value.param in ("input", "encoding_format", "foo")


def test_response_mapping():
    body = {"predictions": [{"embeddings": {"values": [0.1, 0.2], "statistics": {"token_count": 3, "truncated": False}}},
                            {"embeddings": {"values": [0.3, 0.4], "statistics": {"token_count": 4}}}]}
    out = from_predict_response(body, model="grp")
    assert out == {"object": "list", "model": "grp", "usage": {"prompt_tokens": 7, "total_tokens": 7},
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}]}
    b64 = from_predict_response(body, model="grp", encoding_format="base64")["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(b64)) == pytest.approx((0.1, 0.2))


def test_response_without_predictions():
    with pytest.raises(GatewayError):
        from_predict_response({}, model="m")
