import asyncio
import time

from gemgate import metrics
from router_service.usage.dispatcher import DispatcherSettings, SinkRoute, UsageDispatcher
from router_service.usage.record import UsageRecord


class MemorySink:
    def __init__(self, name="mem", fail_times=0):
        self.name = name
        self.batches: list[list[str]] = []
        self.fail_times = fail_times
        self.closed = False

    async def send(self, records):
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("boom")
        self.batches.append([r.request_id for r in records])

    async def aclose(self):
        self.closed = True


class HungSink:
    name = "hung"

    def __init__(self):
        self.calls = 0

    async def send(self, records):
        self.calls += 1
        await asyncio.Event().wait()

    async def aclose(self):
        pass


def rec(i, status="success"):
    return UsageRecord(request_id=f"r{i}", model_group="g", status=status)


async def test_record_is_non_blocking_under_hung_sink():
    hung, mem = HungSink(), MemorySink()
    d = UsageDispatcher([SinkRoute(hung), SinkRoute(mem)],
                        DispatcherSettings(queue_size=50, batch_size=5, flush_interval=0.01, sink_timeout=0.2,
                                           max_retries=0))
    t0 = time.perf_counter()
    for i in range(1000):
        d.record(rec(i))
    assert time.perf_counter() - t0 < 0.5  # 1000 records never wait for a sink
    await asyncio.sleep(0.3)
    assert mem.batches, "a hung sink must not stop the other sink"
    await d.aclose(deadline=0.5)
    assert d.stats["hung"]["dropped"] > 0
    assert d.stats["mem"]["delivered"] + d.stats["mem"]["dropped"] == 1000


async def test_full_queue_drops_and_counts():
    before = metrics.USAGE_DROPPED.labels("tiny")._value.get()
    sink = MemorySink("tiny")
    d = UsageDispatcher([SinkRoute(sink)], DispatcherSettings(queue_size=3, batch_size=100, flush_interval=0.05))
    for i in range(10):  # no await in between: the worker cannot run
        d.record(rec(i))
    assert d.stats["tiny"]["dropped"] == 7
    assert metrics.USAGE_DROPPED.labels("tiny")._value.get() - before == 7
    await d.aclose()
    assert sink.batches == [["r0", "r1", "r2"]]
    assert d.stats["tiny"]["delivered"] == 3


async def test_batches_by_size_and_by_time():
    sink = MemorySink()
    d = UsageDispatcher([SinkRoute(sink)], DispatcherSettings(batch_size=4, flush_interval=0.05))
    for i in range(10):
        d.record(rec(i))
    await asyncio.sleep(0.2)
    assert [len(b) for b in sink.batches] == [4, 4, 2]  # the partial batch is flushed by time
    d.record(rec(10))
    await asyncio.sleep(0.15)
    assert sink.batches[-1] == ["r10"]
    await d.aclose()


async def test_close_flushes_pending_within_deadline():
    sink = MemorySink()
    d = UsageDispatcher([SinkRoute(sink)], DispatcherSettings(batch_size=1000, flush_interval=60))
    for i in range(25):
        d.record(rec(i))
    t0 = time.perf_counter()
    await d.aclose(deadline=2)
    assert time.perf_counter() - t0 < 1.0  # did not wait for flush_interval
    assert sum(len(b) for b in sink.batches) == 25
    assert sink.closed
    d.record(rec(99))  # after close: ignored, no error
    assert d.stats["mem"]["delivered"] == 25


async def test_close_deadline_with_hung_sink_counts_dropped():
    hung = HungSink()
    d = UsageDispatcher([SinkRoute(hung)], DispatcherSettings(batch_size=2, flush_interval=0.01, sink_timeout=30))
    for i in range(6):
        d.record(rec(i))
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    await d.aclose(deadline=0.2)
    assert time.perf_counter() - t0 < 1.0
    assert d.stats["hung"]["dropped"] == 4  # the in-flight batch is lost; the rest counted as dropped


async def test_retry_then_success_and_failure_counted():
    flaky = MemorySink("flaky", fail_times=1)
    dead = MemorySink("dead", fail_times=100)
    d = UsageDispatcher([SinkRoute(flaky), SinkRoute(dead)],
                        DispatcherSettings(flush_interval=0.01, max_retries=1, retry_backoff=0.01))
    d.record(rec(1))
    await asyncio.sleep(0.2)
    await d.aclose()
    assert flaky.batches == [["r1"]] and d.stats["flaky"] == {"delivered": 1, "failed": 0, "dropped": 0}
    assert d.stats["dead"] == {"delivered": 0, "failed": 1, "dropped": 0}


async def test_success_and_failure_routing():
    s, f, both = MemorySink("s"), MemorySink("f"), MemorySink("both")
    d = UsageDispatcher([SinkRoute(s, True, False), SinkRoute(f, False, True), SinkRoute(both)],
                        DispatcherSettings(flush_interval=0.01))
    d.record(rec(1))
    d.record(rec(2, "failure"))
    await d.aclose()
    assert s.batches == [["r1"]] and f.batches == [["r2"]] and both.batches == [["r1", "r2"]]


async def test_record_never_raises_on_bad_input():
    d = UsageDispatcher([SinkRoute(MemorySink())])
    d.record(None)  # type: ignore[arg-type]
    await d.aclose()


def test_record_without_loop_never_raises():
    d = UsageDispatcher([SinkRoute(MemorySink())])
    d.record(rec(1))  # no running loop: dropped silently, no exception


async def test_no_sinks_is_a_noop():
    d = UsageDispatcher([])
    d.record(rec(1))
    await d.aclose()
    assert d.stats == {}
