"""Config constants that processes without the config machinery need (budget_service's ledger): this
module imports nothing, gemgate.config (pydantic, yaml) re-exports them."""

class ConfigError(Exception):
    """Invalid configuration; the message names the offending field."""


ALL_MODELS = "all-proxy-models"  # a virtual key's `models` entry that allows every group (LiteLLM's name)
