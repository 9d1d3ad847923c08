"""Start/stop a real gemgate (its CLI) against the mock upstream, for the benchmark."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from bench import procs
from gemgate.ports import free_port_block

MODEL_GROUP = "bench-model"

def bench_config(upstream_url: str, master_key: str | None = None, database_url: str | None = None) -> dict:
    cfg: dict = {
        "model_list": [{
            "model_name": MODEL_GROUP,
            "litellm_params": {"model": "gemini/mock-model", "api_key": "mock-upstream-key",
                               "api_base": upstream_url.rstrip("/") + "/v1beta",
                               # priced, so every answer (usageMetadata) is charged to the key
                               "input_cost_per_token": 1e-07, "output_cost_per_token": 4e-07},
        }],
    }
    if master_key:
        cfg["general_settings"] = {"master_key": master_key}
    if database_url:
        cfg.setdefault("general_settings", {})["database_url"] = database_url
    return cfg


@dataclass
class Gateway:
    proc: subprocess.Popen
    port: int
    workdir: Path
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> dict[str, int]:
        """label -> pid for the CLI and each of its descendants, labelled by service (a second process
        of the same service, e.g. with --num_workers, gets " #2")."""
        out = {"cli (parent)": self.proc.pid}
        for pid in procs.descendants(self.proc.pid):
            cmd = procs.process_name(pid)
            label = next((m for m in ("rest_facade", "router_service", "budget_service") if m in cmd), cmd[:40])
            n, base = 2, label
            while label in out:
                label, n = f"{base} #{n}", n + 1
            out[label] = pid
        return out

    def memory(self) -> dict[str, int | None]:
        """Resident memory (KiB) of every gemgate process (see processes())."""
        return {label: procs.rss_kib(pid) for label, pid in self.processes().items()}

    def count(self, service: str) -> int:
        return sum(1 for pid in procs.descendants(self.proc.pid) if service in procs.process_name(pid))

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        drop_redis_keys(redis_prefix(self.port))


def redis_prefix(port: int) -> str:
    return f"gemgate-bench-{port}:"


def drop_redis_keys(prefix: str) -> None:
    """The benchmark's keys, settled-request records and counters are its own: remove them."""
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    except redis.RedisError:
        pass
    finally:
        client.close()


async def start_gateway(upstream_url: str, *, master_key: str | None = None, cpus: set[int] | None = None,
                        ready_timeout: float = 30.0, database_url: str | None = None,
                        extra_args: tuple[str, ...] = ()) -> Gateway:
    workdir = Path(tempfile.mkdtemp(prefix="gemgate-bench-"))
    cfg_path = workdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(bench_config(upstream_url, master_key, database_url)))
    port = free_port_block(5)  # facade, router, budget, router metrics, budget metrics
    log = workdir / "gemgate.log"
    env = {**os.environ, "GEMGATE_LOG_LEVEL": "WARNING"}

    def preexec() -> None:
        if cpus:
            procs.pin(cpus)

    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate.cli", "--config", str(cfg_path), "--host", "127.0.0.1", "--port", str(port),
         "--redis-prefix", redis_prefix(port), *extra_args],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, preexec_fn=preexec,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    gw = Gateway(proc, port, workdir, log)
    deadline = time.monotonic() + ready_timeout
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gemgate exited with {proc.returncode}; see {log}:\n{log.read_text()[-2000:]}")
            try:
                if (await c.get(f"{gw.base_url}/health/readiness", timeout=1.0)).status_code == 200:
                    return gw
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    gw.stop()
    raise RuntimeError(f"gemgate not ready after {ready_timeout}s; see {log}")


async def generate_key(gw: Gateway, master_key: str) -> str | None:
    """A virtual key with a budget via POST /key/generate; None if the route is not there (404)."""
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{gw.base_url}/key/generate", headers={"Authorization": f"Bearer {master_key}"},
                         json={"models": [MODEL_GROUP], "max_budget": 1000.0, "key_alias": "bench"}, timeout=10)
    if r.status_code != 200:
        return None
    return r.json().get("key")


async def key_spend(gw: Gateway, key: str) -> float | None:
    """The key's recorded spend (GET /key/info as the key itself); None when unavailable."""
    async with httpx.AsyncClient() as c:
        r = await c.get(f"{gw.base_url}/key/info", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    if r.status_code != 200:
        return None
    spend = (r.json().get("info") or {}).get("spend")
    return float(spend) if isinstance(spend, (int, float)) else None
