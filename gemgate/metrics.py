"""Prometheus metrics of one gemgate process, in a dedicated Registry (gemgate.metrics_core: the
primitives and the text exposition, written for gemgate so that no process loads prometheus_client).

Each service process records into `REGISTRY` with the helpers below and exposes it with
`render_metrics()` (or `start_metrics_server(port)` on an internal port). The facade's `GET /metrics`
returns `merge_expositions([own, every router worker, budget])`, fetching the other processes with
`fetch_expositions(urls)`; a series several router workers export is summed (gauges: the maximum).
Facade processes record no series of their own, so any facade worker answers for the whole gateway. Label values are bounded and never come from unvalidated client input:
model groups only when configured (`set_model_groups`, else "unknown"), key aliases only of real keys
(from budget_service's identity), ErrorKind names, deployment ids from config. Never put request ids
or raw keys in labels. The facade serves the result only to the master key / metrics token.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from gemgate.errors import ErrorKind
from gemgate.internal_auth import METADATA_KEY
from gemgate.metrics_core import CONTENT_TYPE, Counter, Gauge, Histogram, MetricsServer, Registry, format_float
from gemgate.wildcards import is_pattern, match

REGISTRY = Registry()

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

REQUESTS = Counter("gemgate_requests_total", "Requests by model group and status (success|failure).",
                   ["model_group", "status"], registry=REGISTRY)
ERRORS = Counter("gemgate_errors_total", "Failed requests by error type (ErrorKind name).",
                 ["type"], registry=REGISTRY)
REQUEST_LATENCY = Histogram("gemgate_request_latency_seconds", "End-to-end request latency in the router.",
                            ["model_group"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
TTFT = Histogram("gemgate_time_to_first_token_seconds", "Time to the first streamed chunk.",
                 ["model_group"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
TOKENS = Counter("gemgate_tokens_total", "Tokens by model group, key alias and kind (prompt|completion).",
                 ["model_group", "key_alias", "kind"], registry=REGISTRY)
SPEND = Counter("gemgate_spend_usd_total", "Spend in USD by model group and key alias.",
                ["model_group", "key_alias"], registry=REGISTRY)
DEPLOYMENT_COOLDOWN = Gauge("gemgate_deployment_cooldown", "1 while a deployment is cooling down, else 0.",
                            ["deployment"], registry=REGISTRY)
BUDGET_CALL_LATENCY = Histogram("gemgate_budget_call_latency_seconds", "Latency of calls to budget_service.",
                                ["method"], buckets=_FAST_BUCKETS, registry=REGISTRY)
# the router's calls to budget_service (a batch carries many requests)
BUDGET_METHODS = ("ReserveBatch", "SettleBatch", "Heartbeat", "Authorize")


def register_budget_methods() -> None:
    """In the process that calls budget_service (the router): every method's series exists from the
    start, so the set of series does not change under traffic. Only there: the facade merges the
    processes' expositions and keeps the first copy of a series."""
    for m in BUDGET_METHODS:
        BUDGET_CALL_LATENCY.labels(m)
SPEND_LOG_PENDING = Gauge("gemgate_spend_log_pending", "Spend-log rows waiting in the outbox for PostgreSQL.",
                          registry=REGISTRY)
SPEND_LOG_WRITTEN = Counter("gemgate_spend_log_rows_written_total", "Spend-log rows written to PostgreSQL.",
                            registry=REGISTRY)
SPEND_LOG_WRITE_FAILURES = Counter("gemgate_spend_log_write_failures_total",
                                   "Failed spend-log batch writes (PostgreSQL unreachable; retried).", registry=REGISTRY)
USAGE_DROPPED = Counter("gemgate_usage_records_dropped_total", "Usage records dropped (sink queue full).",
                        ["sink"], registry=REGISTRY)
USAGE_DELIVERED = Counter("gemgate_usage_records_delivered_total", "Usage records delivered to a sink.",
                          ["sink"], registry=REGISTRY)
