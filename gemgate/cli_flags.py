"""Command-line flags of `gemgate` (also installed as `litellm`): gemgate's own plus LiteLLM's
proxy CLI flags. Each LiteLLM flag is implemented, accepted with a one-line note, or refused with
what to do instead (a flag that would change routing, pricing or security is never silently
accepted). LiteLLM spells flags with underscores; both `--num_workers` and `--num-workers` work.
"""

from __future__ import annotations

import argparse
import os

from gemgate import master_key_policy
from gemgate.supervisor import RESTART_DELAY

# LiteLLM flags accepted with a note: name -> (takes a value, note)
NOTED: dict[str, tuple[bool, str]] = {
    "telemetry": (True, "gemgate sends no telemetry"),
    "use_queue": (False, "gemgate has no request queue; requests are routed as they arrive"),
    "run_gunicorn": (False, "gemgate serves with uvicorn"),
    "run_hypercorn": (False, "gemgate serves with uvicorn"),
    "keepalive_timeout": (True, "gemgate uses its own HTTP keep-alive settings"),
    "log_config": (True, "use --debug / --detailed_debug, litellm_settings.json_logs or GEMGATE_LOG_LEVEL"),
    "use_prisma_migrate": (False, "gemgate needs no database migrations step"),
    "use_prisma_db_push": (False, "gemgate needs no database migrations step"),
    "local": (False, "not applicable to gemgate"),
    "max_requests_before_restart": (True, "gemgate processes are not recycled"),
    "iam_token_db_auth": (False, "not applicable to gemgate"),
    "save": (False, "not applicable to gemgate"),
}
# LiteLLM flags that would change behaviour if ignored: refused, with where the setting goes instead
REFUSED: dict[str, tuple[bool, str]] = {
    "model": (True, "define models in config.yaml model_list"),
    "alias": (True, "use router_settings.model_group_alias in config.yaml"),
    "api_base": (True, "set litellm_params.api_base in config.yaml"),
    "api_version": (True, "not applicable to Gemini/Vertex"),
    "add_key": (True, "create keys with POST /key/generate"),
    "headers": (True, "set litellm_params.extra_headers in config.yaml"),
    "temperature": (True, "set litellm_params.temperature in config.yaml"),
    "max_tokens": (True, "set litellm_params.max_tokens in config.yaml"),
    "request_timeout": (True, "set litellm_settings.request_timeout in config.yaml"),
    "drop_params": (False, "set litellm_settings.drop_params: true in config.yaml"),
    "add_function_to_prompt": (False, "not supported by gemgate"),
    "max_budget": (True, "set litellm_settings.max_budget in config.yaml"),
    "ssl_keyfile_path": (True, "terminate TLS in a reverse proxy in front of gemgate"),
    "ssl_certfile_path": (True, "terminate TLS in a reverse proxy in front of gemgate"),
    "ciphers": (True, "terminate TLS in a reverse proxy in front of gemgate"),
    "test": (False, "call POST /chat/completions with any OpenAI client instead"),
    "test_async": (False, "not supported by gemgate"),
    "num_requests": (True, "not supported by gemgate"),
    "health": (False, "call GET /health with the master key instead"),
}

MAX_WORKERS = 64
WORKERS_ENV = "NUM_WORKERS"  # LiteLLM's environment variable for --num_workers

EPILOG = """LiteLLM proxy flags:
  implemented: --config (-c), --host, --port, --num_workers (env NUM_WORKERS), --debug (INFO logs),
               --detailed_debug (DEBUG logs), --skip_server_startup (check the config and exit), --version
  accepted with a note: """ + ", ".join("--" + n for n in NOTED) + """
  refused with what to do instead: """ + ", ".join("--" + n for n in REFUSED) + """
LITELLM_LOG=DEBUG|INFO|ERROR in the environment works like GEMGATE_LOG_LEVEL."""


