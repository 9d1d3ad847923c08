"""What the facade takes from the config, handed over by the `gemgate` CLI.

The CLI has loaded and checked the config already; it passes each facade worker the few settings
every request needs (JSON in the environment variable GEMGATE_FACADE_SETTINGS), so the facade does
not load the config machinery at startup (the config models, yaml, the config screen: ~3 MiB of each
facade worker). The whole config is loaded, from the same file, only when a LiteLLM utility endpoint
that describes the models (/model/info, /model_group/info, /utils/token_counter) is first called,
as a restarted router would read it. Run on its own (`python -m rest_facade --config config.yaml`),
the facade loads the config itself as before.

`FacadeConfig` answers what the facade asks a GatewayConfig at startup and per request:
general_settings (master_key, dangerously_permit_weak_or_unset_master_key, metrics_token,
max_request_size_mb, forward_client_headers_to_llm_api, allowed_routes, internal_secret) and
litellm_settings (set_verbose, json_logs); `full()` gives the GatewayConfig.
"""

from __future__ import annotations

import json
import os
import threading
from types import SimpleNamespace

from gemgate.config_views import pop_handover

ENV = "GEMGATE_FACADE_SETTINGS"
_GENERAL = ("master_key", "dangerously_permit_weak_or_unset_master_key", "metrics_token", "max_request_size_mb",
            "forward_client_headers_to_llm_api", "allowed_routes", "internal_secret")
_LITELLM = ("set_verbose", "json_logs")


def export(config, config_path: str) -> str:
    """The settings of `config` (a GatewayConfig loaded from `config_path`) for a facade worker."""
    gs, ls = config.general_settings, config.litellm_settings
    return json.dumps({"general_settings": {name: getattr(gs, name) for name in _GENERAL},
                       "litellm_settings": {name: getattr(ls, name) for name in _LITELLM},
                       "config_path": os.path.abspath(config_path)})


class FacadeConfig:
    def __init__(self, data: dict) -> None:
        self.general_settings = SimpleNamespace(**data["general_settings"])
        self.litellm_settings = SimpleNamespace(**data["litellm_settings"])
        self._path = data["config_path"]
        self._full = None
        self._lock = threading.Lock()

    def full(self):
        """The whole GatewayConfig, loaded from the config file on first use (then kept). Raises
        gemgate.config.ConfigError when the file no longer loads."""
        with self._lock:
            if self._full is None:
                from gemgate.config import load_config

                self._full = load_config(self._path)
            return self._full

    def __repr__(self) -> str:  # never the secrets
        return f"FacadeConfig({self._path!r})"


def take(environ: dict[str, str] | None = None) -> FacadeConfig | None:
    """The handed-over settings (removed from the environment), or None when started without them."""
    data = pop_handover(ENV, environ)
    return FacadeConfig(data) if data is not None else None
