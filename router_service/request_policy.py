"""Per-request rules the servicer applies after admission (pure):
- per-request testing switches (`mock_response`, `mock_testing_*`) are honoured without a
  master_key (nothing to protect), from the master key, or from any key when
  general_settings.dangerously_allow_mock_testing_request_params is true; otherwise a 400, so a
  virtual key can neither force fallbacks to other (pricier) groups nor fake answers.
- forwarded client headers (general_settings.forward_client_headers_to_llm_api) are taken from the
  facade's gRPC metadata, allowlisted (gemgate.forward_headers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate.errors import invalid
from gemgate.forward_headers import from_metadata

if TYPE_CHECKING:
    from gemgate.config import GatewayConfig


def mock_keys(req: dict) -> list[str]:
    return [k for k in req if k.startswith("mock_") and req[k] not in (None, False)]


def check_mock_params(req: dict, identity, enforces: bool, config: GatewayConfig) -> None:
    if not enforces or config.general_settings.dangerously_allow_mock_testing_request_params:
        return
    if identity is not None and getattr(identity, "is_master", False):
        return
    keys = mock_keys(req)
    if keys:
        raise invalid(f"{keys[0]} is a testing switch; virtual keys may send it only when "
                      "general_settings.dangerously_allow_mock_testing_request_params is true", keys[0])


def forwarded_headers(metadata, config: GatewayConfig) -> tuple[tuple[str, str], ...]:
    if not config.general_settings.forward_client_headers_to_llm_api:
        return ()
    return from_metadata(metadata)
