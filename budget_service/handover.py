"""What budget_service takes from the config, handed over by the `gemgate` CLI.

The CLI has loaded and checked the config already; it passes budget_service the few values it uses
(JSON in the environment variable GEMGATE_BUDGET_SETTINGS, next to the internal secret), so the
budget process does not load the config machinery (pydantic, yaml and the config models: ~11 MiB of
its memory). Run on its own (`python -m budget_service --config config.yaml`), budget_service loads
the config itself as before.

`BudgetConfig` answers what budget_service/server.py asks a GatewayConfig: general_settings
(master_key, budget_deadline, database_connection_pool_limit, internal_secret), litellm_settings
(max_budget, budget_duration, set_verbose, json_logs), model_list (model_name and
model_info.access_groups of the deployments that name access groups), redis_url() and
database_url() (resolved by the CLI with the environment it gives the child).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace

from gemgate.config_views import pop_handover

ENV = "GEMGATE_BUDGET_SETTINGS"


def export(config, environ: Mapping[str, str]) -> str:
    """The settings of `config` (a GatewayConfig) for a budget_service started with `environ`.
    Raises ConfigError as config.database_url() does (the caller then lets the child report it)."""
    gs, ls = config.general_settings, config.litellm_settings
    return json.dumps({
        "general_settings": {"master_key": gs.master_key, "budget_deadline": gs.budget_deadline,
                             "database_connection_pool_limit": gs.database_connection_pool_limit,
                             "internal_secret": gs.internal_secret},
        "litellm_settings": {"max_budget": ls.max_budget, "budget_duration": ls.budget_duration,
                             "set_verbose": ls.set_verbose, "json_logs": ls.json_logs},
        "model_list": [{"model_name": d.model_name, "access_groups": list(d.model_info.access_groups)}
                       for d in config.model_list if d.model_info.access_groups],
        "redis_url": config.redis_url(dict(environ)),
        "database_url": config.database_url(dict(environ)),
    })


class BudgetConfig:
    def __init__(self, data: dict) -> None:
        self.general_settings = SimpleNamespace(**data["general_settings"])
        self.litellm_settings = SimpleNamespace(**data["litellm_settings"])
        self.model_list = [SimpleNamespace(model_name=d["model_name"],
                                           model_info=SimpleNamespace(access_groups=list(d["access_groups"])))
                           for d in data["model_list"]]
        self._redis_url = data["redis_url"]
        self._database_url = data["database_url"]

    def redis_url(self, environ=None) -> str:
        return self._redis_url

    def database_url(self, environ=None) -> str | None:
        return self._database_url

    def __repr__(self) -> str:  # never the secrets
        return f"BudgetConfig(model_list={len(self.model_list)} deployment(s) with access groups)"


def take(environ=None) -> BudgetConfig | None:
    """The handed-over settings (removed from the environment), or None when started without them."""
    data = pop_handover(ENV, environ)
    return BudgetConfig(data) if data is not None else None
