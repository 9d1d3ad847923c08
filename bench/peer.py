"""LiteLLM's proxy as the peer in the same run (`make bench-peer` / `python -m bench --peer`).

LiteLLM is installed with pip into a throwaway venv OUTSIDE the project (default
~/.cache/gemgate-bench/litellm-venv, or $GEMGATE_BENCH_LITELLM_VENV), pinned to LITELLM_VERSION; none
of its code is part of gemgate. Its proxy runs with one worker, a config that points a gemini/ model at
the same mock upstream with a dummy key and a master key, pinned to the CPU gemgate gets, and is
measured with the same load and body. `python -m bench.peer --install` only prepares the venv.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench import procs
from bench.gateway import MODEL_GROUP
from gemgate.ports import free_port_block
from bench.loadgen import Target
from bench.measure import Loader, Plan, measure, with_added
from bench.report import PEER, Report, Row

LITELLM_VERSION = os.environ.get("GEMGATE_BENCH_LITELLM_VERSION", "1.108.7")
PEER_MASTER_KEY = "sk-bench-litellm-master"
PEER_ROW = PEER  # the row name bench.report.targets looks for
PROJECT = Path(__file__).resolve().parent.parent


def venv_dir() -> Path:
    d = Path(os.environ.get("GEMGATE_BENCH_LITELLM_VENV", Path.home() / ".cache" / "gemgate-bench" / "litellm-venv"))
    d = d.expanduser().resolve()
    if d == PROJECT or PROJECT in d.parents:
        raise RuntimeError(f"the LiteLLM venv must live outside the project, not in {d}")
    return d


def installed_version(venv: Path) -> str | None:
    py = venv / "bin" / "python"
    if not py.exists():
        return None
    r = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_venv(version: str = LITELLM_VERSION) -> Path:
    """The venv with litellm[proxy]==version (created or upgraded when needed, reused otherwise)."""
    venv = venv_dir()
    have = installed_version(venv)
    if have == version and (venv / "bin" / "litellm").exists():
        return venv
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
    if not (venv / "bin" / "python").exists():
        print(f"bench: creating LiteLLM venv {venv}", file=sys.stderr, flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    print(f"bench: installing litellm[proxy]=={version} into {venv} (was {have or 'absent'}; takes a few minutes)",
          file=sys.stderr, flush=True)
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"litellm[proxy]=={version}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or installed_version(venv) != version:
        lines = [ln for ln in r.stdout.splitlines() if not ln.startswith("WARNING: Location")]
        raise RuntimeError(f"pip install litellm[proxy]=={version} failed:\n" + "\n".join(lines[-20:]))
    return venv


def peer_config(upstream_url: str) -> dict:
    return {
        "model_list": [{"model_name": MODEL_GROUP, "litellm_params": {
            "model": "gemini/mock-model", "api_key": "mock-upstream-key",
            "api_base": upstream_url.rstrip("/") + "/v1beta"}}],
        "general_settings": {"master_key": PEER_MASTER_KEY},
    }


@dataclass
class Peer:
    proc: subprocess.Popen
    port: int
    workdir: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def memory(self) -> dict[str, int | None]:
        out = {"litellm proxy": procs.rss_kib(self.proc.pid)}
        for i, pid in enumerate(procs.descendants(self.proc.pid), 2):
            out[f"litellm child #{i}"] = procs.rss_kib(pid)
        return out

    def stop(self) -> None:
        pids = [self.proc.pid, *procs.descendants(self.proc.pid)]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:  # only the processes this run started, if one outlived SIGTERM
            if "litellm" in procs.process_name(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.proc.poll() is None:
            self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def start_peer(venv: Path, upstream_url: str, cpus: set[int] | None, ready_timeout: float = 180.0) -> Peer:
    workdir = Path(tempfile.mkdtemp(prefix="gemgate-bench-litellm-"))
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(peer_config(upstream_url)))
    port = free_port_block(1)
    log = workdir / "litellm.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_", "LITELLM_", "GEMGATE_", "VIRTUAL_ENV"))}
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_MODE": "PRODUCTION",
                "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"})
    proc = subprocess.Popen(
        [str(venv / "bin" / "litellm"), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=str(workdir),
        preexec_fn=(lambda: procs.pin(cpus)) if cpus else None)
    peer = Peer(proc, port, workdir, log)
    deadline = time.monotonic() + ready_timeout
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                text = log.read_text()[-2000:]
                shutil.rmtree(workdir, ignore_errors=True)
                raise RuntimeError(f"LiteLLM proxy exited with {proc.returncode}:\n{text}")
            try:
                if (await c.get(f"{peer.base_url}/health/readiness", timeout=2.0)).status_code == 200:
                    return peer
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    text = log.read_text()[-2000:]
    peer.stop()
    raise RuntimeError(f"LiteLLM proxy not ready after {ready_timeout:.0f}s:\n{text}")


async def measure_peer(upstream_url: str, plan: Plan, loader: Loader, direct: Row, cpus: set[int] | None,
                       report: Report) -> None:
    """Adds the LiteLLM row (or a row saying why not) and its RSS to the report."""
    try:
        venv = await asyncio.to_thread(ensure_venv)
        peer = await start_peer(venv, upstream_url, cpus)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        report.rows.append(Row(PEER_ROW, note=f"FAILED: LiteLLM unavailable: {str(exc).splitlines()[0]}",
                               failed=True))
        print(f"bench: LiteLLM peer unavailable: {exc}", file=sys.stderr)
        return
    try:
        row = await measure(Target(PEER_ROW, peer.base_url, "openai", MODEL_GROUP,
                                   {"Authorization": f"Bearer {PEER_MASTER_KEY}"}), plan, loader)
        row.note = (row.note + "; " if row.note else "") + f"litellm {LITELLM_VERSION}, 1 worker"
        report.rows.append(with_added(row, direct))
        report.peer_memory.update(peer.memory())
    finally:
        peer.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.peer", description="prepare the LiteLLM peer venv")
    ap.add_argument("--install", action="store_true", help="create/upgrade the venv and exit")
    args = ap.parse_args(argv)
    venv = ensure_venv()
    print(f"litellm {installed_version(venv)} in {venv}")
    if not args.install:
        print("run `python -m bench --peer` to measure it")


if __name__ == "__main__":
    main()
