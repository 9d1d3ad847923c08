"""Process logging: one line per record on stderr. Secrets never reach log calls (keys are hashed
before they are logged; configs repr without secrets).

LiteLLM-compatible switches: `litellm_settings.set_verbose: true` -> DEBUG (unless
GEMGATE_LOG_LEVEL is set), `litellm_settings.json_logs: true` -> one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import os
import time


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # timestamps in UTC, as the trailing Z says

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "service": self.service,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(name: str, *, verbose: bool = False, json_logs: bool = False) -> None:
    env_level = os.environ.get("GEMGATE_LOG_LEVEL")
    level = env_level.upper() if env_level else ("DEBUG" if verbose else "INFO")
    handler = logging.StreamHandler()
    if json_logs:
        handler.setFormatter(JsonFormatter(name))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))
    # httpx logs full request URLs at INFO; keep them out (URLs may carry ?key=), and keep the
    # HTTP client libraries quiet even at DEBUG.
    for noisy in ("httpx", "httpcore", "hpack", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def configure(name: str, settings) -> None:
    """Re-apply logging once the config is loaded (`settings` = config.litellm_settings)."""
    setup(name, verbose=settings.set_verbose, json_logs=settings.json_logs)