USAGE_FAILED = Counter("gemgate_usage_records_failed_total", "Usage records a sink failed to take (after retries).",
                       ["sink"], registry=REGISTRY)


# ---- label hygiene -------------------------------------------------------------------------------
UNKNOWN = "unknown"
_model_groups: set[str] = set()
_ERROR_TYPES = frozenset(ErrorKind.__members__)


_patterns: list[str] = []


def set_model_groups(names) -> None:
    """The configured model groups (router startup); a name a wildcard group (`gemini/*`) serves is
    labelled with the pattern, any other model name "unknown"."""
    for n in map(str, names):
        _model_groups.add(n)
        if is_pattern(n) and n not in _patterns:
            _patterns.append(n)


def group_label(name: str | None) -> str:
    if not name:
        return UNKNOWN
    if name in _model_groups:
        return name
    return next((p for p in _patterns if match(p, name) is not None), UNKNOWN)


def error_label(kind: str | None) -> str:
    return kind if kind in _ERROR_TYPES else "INTERNAL"


# ---- recording helpers -------------------------------------------------------------------------
def observe_request(model_group: str, status: str, latency: float | None = None,
                    error_type: str | None = None) -> None:
    group = group_label(model_group)
    REQUESTS.labels(group, "success" if status == "success" else "failure").inc()
    if latency is not None:
        REQUEST_LATENCY.labels(group).observe(latency)
    if status != "success":
        ERRORS.labels(error_label(error_type)).inc()


def observe_ttft(model_group: str, seconds: float) -> None:
    TTFT.labels(group_label(model_group)).observe(seconds)


def add_tokens(model_group: str, key_alias: str, prompt: int, completion: int) -> None:
    group = group_label(model_group)
    if prompt:
        TOKENS.labels(group, key_alias, "prompt").inc(prompt)
    if completion:
        TOKENS.labels(group, key_alias, "completion").inc(completion)


def add_spend(model_group: str, key_alias: str, usd: float) -> None:
    if usd > 0:
        SPEND.labels(group_label(model_group), key_alias).inc(usd)


def set_cooldown(deployment: str, cooling: bool) -> None:
    DEPLOYMENT_COOLDOWN.labels(deployment).set(1 if cooling else 0)


def observe_budget_call(method: str, seconds: float) -> None:
    BUDGET_CALL_LATENCY.labels(method).observe(seconds)


def budget_call_timer(method: str):
    """`with budget_call_timer("ReserveBatch"): await stub.ReserveBatch(...)` — observed also when it raises."""
    return BUDGET_CALL_LATENCY.labels(method).time()


def observe_usage_record(rec) -> None:  # rec: router_service.usage.record.UsageRecord
    """All request metrics from one finished UsageRecord (call once per request)."""
    observe_request(rec.model_group, rec.status, rec.latency, rec.error_type or None)
    if rec.time_to_first_token is not None:
        observe_ttft(rec.model_group, rec.time_to_first_token)
    add_tokens(rec.model_group, rec.key_alias, rec.prompt_tokens, rec.completion_tokens)
    add_spend(rec.model_group, rec.key_alias, rec.response_cost)


# ---- exposition ----------------------------------------------------------------------------------
def render_metrics(registry: Registry = REGISTRY) -> bytes:
    return registry.render()


SECRET_HEADER = METADATA_KEY  # the internal gRPC credential, as an HTTP header


def start_metrics_server(port: int, host: str = "127.0.0.1", registry: Registry = REGISTRY,
                         secret: str | None = None):
    """Serve this process's registry on http://host:port/metrics (one daemon thread, off the asyncio
    loop). With `secret`, only requests carrying it in the `x-gemgate-internal-secret` header (the
    facade) are answered; others get 401 with an empty body. Returns (server, thread); stop it with
    `server.shutdown()`."""
    server = MetricsServer(host, port, registry.render, secret=secret, secret_header=SECRET_HEADER)
    return server, server.start()


