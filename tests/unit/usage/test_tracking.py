from gemgate import metrics
from gemgate.errors import ErrorKind, GatewayError
from router_service.usage.dispatcher import DispatcherSettings, SinkRoute, UsageDispatcher
from router_service.usage.record import new_record
from router_service.usage.tracking import mark_first_token, track


class Mem:
    name = "mem-track"

    def __init__(self):
        self.got = []

    async def send(self, records):
        self.got.extend(records)

    async def aclose(self):
        pass


async def test_track_success_and_failure():
    sink = Mem()
    d = UsageDispatcher([SinkRoute(sink)], DispatcherSettings(flush_interval=0.01))
    metrics.set_model_groups(["trk"])  # only configured groups get their own label
    before = metrics.REQUESTS.labels("trk", "failure")._value.get()
    ok = new_record("trk", stream=True)
    mark_first_token(ok)
    first = ok.first_token_time
    mark_first_token(ok)
    assert ok.first_token_time == first
    track(d, ok.with_usage({"prompt_tokens": 1, "completion_tokens": 2}))
    bad = new_record("trk")
    track(d, bad, error=GatewayError(ErrorKind.RATE_LIMIT, "limit for sk-secret-123456"), secrets=("sk-secret-123456",))
    await d.aclose()
    assert [r.status for r in sink.got] == ["success", "failure"]
    assert sink.got[0].end_time >= sink.got[0].start_time and sink.got[0].time_to_first_token is not None
    assert "sk-secret" not in sink.got[1].error_message and sink.got[1].error_type == "RATE_LIMIT"
    assert metrics.REQUESTS.labels("trk", "failure")._value.get() - before == 1


def test_track_never_raises():
    track(None, None)  # type: ignore[arg-type]
    track(None, new_record("trk2"))
