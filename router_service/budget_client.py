"""The router's side of budget enforcement: admit before the upstream call, settle after.

`BudgetGate` talks to budget_service over gRPC; `OpenGate` is used when no master_key is configured
(no authentication, nothing to enforce).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import from_rpc_error
from gemgate.v1 import budget_pb2, budget_pb2_grpc


def missing_key() -> GatewayError:
    return GatewayError(
        ErrorKind.AUTHENTICATION,
        "No API key provided. Send it as 'Authorization: Bearer <key>'.",
        code="missing_api_key",
    )


@dataclass
class Admission:
    request_id: str
    identity: budget_pb2.KeyIdentity | None = None


class OpenGate:
    async def authorize(self, api_key: str | None) -> None:
        return None

    async def admit(self, api_key: str | None, request_id: str, request: dict) -> Admission:
        return Admission(request_id)

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool) -> None:
        return None

    async def close(self) -> None:
        return None


class BudgetGate:
    def __init__(self, address: str, *, deadline: float = 2.0) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = budget_pb2_grpc.BudgetServiceStub(self.channel)
        self.deadline = deadline

    async def authorize(self, api_key: str | None) -> budget_pb2.KeyIdentity:
        if not api_key:
            raise missing_key()
        try:
            resp = await self.stub.Authorize(budget_pb2.AuthorizeRequest(api_key=api_key), timeout=self.deadline)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return resp.identity

    async def admit(self, api_key: str | None, request_id: str, request: dict) -> Admission:
        if not api_key:
            raise missing_key()
        try:
            resp = await self.stub.Authorize(
                budget_pb2.AuthorizeRequest(api_key=api_key, model=request.get("model", "")),
                timeout=self.deadline,
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return Admission(request_id, resp.identity)

    async def settle(self, admission: Admission, *, usage: dict | None, route, success: bool) -> None:
        return None

    async def close(self) -> None:
        await self.channel.close()
