"""Pure chat chunks -> Responses events, and chat completion -> response object."""

from __future__ import annotations

from gemgate.responses import convert
from gemgate.responses.from_chat import response_from_chat
from gemgate.responses.reasoning import decode_blocks
from gemgate.responses.stream import StreamTranslator

REQ = {"model": "m", "input": "x"}
BLOCK = {"type": "thinking", "thinking": "hmm", "signature": "c2ln"}


def chunk(**delta):
    finish = delta.pop("finish", None)
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def run(chunks, summary=False, req=REQ):
    t = StreamTranslator(req, "resp_1", 100, summary)
    events = t.start()
    for c in chunks:
        events += t.feed(c)
    events += t.finish()
    # every event survives the proto hop unchanged in the fields clients read
    for ev in events:
        back = convert.event_to_dict(convert.event_from_dict(ev))
        assert back["type"] == ev["type"] and back["sequence_number"] == ev["sequence_number"]
        for key in ("delta", "output_index", "content_index", "item_id", "text", "arguments"):
            assert back.get(key) == ev.get(key), (ev["type"], key)
    return t, events


def test_reasoning_text_then_calls():
    t, events = run([
        chunk(reasoning_content="thin"), chunk(reasoning_content="king", thinking_blocks=[BLOCK]),
        chunk(content="Hel"), chunk(content="lo"),
        chunk(tool_calls=[{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}]),
        chunk(tool_calls=[{"index": 1, "id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": ":1}"}}], finish="tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                                  "completion_tokens_details": {"reasoning_tokens": 3}}},
    ], summary=True)
    types = [e["type"] for e in events]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert types.count("response.output_item.added") == types.count("response.output_item.done") == 4
    assert "response.reasoning_summary_part.added" in types and "response.reasoning_summary_text.done" in types
    resp = t.response
    assert [o["type"] for o in resp["output"]] == ["reasoning", "message", "function_call", "function_call"]
    assert resp["output"][0]["summary"] == [{"type": "summary_text", "text": "thinking"}]
    assert decode_blocks(resp["output"][0]["encrypted_content"], "x") == [BLOCK]
    assert resp["output"][1]["content"][0]["text"] == "Hello"
    assert [(o["call_id"], o["arguments"]) for o in resp["output"][2:]] == [("c1", "{\"a\":1}"), ("c2", "{}")]
    assert resp["usage"] == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
                             "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 12}
    # output indexes are the order items were added; deltas point at their own item
    added = {e["item"]["id"]: e["output_index"] for e in events if e["type"] == "response.output_item.added"}
    for e in events:
        if "item_id" in e:
            assert added[e["item_id"]] == e["output_index"]


def test_length_is_incomplete_and_no_summary_unless_asked():
    t, events = run([chunk(reasoning_content="r"), chunk(content="cut", finish="length")])
    assert events[-1]["type"] == "response.incomplete"
    assert t.response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert t.response["output"][0]["summary"] == [] and t.response["output"][1]["status"] == "incomplete"
    assert not any(e["type"].startswith("response.reasoning_summary") for e in events)


def test_fail_event():
    t = StreamTranslator(REQ, "resp_1", 100, False)
    events = t.start() + t.feed(chunk(content="par")) + t.fail("upstream_error", "boom")
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"] == {"code": "upstream_error", "message": "boom"}


def test_unary_response_shape_roundtrips():
    completion = {"choices": [{"index": 0, "finish_reason": "content_filter",
                               "message": {"role": "assistant", "content": "partial", "tool_calls": None}}],
                  "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3,
                            "prompt_tokens_details": {"cached_tokens": 1}}}
    req = {"model": "m", "input": "x", "instructions": "i", "metadata": {"k": "v"}, "tools": [{"type": "function", "name": "f"}]}
    resp = response_from_chat(completion, req, response_id="resp_9", created_at=5, summary=False)
    assert resp["status"] == "incomplete" and resp["incomplete_details"] == {"reason": "content_filter"}
    back = convert.response_to_dict(convert.response_from_dict(resp))
    for key in ("id", "status", "incomplete_details", "instructions", "metadata", "usage", "output", "model", "created_at",
                "tool_choice", "text", "store", "parallel_tool_calls", "previous_response_id", "error"):
        assert back[key] == resp[key], key
    assert back["tools"] == [{"type": "function", "name": "f", "description": None, "parameters": None, "strict": None}]
