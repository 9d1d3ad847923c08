"""The benchmark's soak (constant-rate driver, RSS growth after warm-up) and worker-scaling checks."""

import time

import pytest

from bench.loadgen import Target
from bench.mock_upstream import MockGemini, MockSettings
from bench.scaling import cpu_plan, worker_check
from bench.soak import Snapshot, SoakResult, drive, render_soak
from bench.stats import Sample


def snap(t, facade, router, sent=0):
    return Snapshot(t, {"rest_facade": facade * 1024, "router_service": router * 1024},
                    {"rest_facade": 1, "router_service": 2}, sent, 0)


def test_growth_is_measured_from_the_first_sample_after_warmup():
    r = SoakResult(minutes=3, rate=10, warmup_s=60)
    r.snapshots = [snap(0, 50, 50), snap(30, 90, 70), snap(60, 100, 80), snap(120, 104, 80), snap(180, 102, 81)]
    r.samples = [Sample(True, 0.01)] * 100
    g = r.growth()
    assert g["rest_facade"] == pytest.approx((100, 102, 104, 2.0))  # warm-up growth (50 -> 90) is excluded
    assert g["router_service"][3] == pytest.approx(1.25)
    assert g["total"] == pytest.approx((180, 183, 184, 100 * 3 / 180))
    assert not r.failed
    text = render_soak(r)
    assert "| **total, all gemgate processes** | 180.0 | 183.0 | 184.0 | +1.67 | yes |" in text
    assert "Result: passed" in text and "| 3.0 | 183.0 | 0 | 0 |" in text


def test_soak_fails_on_growth_errors_restarts_or_no_sample_after_warmup():
    grow = SoakResult(3, 10, 60)
    grow.snapshots = [snap(60, 100, 100), snap(180, 106, 100)]
    assert grow.growth()["total"][3] == pytest.approx(3.0) and not grow.failed
    grow.snapshots[-1] = snap(180, 111, 100)
    assert grow.failed and "**NO**" in render_soak(grow) and "Result: FAILED" in render_soak(grow)
    errs = SoakResult(3, 10, 60)
    errs.snapshots = [snap(60, 100, 100), snap(180, 100, 100)]
    errs.samples = [Sample(True, 0.01), Sample(False, 0.01)]
    assert errs.errors == 1 and errs.failed
    restarted = SoakResult(3, 10, 60)
    restarted.snapshots = errs.snapshots
    restarted.restarted = ["router_service"]
    assert restarted.failed and "restarted" in render_soak(restarted)
    short = SoakResult(1, 10, 120)
    short.snapshots = [snap(0, 100, 100), snap(60, 100, 100)]
    assert short.growth() == {} and short.failed and "run longer" in render_soak(short)


async def test_drive_keeps_a_constant_rate_and_samples():
    m = await MockGemini(MockSettings(chunks=2)).start()
    try:
        r = SoakResult(0.03, 100, 0)
        ticks = []
        t0 = time.perf_counter()
        await drive(Target("d", f"http://127.0.0.1:{m.port}", "gemini", "m"), r, 1.5, 100, ticks.append)
        elapsed = time.perf_counter() - t0
    finally:
        await m.close()
    assert 1.5 <= elapsed < 4
    assert 140 <= len(r.samples) <= 151 and r.errors == 0 and r.dropped == 0
    assert sum(1 for s in r.samples if s.ttft is not None) == len(r.samples) // 10  # every 10th streams
    assert ticks and ticks == sorted(ticks)


def test_cpu_plan_keeps_load_apart_when_it_can(monkeypatch):
    import bench.scaling as scaling

    monkeypatch.setattr(scaling.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert cpu_plan(2) == ({0}, {1}, {1, 2}, False)
    monkeypatch.setattr(scaling.os, "sched_getaffinity", lambda pid: {0, 1})
    assert cpu_plan(2) == ({0}, {1}, {0, 1}, True)
    monkeypatch.setattr(scaling.os, "sched_getaffinity", lambda pid: {3})
    assert cpu_plan(2) is None


class FakeGateway:
    def __init__(self, n_children, log):
        self.n, self.log = n_children, log

    def processes(self):
        return {"cli (parent)": 1, **{f"p{i}": 10 + i for i in range(self.n)}}


def test_worker_check_says_when_num_workers_was_ignored(tmp_path):
    log = tmp_path / "gemgate.log"
    log.write_text("gemgate: LiteLLM flag --num_workers accepted: gemgate runs one facade\n")
    why = worker_check(FakeGateway(3, log), 2, single_count=3)
    assert why and "--num_workers 2 started 3 processes" in why and "runs one facade" in why
    assert worker_check(FakeGateway(5, log), 2, single_count=3) is None
    assert worker_check(FakeGateway(3, log), 1, single_count=3) is None
