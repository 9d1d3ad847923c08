"""Process logging: one line per record on stderr. Secrets never reach log calls (keys are hashed
before they are logged; configs repr without secrets)."""

from __future__ import annotations

import logging
import os


def setup(name: str) -> None:
    level = os.environ.get("GEMGATE_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs full request URLs at INFO; keep them out (URLs may carry ?key=).
    logging.getLogger("httpx").setLevel(logging.WARNING)
