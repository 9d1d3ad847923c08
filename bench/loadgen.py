"""Asyncio load generator over one pooled httpx client: bounded by request count AND duration.

`Target` says how to call something (direct Gemini wire format or OpenAI through gemgate);
`run_load(target, concurrency, requests, max_duration, stream)` returns (samples, elapsed).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from bench.stats import Sample


@dataclass
class Target:
    name: str
    base_url: str  # loopback only
    kind: str  # "gemini" (direct to the mock) | "openai" (through gemgate)
    model: str
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, stream: bool) -> tuple[str, dict]:
        """(url, body): the one benchmark request (system + user message, max_tokens 64) in this
        target's wire format: Gemini generateContent direct, OpenAI chat completions through a gateway."""
        if self.kind == "gemini":
            op = "streamGenerateContent?alt=sse" if stream else "generateContent"
            return f"{self.base_url}/v1beta/models/{self.model}:{op}", gemini_body()
        body = openai_body(self.model)
        if stream:
            body["stream"] = True
        return f"{self.base_url}/v1/chat/completions", body


SYSTEM = "You are a concise assistant. Answer in one short sentence."
USER = "Say hello to the benchmark."
MAX_TOKENS = 64


def openai_body(model: str) -> dict:
    return {"model": model, "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            "max_tokens": MAX_TOKENS}


def gemini_body() -> dict:
    return {"systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": USER}]}],
            "generationConfig": {"maxOutputTokens": MAX_TOKENS}}


WORKERS_PER_CLIENT = 4


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("127.0.0.1", "localhost", "::1")


def make_client(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0),
        limits=httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4),
    )


async def one_request(client: httpx.AsyncClient, target: Target, stream: bool) -> Sample:
    url, body = target.request(stream)
    t0 = time.perf_counter()
    try:
        if not stream:
            r = await client.post(url, json=body, headers=target.headers)
            return Sample(r.status_code == 200, time.perf_counter() - t0,
                          error="" if r.status_code == 200 else f"HTTP {r.status_code}")
        ttft = None
        async with client.stream("POST", url, json=body, headers=target.headers) as r:
            async for line in r.aiter_lines():
                if ttft is None and line.startswith("data:") and "[DONE]" not in line:
                    ttft = time.perf_counter() - t0
        ok = r.status_code == 200 and ttft is not None
        return Sample(ok, time.perf_counter() - t0, ttft,
                      error="" if ok else f"HTTP {r.status_code}" if r.status_code != 200 else "stream without content")
    except httpx.HTTPError as exc:
        return Sample(False, time.perf_counter() - t0, error=type(exc).__name__)


async def run_load(target: Target, *, concurrency: int, requests: int, max_duration: float,
                   stream: bool = False, client: httpx.AsyncClient | None = None) -> tuple[list[Sample], float]:
    if not _is_loopback(target.base_url):
        raise ValueError("the benchmark only targets loopback addresses")
    # httpx's pool gets slow with many concurrent requests on one client, so by default the workers
    # are spread over small pooled clients (WORKERS_PER_CLIENT each), all created once up front.
    own = [] if client is not None else [
        make_client(WORKERS_PER_CLIENT) for _ in range(-(-concurrency // WORKERS_PER_CLIENT))]
    clients = [client] if client is not None else own
    samples: list[Sample] = []
    remaining = requests
    deadline = time.perf_counter() + max_duration

    async def worker(c: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            samples.append(await one_request(c, target, stream))

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency)))
    finally:
        for c in own:
            await c.aclose()
    return samples, time.perf_counter() - t0
