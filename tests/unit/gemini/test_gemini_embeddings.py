import pytest

from gemgate.errors import GatewayError
from router_service.providers.gemini.translate import from_gemini_embed_response, to_gemini_embed_request
from tests.fakes.gemini_validate import validate_embed


def test_single_input_embed_content():
    op, body = to_gemini_embed_request({"model": "e", "input": "hi", "dimensions": 8}, model="text-embedding-004")
    assert op == "embedContent" and body == {"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 8}
    assert validate_embed(op, body, vertex=False) is None


def test_batch_embed():
    op, body = to_gemini_embed_request({"model": "e", "input": ["a", "b"]}, model="gemini-embedding-001")
    assert op == "batchEmbedContents" and body["requests"][1]["model"] == "models/gemini-embedding-001"
    assert validate_embed(op, body, vertex=False) is None
    out = from_gemini_embed_response({"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}, model="e")
    assert [d["embedding"] for d in out["data"]] == [[1.0], [2.0]] and out["data"][1]["index"] == 1


def test_vertex_predict():
    op, body = to_gemini_embed_request({"model": "e", "input": ["a", "b"], "dimensions": 4}, model="x", vertex=True)
    assert op == "predict" and body == {"instances": [{"content": "a"}, {"content": "b"}],
                                        "parameters": {"outputDimensionality": 4}}
    assert validate_embed(op, body, vertex=True) is None
    answer = {"predictions": [{"embeddings": {"values": [0.1], "statistics": {"token_count": 3}}},
                              {"embeddings": {"values": [0.2], "statistics": {"token_count": 4}}}]}
    out = from_gemini_embed_response(answer, model="e")
    assert out["usage"] == {"prompt_tokens": 7, "total_tokens": 7} and out["object"] == "list"


@pytest.mark.parametrize("req,param", [({"input": []}, "input"), ({"input": [1, 2]}, "input[0]"),
                                       ({"input": "x", "dimensions": 0}, "dimensions"),
                                       ({"input": "x", "encoding_format": "base64"}, "encoding_format"),
                                       ({"input": "x", "foo": 1}, "foo")])
def test_bad_embed_requests(req, param):
    with pytest.raises(GatewayError) as exc:
        to_gemini_embed_request({"model": "e", **req}, model="m")
    assert exc.value.param == param