def _combine(kind: str, family: str, a: float, b: float) -> float:
    if family.endswith("_created"):  # when the series was created: the earliest
        return min(a, b)
    if kind == "gauge":  # e.g. a deployment cooling down in any worker is cooling (1), not 2
        return max(a, b)
    return a + b  # counters, histogram buckets/sums/counts: the gateway total over its processes


def merge_expositions(texts: list[bytes | str]) -> bytes:
    """Merge Prometheus text expositions of several processes into one, keeping the first HELP/TYPE
    line of each metric family.

    A series (name + labels) exported by several processes — the N router workers of
    `gemgate --num_workers N`, or the zero-valued unlabelled series every process has — is reported
    once with the gateway-wide value: summed for counters and histograms, the maximum for gauges,
    the earliest for `*_created`. The result is always a valid exposition.
    """
    families: dict[str, list[str]] = {}  # family -> series keys in first-seen order
    values: dict[str, float] = {}
    raw_lines: dict[str, str] = {}  # series whose value did not parse: kept verbatim (first wins)
    headers: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    order: list[str] = []

    def family(name: str) -> None:
        if name not in families:
            families[name] = []
            headers[name] = []
            order.append(name)

    for raw in texts:
        text = raw.decode() if isinstance(raw, bytes) else raw
        current = None
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                parts = line.split(" ", 3)
                current = parts[2]
                family(current)
                kind = line[:7]
                if kind == "# TYPE " and len(parts) > 3:
                    kinds.setdefault(current, parts[3].strip())
                if not any(h.startswith(kind) for h in headers[current]):
                    headers[current].append(line)
                continue
            if line.startswith("#"):
                continue
            if current is None:
                current = line.split("{", 1)[0].split(" ", 1)[0]
                family(current)
            series, _, rest = (line.partition(" ") if "}" not in line
                               else (line[: line.rindex("}") + 1], " ", line[line.rindex("}") + 1:].strip()))
            try:
                value = float(rest.split()[0])
            except (ValueError, IndexError):
                value = None
            if series not in values and series not in raw_lines:
                families[current].append(series)
                if value is None:
                    raw_lines[series] = line
                else:
                    values[series] = value
            elif series in values and value is not None:
                values[series] = _combine(kinds.get(current, "untyped"), current, values[series], value)
    out: list[str] = []
    for name in order:
        out.extend(sorted(headers[name], key=lambda h: 0 if h.startswith("# HELP") else 1))
        out.extend(raw_lines[k] if k in raw_lines else f"{k} {format_float(values[k])}" for k in families[name])
    return ("\n".join(out) + "\n").encode() if out else b""


async def _get(url: str, headers: dict[str, str], timeout: float) -> bytes:
    """One plain-HTTP GET to another gemgate process's metrics endpoint (loopback; no client library:
    the facade needs nothing more for this). The body, or b"" unless the answer is 200."""
    u = urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        return b""
    reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
    try:
        lines = [f"GET {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1", f"Host: {u.netloc}",
                 "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        raw = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        return b""
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return body


def _dechunk(body: bytes) -> bytes:
    out, i = [], 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return b"".join(out)
        size = int(body[i:j].split(b";")[0] or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(body[j + 2:j + 2 + size])
        i = j + 2 + size + 2


async def fetch_expositions(urls: list[str], timeout: float = 1.0, secret: str | None = None) -> list[bytes]:
    """GET each metrics URL concurrently (with the internal secret, if any); an unreachable/slow
    process contributes nothing."""
    headers = {SECRET_HEADER: secret} if secret else {}

    async def one(url: str) -> bytes:
        try:
            return await asyncio.wait_for(_get(url, headers, timeout), timeout)
        except (OSError, ValueError, asyncio.TimeoutError):
            return b""

    return list(await asyncio.gather(*(one(u) for u in urls)))


async def merged_metrics(urls: list[str], timeout: float = 1.0, secret: str | None = None) -> bytes:
    """What the facade's GET /metrics returns: its own registry + every process in `urls`."""
    return merge_expositions([render_metrics(), *await fetch_expositions(urls, timeout, secret)])
