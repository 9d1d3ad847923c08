"""The router's chat chunks -> the Responses API event sequence. Pure (state in, events out).

    t = StreamTranslator(req, response_id, created_at, summary)
    t.start() -> [response.created, response.in_progress]
    t.feed(chunk) -> [...]            # output_item.added, content_part.added, *.delta, ...
    t.finish() -> [..., response.completed | response.incomplete]   (t.response is the final object)
    t.fail(code, message) -> [response.failed]

Items open in the order the model produces them; a text or reasoning item is closed when the next
item starts, function calls when the stream ends. Every event carries a sequence_number.
"""

from __future__ import annotations

import copy
from typing import Any

from gemgate.responses.from_chat import (call_item, envelope, finish, message_item, reasoning_item,
                                         usage_from_chat)
from gemgate.responses.ids import item_id


class _Open:
    def __init__(self, kind: str, index: int, iid: str) -> None:
        self.kind, self.index, self.id = kind, index, iid
        self.text = ""
        self.blocks: list[dict] = []
        self.call: dict = {}
        self.started_part = False


class StreamTranslator:
    def __init__(self, req: dict, response_id: str, created_at: int, summary: bool) -> None:
        self.req, self.summary = req, summary
        self.response = envelope(req, response_id, created_at, "in_progress")
        self.seq = 0
        self.items: list[dict | None] = []  # output by index (None while open)
        self.current: _Open | None = None    # the open text or reasoning item
        self.calls: dict[int, _Open] = {}    # open function calls by chat tool-call index
        self.finish_reason: str | None = None
        self.usage: dict | None = None

    # ---------------------------------------------------------------- helpers
    def _ev(self, etype: str, **fields: Any) -> dict:
        ev = {"type": etype, "sequence_number": self.seq, **fields}
        self.seq += 1
        return ev

    def _snapshot(self) -> dict:
        snap = copy.deepcopy(self.response)
        snap["output"] = [i for i in self.items if i is not None]
        return snap

    def _open(self, kind: str) -> tuple[_Open, list[dict]]:
        index = len(self.items)
        self.items.append(None)
        op = _Open(kind, index, item_id(kind))
        if kind == "message":
            item = {"id": op.id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        elif kind == "reasoning":
            item = {"id": op.id, "type": "reasoning", "summary": []}
        else:
            item = {"id": op.id, "type": "function_call", "status": "in_progress", "call_id": "", "name": "", "arguments": ""}
        return op, [self._ev("response.output_item.added", output_index=index, item=item)]

    def _close_current(self, status: str = "completed") -> list[dict]:
        op, self.current = self.current, None
        if op is None:
            return []
        events: list[dict] = []
        if op.kind == "message":
            part = {"type": "output_text", "text": op.text, "annotations": [], "logprobs": []}
            events.append(self._ev("response.output_text.done", item_id=op.id, output_index=op.index,
                                   content_index=0, text=op.text))
            events.append(self._ev("response.content_part.done", item_id=op.id, output_index=op.index,
                                   content_index=0, part=part))
            item = message_item(op.text, status, op.id)
        else:
            if op.started_part:
                part = {"type": "summary_text", "text": op.text}
                events.append(self._ev("response.reasoning_summary_text.done", item_id=op.id, output_index=op.index,
                                       summary_index=0, text=op.text))
                events.append(self._ev("response.reasoning_summary_part.done", item_id=op.id, output_index=op.index,
                                       summary_index=0, part=part))
            item = reasoning_item(op.text, op.blocks, self.summary, op.id)
        self.items[op.index] = item
        events.append(self._ev("response.output_item.done", output_index=op.index, item=item))
        return events

    def _close_call(self, op: _Open) -> list[dict]:
        item = call_item(op.call, "completed", op.id)
        self.items[op.index] = item
        return [
            self._ev("response.function_call_arguments.done", item_id=op.id, output_index=op.index,
                     arguments=item["arguments"], name=item["name"]),
            self._ev("response.output_item.done", output_index=op.index, item=item),
        ]

    # ---------------------------------------------------------------- events
    def start(self) -> list[dict]:
        return [self._ev("response.created", response=self._snapshot()),
                self._ev("response.in_progress", response=self._snapshot())]

    def _reasoning(self, text: str, blocks: list[dict]) -> list[dict]:
        events: list[dict] = []
        if self.current is None or self.current.kind != "reasoning":
            events += self._close_current()
            self.current, added = self._open("reasoning")
            events += added
        op = self.current
        op.blocks.extend(blocks)
        if text:
            op.text += text
            if self.summary:
                if not op.started_part:
                    op.started_part = True
                    events.append(self._ev("response.reasoning_summary_part.added", item_id=op.id, output_index=op.index,
                                           summary_index=0, part={"type": "summary_text", "text": ""}))
                events.append(self._ev("response.reasoning_summary_text.delta", item_id=op.id, output_index=op.index,
                                       summary_index=0, delta=text))
        return events

    def _text(self, text: str) -> list[dict]:
        events: list[dict] = []
        if self.current is None or self.current.kind != "message":
            events += self._close_current()
            self.current, added = self._open("message")
            events += added
            events.append(self._ev("response.content_part.added", item_id=self.current.id, output_index=self.current.index,
                                   content_index=0, part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
        op = self.current
        op.text += text
        events.append(self._ev("response.output_text.delta", item_id=op.id, output_index=op.index, content_index=0, delta=text))
        return events

    def _call(self, tc: dict) -> list[dict]:
        events: list[dict] = []
        idx = tc.get("index", 0)
        op = self.calls.get(idx)
        fn = tc.get("function") or {}
        if op is None:
            events += self._close_current()
            op, added = self._open("function_call")
            op.call = {"id": tc.get("id") or "", "function": {"name": fn.get("name") or "", "arguments": ""}}
            added[0]["item"].update(call_id=op.call["id"], name=op.call["function"]["name"])
            self.calls[idx] = op
            events += added
        else:
            if tc.get("id"):
                op.call["id"] = tc["id"]
            if fn.get("name"):
                op.call["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            op.call["function"]["arguments"] += fn["arguments"]
            events.append(self._ev("response.function_call_arguments.delta", item_id=op.id, output_index=op.index,
                                   delta=fn["arguments"]))
        return events

    def feed(self, chunk: dict) -> list[dict]:
        events: list[dict] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content") or delta.get("thinking_blocks"):
                events += self._reasoning(delta.get("reasoning_content") or "", delta.get("thinking_blocks") or [])
            if delta.get("content"):
                events += self._text(delta["content"])
            for tc in delta.get("tool_calls") or ():
                events += self._call(tc)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[dict]:
        finish(self.response, self.finish_reason)
        status = "incomplete" if self.response["status"] == "incomplete" else "completed"
        events = self._close_current(status)
        for idx in sorted(self.calls):
            events += self._close_call(self.calls[idx])
        self.calls.clear()
        self.response["output"] = [i for i in self.items if i is not None]
        self.response["usage"] = usage_from_chat(self.usage)
        etype = "response.incomplete" if self.response["status"] == "incomplete" else "response.completed"
        events.append(self._ev(etype, response=copy.deepcopy(self.response)))
        return events

    def fail(self, code: str | None, message: str) -> list[dict]:
        self.response["status"] = "failed"
        self.response["error"] = {"code": code or "server_error", "message": message}
        self.response["output"] = [i for i in self.items if i is not None]
        self.response["usage"] = usage_from_chat(self.usage)
        return [self._ev("response.failed", response=copy.deepcopy(self.response))]
