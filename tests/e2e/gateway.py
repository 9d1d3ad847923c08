"""Start the real `gemgate` CLI (three processes) on free ports for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench.gateway import drop_redis_keys
from gemgate import internal_auth
from tests.fakes.server import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    proc: subprocess.Popen
    port: int
    router_port: int
    budget_port: int
    log_path: Path
    redis_prefix: str = ""
    internal_secret: str = ""
    metrics_ports: tuple[int, ...] = ()  # router's and budget's internal /metrics (loopback)

    @property
    def internal_metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata a direct caller of router_service / budget_service needs."""
        return internal_auth.metadata(self.internal_secret)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def router_address(self) -> str:
        return f"127.0.0.1:{self.router_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("gemgate did not stop within the timeout:\n" + self.log())
        if self.redis_prefix:
            drop_redis_keys(self.redis_prefix)
        return self.proc.returncode


def write_config(tmp_path: Path, config: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def start_gateway(config_path: Path, log_dir: Path, env: dict | None = None, wait: bool = True,
                  redis_prefix: str | None = None, args: list[str] | None = None) -> Gateway:
    port, router_port, budget_port, router_metrics, budget_metrics = (free_port() for _ in range(5))
    redis_prefix = redis_prefix or f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    log_path = log_dir / f"gemgate-{port}.log"
    secret = internal_auth.generate()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", internal_auth.ENV: secret, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate.cli", "--config", str(config_path), "--host", "127.0.0.1",
         "--port", str(port), "--router-port", str(router_port), "--budget-port", str(budget_port),
         "--router-metrics-port", str(router_metrics), "--budget-metrics-port", str(budget_metrics),
         "--redis-prefix", redis_prefix, *(args or [])],
        stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, cwd=ROOT, env=full_env,
    )
    gw = Gateway(proc, port, router_port, budget_port, log_path, redis_prefix, full_env[internal_auth.ENV],
                 (router_metrics, budget_metrics))
    if wait:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gemgate exited with {proc.returncode}:\n{gw.log()}")
            try:
                if httpx.get(f"{gw.base_url}/health/readiness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                gw.stop()
                raise AssertionError("gemgate did not become ready:\n" + gw.log())
            time.sleep(0.1)
    return gw


def avoid_minute_boundary(margin: float) -> None:
    """Failure counts and rpm limits use wall-clock minute windows: keep a scenario inside one."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)
