"""The one error vocabulary of gemgate.

Everything inside raises `GatewayError(kind, message, ...)`. Each boundary converts it exactly once:
upstream HTTP -> ErrorKind (providers), ErrorKind -> gRPC status + ErrorInfo (servicers, see
`gemgate.grpc_errors`), gRPC status -> OpenAI error JSON + HTTP status (facade).
Never match on message text to decide what an error is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class KindInfo:
    http_status: int
    openai_type: str
    grpc_code: grpc.StatusCode
    default_code: str | None = None
    retryable: bool = False


class ErrorKind(enum.Enum):
    INVALID_REQUEST = KindInfo(400, "invalid_request_error", grpc.StatusCode.INVALID_ARGUMENT)
    CONTEXT_LENGTH_EXCEEDED = KindInfo(
        400, "invalid_request_error", grpc.StatusCode.INVALID_ARGUMENT, "context_length_exceeded"
    )
    CONTENT_POLICY = KindInfo(
        400, "invalid_request_error", grpc.StatusCode.INVALID_ARGUMENT, "content_policy_violation"
    )
    AUTHENTICATION = KindInfo(401, "authentication_error", grpc.StatusCode.UNAUTHENTICATED, "invalid_api_key")
    PERMISSION = KindInfo(403, "permission_error", grpc.StatusCode.PERMISSION_DENIED)
    PAYLOAD_TOO_LARGE = KindInfo(413, "invalid_request_error", grpc.StatusCode.INVALID_ARGUMENT, "request_too_large")
    NOT_FOUND = KindInfo(404, "invalid_request_error", grpc.StatusCode.NOT_FOUND, "not_found")
    MODEL_NOT_FOUND = KindInfo(404, "invalid_request_error", grpc.StatusCode.NOT_FOUND, "model_not_found")
    REQUEST_TIMEOUT = KindInfo(408, "timeout_error", grpc.StatusCode.DEADLINE_EXCEEDED, "timeout", True)
    RATE_LIMIT = KindInfo(429, "rate_limit_error", grpc.StatusCode.RESOURCE_EXHAUSTED, "rate_limit_exceeded", True)
    BUDGET_EXCEEDED = KindInfo(429, "budget_exceeded", grpc.StatusCode.RESOURCE_EXHAUSTED, "budget_exceeded")
    UPSTREAM_ERROR = KindInfo(500, "server_error", grpc.StatusCode.INTERNAL, "upstream_error", True)
    BAD_GATEWAY = KindInfo(502, "server_error", grpc.StatusCode.UNAVAILABLE, "bad_gateway", True)
    UNAVAILABLE = KindInfo(503, "server_error", grpc.StatusCode.UNAVAILABLE, "service_unavailable", True)
    UPSTREAM_TIMEOUT = KindInfo(504, "timeout_error", grpc.StatusCode.DEADLINE_EXCEEDED, "timeout", True)
    INTERNAL = KindInfo(500, "server_error", grpc.StatusCode.INTERNAL, "internal_error")

    @property
    def info(self) -> KindInfo:
        return self.value


class GatewayError(Exception):
    """An error with a kind from the vocabulary. `message` is safe to show to the client."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code if code is not None else kind.info.default_code
        self.retry_after = retry_after
        self.upstream_status = upstream_status

    @property
    def retryable(self) -> bool:
        return self.kind.info.retryable

    def openai_body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.kind.info.openai_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def __repr__(self) -> str:
        return f"GatewayError({self.kind.name}, {self.message!r}, param={self.param!r}, code={self.code!r})"


def invalid(message: str, param: str | None = None, code: str | None = None) -> GatewayError:
    return GatewayError(ErrorKind.INVALID_REQUEST, message, param=param, code=code)
