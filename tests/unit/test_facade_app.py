"""rest_facade/app.py: settings of the FastAPI app itself."""

from __future__ import annotations

import inspect

from fastapi import FastAPI

from rest_facade.app import FacadeSettings, create_app


def test_fastapi_own_telemetry_hooks_are_off():
    """FastAPI's OpenTelemetry hooks would look up the global providers on every request; gemgate's
    telemetry comes from the router's callbacks, so the facade switches them off where FastAPI has them."""
    app = create_app(FacadeSettings(router_address="127.0.0.1:1"))
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return  # an older FastAPI: no hooks to switch off
    assert not app._native_telemetry.enabled()
    assert app._telemetry["tracing"] is False and app._telemetry["metrics"] is False and app._telemetry["logs"] is False
