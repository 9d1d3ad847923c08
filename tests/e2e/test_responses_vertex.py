"""Responses API end to end on Vertex: Gemini on Vertex and Claude on Vertex (strict fakes), with
Claude's signed thinking surviving Responses tool loops (previous_response_id and full input)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_vertex import claude_fake, client, gw, oauth  # noqa: F401  (module fixtures)
from tests.fakes.vertex_claude import claude_message

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
THINKING = {"type": "thinking", "thinking": "Need to look it up.", "signature": "RXFRQg=="}


def test_vertex_gemini_create_and_stream(client, fake_gemini):  # noqa: F811
    resp = client.responses.create(model="vgemini", input="hi vertex", instructions="sys")
    assert resp.output_text == "echo: hi vertex" and resp.status == "completed"
    assert resp.usage.input_tokens == 4 and resp.usage.output_tokens == 3
    sent = fake_gemini.requests[-1]
    assert sent["vertex"] and sent["body"]["systemInstruction"]["parts"][0]["text"] == "sys"
    with client.responses.stream(model="vgemini", input="stream vertex") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) == 3 and "".join(deltas) == "echo: stream vertex" == final.output_text
    assert fake_gemini.requests[-1]["vertex"]


def test_claude_create_and_stream(client, claude_fake):  # noqa: F811
    resp = client.responses.create(model="vclaude", input="hi claude", max_output_tokens=300)
    assert resp.output_text == "Hello!"
    body = claude_fake.requests[-1]["body"]
    assert body["max_tokens"] == 300 and body["messages"][0]["role"] == "user"
    with client.responses.stream(model="vclaude", input="stream claude") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == "Hello there"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.usage.output_tokens == 7


def _tool_then_answer(claude_fake):  # noqa: F811
    claude_fake.claude_response = lambda body: {**claude_message(), "stop_reason": "tool_use", "content": [
        THINKING, {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": "x"}}]}


@pytest.fixture
def reset_claude(claude_fake):  # noqa: F811
    yield claude_fake
    claude_fake.claude_response = lambda body: claude_message()


def test_claude_thinking_tool_loop_previous_response_id(client, reset_claude):  # noqa: F811
    fake = reset_claude
    _tool_then_answer(fake)
    first = client.responses.create(model="vclaude", input="find x", tools=[TOOL], max_output_tokens=4000,
                                    reasoning={"effort": "low", "summary": "auto"})
    kinds = [o.type for o in first.output]
    assert kinds == ["reasoning", "function_call"]
    assert first.output[0].summary[0].text == "Need to look it up."
    assert first.output[0].encrypted_content
    call = first.output[1]
    assert call.call_id == "toolu_9" and json.loads(call.arguments) == {"q": "x"}
    fake.claude_response = lambda body: claude_message("done")
    final = client.responses.create(model="vclaude", previous_response_id=first.id, tools=[TOOL], max_output_tokens=4000,
                                    reasoning={"effort": "low"},
                                    input=[{"type": "function_call_output", "call_id": "toolu_9", "output": "found"}])
    assert final.output_text == "done"
    sent = fake.requests[-1]["body"]["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["content"][0] == THINKING
    assert sent[2]["content"][0]["type"] == "tool_result" and sent[2]["content"][0]["tool_use_id"] == "toolu_9"


def test_claude_thinking_tool_loop_full_input(client, reset_claude):  # noqa: F811
    fake = reset_claude
    _tool_then_answer(fake)
    first = client.responses.create(model="vclaude", input="find x", tools=[TOOL], max_output_tokens=4000,
                                    reasoning={"effort": "low"}, store=False)
    assert first.output[0].type == "reasoning" and first.output[0].summary == []  # no summary asked for
    fake.claude_response = lambda body: claude_message("done")
    inp = [{"role": "user", "content": "find x"}, *[o.model_dump(exclude_none=True) for o in first.output],
           {"type": "function_call_output", "call_id": "toolu_9", "output": "found"}]
    final = client.responses.create(model="vclaude", input=inp, tools=[TOOL], max_output_tokens=4000, reasoning={"effort": "low"})
    assert final.output_text == "done"
    assert fake.requests[-1]["body"]["messages"][1]["content"][0] == THINKING
    # a tampered reasoning item is a 400 naming it, not a silent loss of the signature
    inp[1] = {**inp[1], "encrypted_content": "garbage"}
    import openai
    with pytest.raises(openai.BadRequestError) as exc:
        client.responses.create(model="vclaude", input=inp, tools=[TOOL], max_output_tokens=4000, reasoning={"effort": "low"})
    assert exc.value.body["param"] == "input[1].encrypted_content"


def test_claude_stream_thinking_and_tool_call(client, claude_fake):  # noqa: F811
    events = [
        ("message_start", {"type": "message_start", "message": {**claude_message(""), "content": [], "stop_reason": None,
                                                                "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Need to "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "look it up."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "RXFRQg=="}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_7", "name": "lookup", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"x\"}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 20}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    claude_fake.claude_events = lambda body: events
    try:
        with client.responses.stream(model="vclaude", input="find x", tools=[TOOL], max_output_tokens=4000,
                                     reasoning={"effort": "low", "summary": "detailed"}) as stream:
            got = list(stream)
            final = stream.get_final_response()
    finally:
        from tests.fakes.vertex_claude import claude_text_events
        claude_fake.claude_events = lambda body: claude_text_events()
    types = [e.type for e in got]
    assert "response.reasoning_summary_text.delta" in types and "response.function_call_arguments.delta" in types
    assert "".join(e.delta for e in got if e.type == "response.reasoning_summary_text.delta") == "Need to look it up."
    reasoning, call = final.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Need to look it up." and reasoning.encrypted_content
    assert call.type == "function_call" and call.call_id == "toolu_7" and json.loads(call.arguments) == {"q": "x"}
    assert final.usage.output_tokens == 20
