"""The router's admission batches on one long-lived `ReserveStream` call to budget_service.

A unary `ReserveBatch` call pays gRPC's per-call setup and teardown in both processes (a bare gRPC
echo on one pinned CPU: ~200 µs per unary call against ~80 µs per message on an open stream). The
router sends one admission batch at a time (router_service/coalesce.py), so one stream carries them
all: write the batch, read its answer.

    stream = ReserveStream(stub.ReserveStream)
    response = await stream(request, timeout=2.5)   # as stub.ReserveBatch(request, timeout=2.5)

Failure modes match the unary call's: an error status ends the stream and reaches the caller as
that call's `AioRpcError` (a new stream is opened for the next batch); no answer within `timeout`
abandons the stream (the server's handler is cancelled, as a unary deadline would) and raises
`StreamTimeout`. A stream found ended when the batch is written, or ended by budget_service with
OK without answering it (shutting down: see ReserveStream in budget.proto), did not handle the
batch: it goes again at once on a new stream (budget_service restarted while this router was idle);
when the new stream ends so too, `StreamEnded` is raised. A budget_service without the RPC answers
UNIMPLEMENTED: `supported` turns False and the caller goes back to unary calls.
"""

from __future__ import annotations

import asyncio

import grpc


class StreamTimeout(Exception):
    """No answer within the timeout; the stream was abandoned."""


class StreamEnded(Exception):
    """budget_service ended the stream (OK) without answering the batch: it was not handled."""


class ReserveStream:
    def __init__(self, open_call) -> None:
        self._open = open_call  # the ReserveStream multi-callable
        self._call = None
        self._lock = asyncio.Lock()  # one batch on the stream at a time: answers come in order
        self.supported = True

    async def __call__(self, request, *, timeout: float):
        async with self._lock:
            return await self._exchange(request, timeout)

    async def _exchange(self, request, timeout: float):
        try:
            async with asyncio.timeout(timeout):
                for _ in range(2):
                    call = self._call
                    fresh = call is None or call.done()
                    if fresh:
                        call = self._call = self._open(None)
                    response = await self._once(call, request, fresh)
                    if response is not None:
                        return response
                    self._call = None  # it had ended without handling the batch
                    if fresh:
                        break
                raise StreamEnded()
        except TimeoutError:
            self._abandon()
            raise StreamTimeout() from None
        except grpc.aio.AioRpcError as exc:
            self._call = None
            if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                self.supported = False
            raise
        except BaseException:  # cancelled mid-exchange: the stream's state is unknown (StreamEnded: no call left)
            self._abandon()
            raise

    @staticmethod
    async def _once(call, request, fresh: bool):
        """The batch's answer, or None when the call had ended without handling it."""
        try:
            await call.write(request)
        except (asyncio.InvalidStateError, grpc.aio.AioRpcError):  # it had ended: nothing was sent
            if fresh:  # a new call that failed at once: its own status says why
                code = await call.code()
                if code is not grpc.StatusCode.OK:
                    raise grpc.aio.AioRpcError(code, await call.initial_metadata(), await call.trailing_metadata(),
                                               await call.details()) from None
            return None
        response = await call.read()
        # EOF (OK, no answer): budget_service ended the stream without handling this batch
        return None if response is grpc.aio.EOF else response

    def _abandon(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def close(self) -> None:
        self._abandon()