def build_parser(prog: str = "gemgate") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="OpenAI-compatible gateway for Gemini and Vertex AI",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", "-c", help="LiteLLM-format config.yaml (required)")
    ap.add_argument("--host", default="0.0.0.0", help="facade listen host (default 0.0.0.0)")
    ap.add_argument("--port", type=int, default=4000, help="facade port (default 4000)")
    ap.add_argument("--internal-host", default="127.0.0.1", help="host of the internal gRPC services")
    ap.add_argument("--router-port", type=int, default=None, help="router_service gRPC port (default port+1)")
    ap.add_argument("--budget-port", type=int, default=None, help="budget_service gRPC port (default port+2)")
    ap.add_argument("--redis-prefix", default="gemgate:", help="prefix of every Redis key the gateway writes")
    ap.add_argument("--router-metrics-port", type=int, default=None, help="router_service metrics port (default port+3)")
    ap.add_argument("--budget-metrics-port", type=int, default=None, help="budget_service metrics port (default port+4)")
    ap.add_argument("--exit-on-child-crash", action="store_true",
                    help="stop everything and exit 1 when a service dies (for an outer supervisor) instead of restarting it")
    ap.add_argument(master_key_policy.FLAG, dest="permit_weak_master_key", action="store_true",
                    help="start even without a master_key / with a weak one on a non-loopback --host (dangerous)")
    ap.add_argument("--restart-delay", type=float, default=RESTART_DELAY,
                    help=f"first restart backoff in seconds after a crash, doubled per crash in a row up to 10 s (default {RESTART_DELAY})")
    ap.add_argument("--num_workers", "--num-workers", dest="num_workers", type=str, default=None, metavar="N",
                    help=f"run N facade processes sharing --port (SO_REUSEPORT) and N router_service processes, "
                         f"1..{MAX_WORKERS} (default 1, or the environment variable {WORKERS_ENV}; LiteLLM flag). "
                         "Router worker 1 uses --router-port/--router-metrics-port, the others free loopback ports "
                         "picked at startup; the budget service stays one process")
    ap.add_argument("--debug", action="store_true", help="INFO-level logs (LiteLLM flag)")
    ap.add_argument("--detailed_debug", "--detailed-debug", action="store_true", help="DEBUG-level logs (LiteLLM flag)")
    ap.add_argument("--skip_server_startup", "--skip-server-startup", action="store_true",
                    help="validate the config, print its warnings and exit (LiteLLM flag)")
    ap.add_argument("--version", "-v", action="store_true", help="print the version and exit")
    for table in (NOTED, REFUSED):
        for name, (takes_value, note) in table.items():
            flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
            kw = {"default": None, "help": argparse.SUPPRESS, "dest": f"litellm_{name}"}
            if takes_value:
                ap.add_argument(*flags, nargs="?", const=True, **kw)
            else:
                ap.add_argument(*flags, action="store_true", **kw)
    return ap


def parse(argv: list[str] | None = None, prog: str = "gemgate") -> tuple[argparse.Namespace, list[str]]:
    """(args, notes). Exits with a message for a refused LiteLLM flag or a missing --config."""
    ap = build_parser(prog)
    args = ap.parse_args(argv)
    if args.version:
        from gemgate import __version__

        print(f"gemgate {__version__}")
        raise SystemExit(0)
    for name, (_, advice) in REFUSED.items():
        if getattr(args, f"litellm_{name}") not in (None, False):
            ap.exit(2, f"{prog}: LiteLLM flag --{name} is not supported by gemgate: {advice}\n")
    if not args.config:
        ap.error("the following arguments are required: --config")
    if args.restart_delay <= 0:
        ap.error("--restart-delay must be a positive number of seconds")
    try:
        args.num_workers = num_workers(args.num_workers)
    except ValueError as exc:
        ap.error(str(exc))
    notes = [f"LiteLLM flag --{name} accepted: {note}" for name, (_, note) in NOTED.items()
             if getattr(args, f"litellm_{name}") not in (None, False)]
    return args, notes


def num_workers(flag: str | None, environ=os.environ) -> int:
    """--num_workers, else $NUM_WORKERS, else 1; ValueError (naming the source) outside 1..MAX_WORKERS."""
    source, raw = ("--num_workers", flag) if flag is not None else (WORKERS_ENV, environ.get(WORKERS_ENV))
    if raw is None or (source == WORKERS_ENV and not raw.strip()):
        return 1
    try:
        n = int(raw.strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_WORKERS:
        raise ValueError(f"{source} must be a whole number from 1 to {MAX_WORKERS} (got {raw!r})")
    return n


def log_level(args: argparse.Namespace, environ=os.environ) -> str | None:
    """The log level the flags / LITELLM_LOG ask for (GEMGATE_LOG_LEVEL, if set, wins)."""
    if environ.get("GEMGATE_LOG_LEVEL"):
        return None
    if args.detailed_debug:
        return "DEBUG"
    if args.debug:
        return "INFO"
    litellm_log = (environ.get("LITELLM_LOG") or "").upper()
    return litellm_log if litellm_log in ("DEBUG", "INFO", "WARNING", "ERROR") else None
