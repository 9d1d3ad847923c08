"""BudgetService gRPC servicer (transport only; rules live in the ledger)."""

from __future__ import annotations

import grpc

from gemgate.errors import ErrorKind, GatewayError
from gemgate.grpc_errors import abort
from gemgate.v1 import budget_pb2, budget_pb2_grpc
from budget_service.keys import hash_key, same_secret


class BudgetServicer(budget_pb2_grpc.BudgetServiceServicer):
    def __init__(self, master_key: str | None) -> None:
        self.master_key = master_key

    def _identify(self, api_key: str) -> budget_pb2.KeyIdentity:
        if self.master_key is None:
            return budget_pb2.KeyIdentity(is_master=True)
        if api_key and same_secret(api_key, self.master_key):
            return budget_pb2.KeyIdentity(is_master=True, key_hash=hash_key(api_key))
        raise GatewayError(ErrorKind.AUTHENTICATION, "Invalid API key.")

    async def Authorize(self, request, context: grpc.aio.ServicerContext):
        try:
            return budget_pb2.AuthorizeResponse(identity=self._identify(request.api_key))
        except GatewayError as err:
            await abort(context, err)

    async def Reserve(self, request, context: grpc.aio.ServicerContext):
        try:
            return budget_pb2.ReserveResponse(identity=self._identify(request.api_key))
        except GatewayError as err:
            await abort(context, err)

    async def Settle(self, request, context: grpc.aio.ServicerContext):
        return budget_pb2.SettleResponse(applied=True)
