"""Claude extended thinking survives a tool round trip: the signed thinking blocks come back as
`thinking_blocks` and go out again first in the assistant turn, as Anthropic requires."""

import pytest

from gemgate.errors import GatewayError
from router_service.providers.anthropic.translate import ClaudeStreamTranslator, from_claude_response, to_claude_request
from tests.fakes.claude_validate import validate_claude_body

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}
RESPONSE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "stop_reason": "tool_use",
    "content": [{"type": "thinking", "thinking": "I should look it up.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "cmVk"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}],
    "usage": {"input_tokens": 10, "output_tokens": 20},
}


def history(assistant_message: dict) -> dict:
    return {"model": "c", "reasoning_effort": "low", "max_tokens": 4000, "tools": [TOOL], "messages": [
        {"role": "user", "content": "find x"}, assistant_message,
        {"role": "tool", "tool_call_id": "toolu_1", "content": "found"}]}


def test_response_carries_signed_blocks_and_request_sends_them_first():
    msg = from_claude_response(RESPONSE, model="c")["choices"][0]["message"]
    assert msg["thinking_blocks"] == [{"type": "thinking", "thinking": "I should look it up.", "signature": "c2ln"},
                                      {"type": "redacted_thinking", "data": "cmVk"}]
    body = to_claude_request(history(msg))
    assistant = body["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["thinking", "redacted_thinking", "tool_use"]
    assert assistant[0]["signature"] == "c2ln"
    assert validate_claude_body(body) is None


def test_strict_fake_rejects_a_tool_loop_without_the_thinking_block():
    msg = from_claude_response(RESPONSE, model="c")["choices"][0]["message"]
    msg.pop("thinking_blocks")
    problem = validate_claude_body(to_claude_request(history(msg)))
    assert problem is not None and "Expected `thinking`" in problem["error"]["message"]


def test_stream_emits_complete_signed_block_at_block_stop():
    st = ClaudeStreamTranslator(model="c")
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": \"x\"}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    chunks = [c for name, data in events for c in st.feed(name, data)]
    blocks = [b for c in chunks for ch in c["choices"] for b in ch["delta"].get("thinking_blocks", [])]
    assert blocks == [{"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"}]
    reasoning = "".join(ch["delta"].get("reasoning_content", "") for c in chunks for ch in c["choices"])
    assert reasoning == "Let me think."


def test_malformed_thinking_block_is_a_400():
    bad = {"role": "assistant", "content": None, "thinking_blocks": [{"type": "thinking", "thinking": "x"}],
           "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}
    with pytest.raises(GatewayError) as exc:
        to_claude_request(history(bad))
    assert exc.value.param == "messages[1].thinking_blocks[0]"
