"""Scripted fake providers for router tests."""

from __future__ import annotations

import asyncio
from collections import Counter

from gemgate.config import Deployment, parse_config
from gemgate.errors import ErrorKind, GatewayError
from router_service.providers.base import Provider


def completion(model: str, dep_id: str, tokens: int = 10) -> dict:
    return {"object": "chat.completion", "model": model, "dep": dep_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": tokens - 1, "total_tokens": tokens}}


class ScriptedProvider(Provider):
    """Per deployment id script: list of actions consumed per call; when exhausted -> succeed.
    Actions: ErrorKind | GatewayError (raise), ("slow", seconds), ("chunk_then", ErrorKind)."""

    def __init__(self, scripts: dict[str, list] | None = None, tokens: int = 10, on_call=None):
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.calls: Counter[str] = Counter()
        self.requests: list[dict] = []
        self.tokens = tokens
        self.on_call = on_call
        self.closed = 0

    def _next(self, dep: Deployment):
        i = dep.model_info.id
        self.calls[i] += 1
        script = self.scripts.get(i) or []
        return script.pop(0) if script else None

    @staticmethod
    def _raise(action, dep):
        if isinstance(action, GatewayError):
            raise action
        if isinstance(action, ErrorKind):
            raise GatewayError(action, f"scripted {action.name} from {dep.model_info.id}")

    async def chat(self, deployment, request, *, timeout):
        self.requests.append(dict(request))
        if self.on_call:
            await self.on_call(deployment)
        action = self._next(deployment)
        if isinstance(action, tuple) and action[0] == "slow":
            await asyncio.sleep(action[1])
        else:
            self._raise(action, deployment)
        return completion(request["model"], deployment.model_info.id, self.tokens)

    def stream(self, deployment, request, *, timeout):
        self.requests.append(dict(request))
        action = self._next(deployment)
        provider = self

        async def gen():
            try:
                provider._raise(action, deployment)
                yield {"object": "chat.completion.chunk", "dep": deployment.model_info.id,
                       "choices": [{"index": 0, "delta": {"content": "a"}}]}
                if isinstance(action, tuple) and action[0] == "chunk_then":
                    raise GatewayError(action[1], "mid-stream failure")
                yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "b"}}]}
                yield {"object": "chat.completion.chunk", "choices": [],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}}
            finally:
                provider.closed += 1

        return gen()


def make_config(groups: dict[str, list[dict]], router_settings: dict | None = None,
                litellm_settings: dict | None = None):
    model_list = []
    for name, deps in groups.items():
        for n, extra in enumerate(deps):
            extra = dict(extra)
            dep_id = extra.pop("id", f"{name}-{n}")
            info = {"id": dep_id, **extra.pop("model_info", {})}
            model_list.append({"model_name": name, "litellm_params": {"model": f"gemini/{name}", **extra},
                               "model_info": info})
    return parse_config({"model_list": model_list, "router_settings": router_settings or {},
                         "litellm_settings": litellm_settings or {}}, environ={})


class FakeClock:
    def __init__(self, t: float = 1_000_020.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sleeps:
    def __init__(self, clock: FakeClock | None = None):
        self.calls: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.clock:
            self.clock.t += seconds
