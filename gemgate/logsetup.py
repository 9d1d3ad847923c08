"""Process logging: one line per record on stderr. Secrets never reach log calls (keys are hashed
before they are logged; configs repr without secrets).

LiteLLM-compatible switches: `litellm_settings.set_verbose: true` -> DEBUG (unless
GEMGATE_LOG_LEVEL is set), `litellm_settings.json_logs: true` -> one JSON object per line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
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


_json_formatter: JsonFormatter | None = None  # set while json_logs is on in this process


def json_enabled() -> bool:
    return _json_formatter is not None


def _excepthook(exc_type, exc, tb) -> None:  # an uncaught exception is one (JSON) log record too
    logging.getLogger("gemgate").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def setup(name: str, *, verbose: bool = False, json_logs: bool = False) -> None:
    global _json_formatter
    _json_formatter = JsonFormatter(name) if json_logs else None
    logging.captureWarnings(True)  # warnings.warn output goes through the same handler
    sys.excepthook = _excepthook if json_logs else sys.__excepthook__
    env_level = os.environ.get("GEMGATE_LOG_LEVEL")
    level = env_level.upper() if env_level else ("DEBUG" if verbose else "INFO")
    handler = logging.StreamHandler()
    if _json_formatter is not None:
        handler.setFormatter(_json_formatter)
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.INFO))
    # httpx logs full request URLs at INFO; keep them out (URLs may carry ?key=), and keep the
    # HTTP client libraries quiet even at DEBUG.
    for noisy in ("httpx", "httpcore", "hpack", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's loggers keep no handlers of their own (the facade runs it with log_config=None)
    for uv in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(uv).handlers[:] = []
        logging.getLogger(uv).propagate = True


def console(message: str, *, level: int = logging.INFO, logger: str = "gemgate.cli") -> None:
    """A line for the operator on stderr: plain text, or one JSON object when json_logs is on."""
    if _json_formatter is None:
        print(message, file=sys.stderr, flush=True)
        return
    record = logging.LogRecord(logger, level, __file__, 0, message, None, None)
    print(_json_formatter.format(record), file=sys.stderr, flush=True)


def json_stderr(service: str) -> None:
    """json_logs for output that bypasses Python logging in THIS process (gRPC's C core writes to
    file descriptor 2 directly): fd 2 becomes a pipe relayed line by line, wrapped as JSON."""
    import atexit

    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # Python writes go through the pipe too
    thread = relay_output(os.fdopen(read_fd, "rb"), service, out=os.fdopen(saved, "w", buffering=1))

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(thread.out_fd, 2)  # closes the pipe's last write end: the relay sees EOF
        thread.join(timeout=2)

    atexit.register(restore)


def relay_output(stream, service: str, out=None) -> threading.Thread:
    """Copy a child process's stdout/stderr to ours line by line (json_logs mode): a line that is
    already a JSON object passes unchanged, anything else (gRPC C-core logs, a crash before logging
    was set up, stray prints) becomes one JSON record of `service`. One formatter for everything."""
    formatter = JsonFormatter(service)

    def run() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line.strip():
                    continue
                try:
                    ok = isinstance(json.loads(line), dict)
                except ValueError:
                    ok = False
                if not ok:
                    rec = logging.LogRecord(f"{service}.output", logging.INFO, __file__, 0, line, None, None)
                    line = formatter.format(rec)
                target = out or sys.stderr
                target.write(line + "\n")
                target.flush()

    thread = threading.Thread(target=run, name=f"relay-{service}", daemon=True)
    thread.out_fd = out.fileno() if out is not None else 2  # type: ignore[attr-defined]
    thread.start()
    return thread


def configure(name: str, settings) -> None:
    """Re-apply logging once the config is loaded (`settings` = config.litellm_settings)."""
    setup(name, verbose=settings.set_verbose, json_logs=settings.json_logs)
