import copy

import pytest

from tests.fakes.claude_validate import validate_claude_body

GOOD = {
    "anthropic_version": "vertex-2023-10-16",
    "max_tokens": 100,
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
                                     {"type": "text", "text": "go on"}]},
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
}


def mutate(fn):
    body = copy.deepcopy(GOOD)
    fn(body)
    return validate_claude_body(body)


def test_good_body_passes():
    assert validate_claude_body(GOOD) is None


@pytest.mark.parametrize("name,fn", [
    ("model present", lambda b: b.update(model="claude")),
    ("version missing", lambda b: b.pop("anthropic_version")),
    ("version wrong", lambda b: b.update(anthropic_version="2023-06-01")),
    ("max_tokens missing", lambda b: b.pop("max_tokens")),
    ("unknown field", lambda b: b.update(frequency_penalty=1)),
    ("system role", lambda b: b["messages"].insert(0, {"role": "system", "content": "s"})),
    ("first assistant", lambda b: b["messages"].insert(0, {"role": "assistant", "content": "x"})),
    ("not alternating", lambda b: b["messages"].append({"role": "user", "content": "again"})),
    ("empty content", lambda b: b["messages"][0].update(content="")),
    ("empty list", lambda b: b["messages"][0].update(content=[])),
    ("empty text block", lambda b: b["messages"][0].update(content=[{"type": "text", "text": ""}])),
    ("tool_result not first", lambda b: b["messages"][2]["content"].reverse()),
    ("tool_result unknown id", lambda b: b["messages"][2]["content"][0].update(tool_use_id="zz")),
    ("tool_use unanswered", lambda b: b["messages"][2].update(content="no result")),
    ("temperature > 1", lambda b: b.update(temperature=1.2)),
    ("temperature and top_p", lambda b: b.update(temperature=0.5, top_p=0.9)),
    ("malformed block", lambda b: b["messages"][0].update(content=[{"type": "text", "txt": "x"}])),
    ("bad block type", lambda b: b["messages"][0].update(content=[{"type": "audio"}])),
    ("tool_use input not object", lambda b: b["messages"][1]["content"][0].update(input="{}")),
    ("tool schema not object", lambda b: b["tools"][0].update(input_schema={"type": "string"})),
    ("tool_choice unknown tool", lambda b: b.update(tool_choice={"type": "tool", "name": "g"})),
    ("thinking budget too big", lambda b: b.update(thinking={"type": "enabled", "budget_tokens": 2048})),
    ("extra message field", lambda b: b["messages"][0].update(name="bob")),
    ("no messages", lambda b: b.update(messages=[])),
    ("bad image", lambda b: b["messages"][0].update(content=[{"type": "image", "source": {"type": "url", "url": "http://x"}}])),
])
def test_rejections(name, fn):
    problem = mutate(fn)
    assert problem is not None, name
    assert problem["type"] == "error" and problem["error"]["type"] == "invalid_request_error"
    assert problem["error"]["message"]
