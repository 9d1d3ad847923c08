"""GatewayError <-> gRPC status, losslessly: the status code carries the class of failure and a
google.rpc.ErrorInfo detail (domain "gemgate") carries the ErrorKind, param, code and retry hint."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from gemgate.errors import ErrorKind, GatewayError

DOMAIN = "gemgate"

_GRPC_TO_KIND = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorKind.INVALID_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorKind.INVALID_REQUEST,
    grpc.StatusCode.OUT_OF_RANGE: ErrorKind.INVALID_REQUEST,
    grpc.StatusCode.UNAUTHENTICATED: ErrorKind.AUTHENTICATION,
    grpc.StatusCode.PERMISSION_DENIED: ErrorKind.PERMISSION,
    grpc.StatusCode.NOT_FOUND: ErrorKind.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorKind.RATE_LIMIT,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorKind.UPSTREAM_TIMEOUT,
    grpc.StatusCode.UNAVAILABLE: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorKind.UNAVAILABLE,
}


def to_status(err: GatewayError) -> status_pb2.Status:
    meta = {}
    if err.param is not None:
        meta["param"] = err.param
    if err.code is not None:
        meta["code"] = err.code
    if err.retry_after is not None:
        meta["retry_after"] = f"{err.retry_after:.3f}"
    if err.upstream_status is not None:
        meta["upstream_status"] = str(err.upstream_status)
    info = error_details_pb2.ErrorInfo(reason=err.kind.name, domain=DOMAIN, metadata=meta)
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(
        code=err.kind.info.grpc_code.value[0], message=err.message, details=[detail]
    )


async def abort(context: grpc.aio.ServicerContext, err: GatewayError, metadata=()) -> None:
    """Abort an aio RPC with `err` (raises). `metadata` goes into the trailing metadata next to the
    status details (aborting replaces whatever set_trailing_metadata had set)."""
    status = rpc_status.to_status(to_status(err))
    await context.abort(status.code, status.details, tuple(metadata) + tuple(status.trailing_metadata))


def from_rpc_error(exc: grpc.aio.AioRpcError | grpc.RpcError) -> GatewayError:
    """Rebuild the GatewayError a gemgate service sent; map foreign statuses by code."""
    status = rpc_status.from_call(exc) if hasattr(exc, "trailing_metadata") else None
    code = exc.code()
    message = exc.details() or code.name
    if status is not None:
        err = _gemgate_error(status, message)
        if err is not None:
            return err
    kind = _GRPC_TO_KIND.get(code, ErrorKind.INTERNAL)
    if kind is ErrorKind.INTERNAL:
        # A status no gemgate service raised on purpose (e.g. grpc's own "Unexpected <class ...>"):
        # its text describes internals, never show it to a client.
        message = "internal error between gemgate services"
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        # a service that is down or restarting: no internal addresses in the message, retry soon
        return GatewayError(kind, "an internal gemgate service is unavailable (restarting?); retry shortly",
                            code="service_unavailable", retry_after=1.0)
    return GatewayError(kind, message)



def _gemgate_error(status: status_pb2.Status, message: str) -> GatewayError | None:
    """The GatewayError a google.rpc.Status with gemgate's ErrorInfo describes, else None."""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == DOMAIN and info.reason in ErrorKind.__members__:
                meta = dict(info.metadata)
                return GatewayError(
                    ErrorKind[info.reason],
                    message,
                    param=meta.get("param"),
                    code=meta.get("code"),
                    retry_after=float(meta["retry_after"]) if "retry_after" in meta else None,
                    upstream_status=int(meta["upstream_status"]) if "upstream_status" in meta else None,
                )
    return None


def to_status_bytes(err: GatewayError) -> bytes:
    """`err` as a serialized google.rpc.Status (one item's error inside a batch reply)."""
    return to_status(err).SerializeToString()


def from_status_bytes(raw: bytes) -> GatewayError:
    """The inverse of to_status_bytes; anything unreadable is an internal error."""
    status = status_pb2.Status()
    try:
        status.ParseFromString(raw)
    except Exception:  # noqa: BLE001 - a malformed item never escapes as a parse error
        return GatewayError(ErrorKind.INTERNAL, "internal error between gemgate services")
    return _gemgate_error(status, status.message) or GatewayError(
        ErrorKind.INTERNAL, "internal error between gemgate services")
