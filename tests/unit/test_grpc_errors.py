"""GatewayError survives the gRPC hop with kind, param, code and retry hint intact."""

import grpc
import pytest

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort, from_rpc_error
from gemgate.grpc_server import MESSAGE_OPTIONS
from gemgate.v1 import router_pb2, router_pb2_grpc


class Failing(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, err, metadata=()):
        self.err = err
        self.metadata = metadata

    async def ListModels(self, request, context):
        await abort(context, self.err, self.metadata)


@pytest.mark.parametrize("kind", list(ErrorKind))
async def test_round_trip(kind):
    err = GatewayError(kind, "msg for client", param="messages[0]", retry_after=7.0)
    server = grpc.aio.server(options=MESSAGE_OPTIONS)
    router_pb2_grpc.add_RouterServiceServicer_to_server(Failing(err), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await router_pb2_grpc.RouterServiceStub(ch).ListModels(router_pb2.ListModelsRequest())
        assert exc.value.code() == kind.info.grpc_code
        back = from_rpc_error(exc.value)
        assert back.kind is kind
        assert (back.message, back.param, back.code, back.retry_after) == ("msg for client", "messages[0]", kind.info.default_code, 7.0)
        assert back.openai_body()["error"]["type"] == kind.info.openai_type
    finally:
        await server.stop(None)


async def test_abort_keeps_trailing_metadata_next_to_the_status():
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=2.0)
    server = grpc.aio.server(options=MESSAGE_OPTIONS)
    router_pb2_grpc.add_RouterServiceServicer_to_server(Failing(err, (("x-gemgate-attempts", "3"),)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await router_pb2_grpc.RouterServiceStub(ch).ListModels(router_pb2.ListModelsRequest())
        assert exc.value.trailing_metadata().get("x-gemgate-attempts") == "3"
        back = from_rpc_error(exc.value)
        assert (back.kind, back.retry_after) == (ErrorKind.RATE_LIMIT, 2.0)
    finally:
        await server.stop(None)


def test_foreign_status_maps_by_code():
    class Fake(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return "connection refused"

    err = from_rpc_error(Fake())
    assert err.kind is ErrorKind.UNAVAILABLE and err.kind.info.http_status == 503
