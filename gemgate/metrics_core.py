"""Minimal Prometheus primitives: Counter, Gauge, Histogram, a Registry rendering the text exposition
format, and a tiny HTTP server for it (what gemgate used prometheus_client for, at a fraction of the
memory: no http.server, email, wsgiref ... in every process).

The exposition is the one prometheus_client produces for these metric types (text format 0.0.4):
`# HELP` (backslash and newline escaped) and `# TYPE` per family; labels sorted by name, values with
backslash, double quote and newline escaped; counters as `<name>_total` plus a `<name>_created` gauge
family; histograms as cumulative `_bucket{le=...}` series (`+Inf` last), `_count`, `_sum`, plus a
`<name>_created` gauge family; floats in Go's style (`1.0`, `1e-07`, `1.5e+09`, `+Inf`, `NaN`).

Thread safety: every metric has one lock, shared by its children, held only for an update or for the
snapshot `Registry.render` takes of the metric; formatting happens outside it. Children are cached in
a dict keyed by the tuple of label values, so `.labels(a, b).inc()` is a dict lookup and a locked add.
"""

from __future__ import annotations

import hmac
import math
import re
import selectors
import socket
import threading
import time
from bisect import bisect_left

CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"  # what the facade's GET /metrics declares
CONTENT_TYPE_004 = "text/plain; version=0.0.4; charset=utf-8"  # what the internal endpoints declare
INF = math.inf
DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0, INF)

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


# ---- text format helpers --------------------------------------------------------------------------
def format_float(value: float) -> str:
    """A sample value as Prometheus' Go code (and prometheus_client) writes it: `+Inf`, `-Inf`, `NaN`,
    else Python's shortest repr, except that positive numbers with more than six integer digits switch
    to an exponent (`12345678.9` -> `1.23456789e+07`) where Python would still write them in full."""
    v = float(value)
    if v != v:
        return "NaN"
    if v in (INF, -INF):
        return "+Inf" if v > 0 else "-Inf"
    text = repr(v)
    int_digits = text.find(".")
    if v <= 0 or int_digits <= 6:  # no dot (already an exponent: '1e+16') or short enough
        return text
    digits = (text[:int_digits] + text[int_digits + 1:]).rstrip("0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e+{int_digits - 1:02d}"


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labelstr(pairs: list[str]) -> str:
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Read:
    """`metric._value.get()` / `histogram._sum.get()`: the reading API tests use."""
    __slots__ = ("get",)

    def __init__(self, getter) -> None:
        self.get = getter


# ---- children: one labelled series each ------------------------------------------------------------
class _Child:
    __slots__ = ("_lock", "_pairs", "_created")

    def __init__(self, lock: threading.Lock, pairs: list[str]) -> None:
        self._lock = lock
        self._pairs = pairs  # the formatted `name="value"` labels, sorted by name
        self._created = time.time()


class _CounterChild(_Child):
    __slots__ = ("_v",)

    def __init__(self, lock, pairs) -> None:
        super().__init__(lock, pairs)
        self._v = 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        with self._lock:
            self._v += amount

    def get(self) -> float:
        return self._v

    @property
    def _value(self) -> _Read:
        return _Read(self.get)


class _GaugeChild(_Child):
    __slots__ = ("_v",)

    def __init__(self, lock, pairs) -> None:
        super().__init__(lock, pairs)
        self._v = 0.0

    def set(self, value: float) -> None:
        value = float(value)
        with self._lock:
            self._v = value

    def inc(self, amount: float = 1) -> None:
        with self._lock:
            self._v += amount

    def dec(self, amount: float = 1) -> None:
        with self._lock:
            self._v -= amount

    def get(self) -> float:
        return self._v

    @property
    def _value(self) -> _Read:
        return _Read(self.get)


class _Timer:
    """`with histogram.time():` observes the elapsed seconds, also when the body raises."""
    __slots__ = ("_observe", "_start")

    def __init__(self, observe) -> None:
        self._observe = observe

    def __enter__(self) -> _Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._observe(max(time.perf_counter() - self._start, 0))


class _HistogramChild(_Child):
    __slots__ = ("_bounds", "_counts", "_total")

    def __init__(self, lock, pairs, bounds: tuple[float, ...]) -> None:
        super().__init__(lock, pairs)
        self._bounds = bounds
        self._counts = [0] * len(bounds)  # per bucket (not cumulative); the last bound is +Inf
        self._total = 0.0

    def observe(self, amount: float) -> None:
        i = bisect_left(self._bounds, amount)  # the first bucket with amount <= bound
        with self._lock:
            self._total += amount
            if amount == amount:  # NaN falls in no bucket (it is in the sum only)
                self._counts[i] += 1

    def time(self) -> _Timer:
        return _Timer(self.observe)

    @property
    def _sum(self) -> _Read:
        return _Read(lambda: self._total)


# ---- metric families --------------------------------------------------------------------------------
class _Metric:
    _child_class: type = _Child

    def __init__(self, name: str, documentation: str, labelnames=(), registry: Registry | None = None) -> None:
        labelnames = tuple(labelnames)
        if not _METRIC_NAME.match(name):
            raise ValueError(f"Invalid metric name: {name!r}")
        for label in labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__") or label in self._reserved_labels():
                raise ValueError(f"Invalid label name: {label!r}")
        if len(set(labelnames)) != len(labelnames):
            raise ValueError(f"Duplicate label names in {name}: {labelnames}")
        self._name = name
        self._documentation = documentation
        self._labelnames = labelnames
        self._order = sorted(range(len(labelnames)), key=labelnames.__getitem__)  # output order
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], _Child] = {}
        self._solo: _Child | None = None if labelnames else self._make_child(())
        if registry is not None:
            registry.register(self)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ()

    def _make_child(self, values: tuple[str, ...]) -> _Child:
        pairs = [f'{self._labelnames[i]}="{escape_label_value(values[i])}"' for i in self._order]
        return self._new_child(pairs)

    def _new_child(self, pairs: list[str]) -> _Child:
        return self._child_class(self._lock, pairs)

    def labels(self, *values, **by_name):
        """The child of these label values (positional in `labelnames` order, or by name)."""
        if not by_name:
            try:
                return self._children[values]
            except (KeyError, TypeError):
                pass
        return self._new_labels(values, by_name)

    def _new_labels(self, values: tuple, by_name: dict):
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self._name}")
        if values and by_name:
            raise ValueError("Can't pass both *args and **kwargs")
        if by_name:
            if set(by_name) != set(self._labelnames):
                raise ValueError(f"Incorrect label names for {self._name}: {sorted(by_name)}")
            values = tuple(by_name[n] for n in self._labelnames)
        if len(values) != len(self._labelnames):
            raise ValueError(f"Incorrect label count for {self._name}")
        key = tuple(str(v) for v in values)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._make_child(key)
        return child

    def _only(self):
        if self._solo is None:
            raise ValueError(f"{self._name} has labels: use .labels(...) first")
        return self._solo

    @property
    def _value(self) -> _Read:
        return self._only()._value

    def _snapshot(self) -> list[tuple]:
        """(child, copy of its values) for every series, taken under the metric's lock."""
        with self._lock:
            children = [self._solo] if self._solo is not None else list(self._children.values())
            return [(c, self._copy(c)) for c in children]

    def _copy(self, child):
        return child._v

    def _names(self) -> tuple[str, ...]:
        return (self._name,)

    def _header(self, name: str, kind: str) -> list[str]:
        return [f"# HELP {name} {escape_help(self._documentation)}", f"# TYPE {name} {kind}"]

    def _created_family(self, base: str, snap: list[tuple]) -> list[str]:
        if not snap:
            return []
        name = base + "_created"
        return self._header(name, "gauge") + [f"{name}{_labelstr(c._pairs)} {format_float(c._created)}"
                                              for c, _ in snap]


class Counter(_Metric):
    _child_class = _CounterChild

    def __init__(self, name: str, documentation: str, labelnames=(), registry: Registry | None = None) -> None:
        self._base = name[:-6] if name.endswith("_total") else name
        super().__init__(name, documentation, labelnames, registry)

    def inc(self, amount: float = 1) -> None:
        self._only().inc(amount)

    def _names(self) -> tuple[str, ...]:
        return self._base, self._base + "_total", self._base + "_created"

    def _render(self, out: list[str]) -> None:
        snap = self._snapshot()
        total = self._base + "_total"
        out.extend(self._header(total, "counter"))
        out.extend(f"{total}{_labelstr(c._pairs)} {format_float(v)}" for c, v in snap)
        out.extend(self._created_family(self._base, snap))


class Gauge(_Metric):
    _child_class = _GaugeChild

    def set(self, value: float) -> None:
        self._only().set(value)

    def inc(self, amount: float = 1) -> None:
        self._only().inc(amount)

    def dec(self, amount: float = 1) -> None:
        self._only().dec(amount)

    def _render(self, out: list[str]) -> None:
        snap = self._snapshot()
        out.extend(self._header(self._name, "gauge"))
        out.extend(f"{self._name}{_labelstr(c._pairs)} {format_float(v)}" for c, v in snap)


class Histogram(_Metric):
    def __init__(self, name: str, documentation: str, labelnames=(), registry: Registry | None = None,
                 buckets=DEFAULT_BUCKETS) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if not bounds or bounds[-1] != INF:
            bounds.append(INF)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        self._bounds = tuple(bounds)
        self._le = [f'le="{format_float(b)}"' for b in self._bounds]
        labelnames = tuple(labelnames)
        self._le_at = sum(1 for n in labelnames if n < "le")  # where `le` sorts among the labels
        super().__init__(name, documentation, labelnames, registry)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ("le",)

    def _new_child(self, pairs: list[str]) -> _Child:
        return _HistogramChild(self._lock, pairs, self._bounds)

    def observe(self, amount: float) -> None:
        self._only().observe(amount)

    def time(self) -> _Timer:
        return self._only().time()

    @property
    def _sum(self) -> _Read:
        return self._only()._sum

    def _copy(self, child):
        return list(child._counts), child._total

    def _names(self) -> tuple[str, ...]:
        n = self._name
        return n, n + "_bucket", n + "_count", n + "_sum", n + "_created"

    def _render(self, out: list[str]) -> None:
        snap = self._snapshot()
        n, at = self._name, self._le_at
        out.extend(self._header(n, "histogram"))
        for child, (counts, total) in snap:
            pairs, cumulative = child._pairs, 0
            for le, count in zip(self._le, counts):
                cumulative += count
                out.append(f"{n}_bucket{{{','.join(pairs[:at] + [le] + pairs[at:])}}} {format_float(cumulative)}")
            labels = _labelstr(pairs)
            out.append(f"{n}_count{labels} {format_float(cumulative)}")
            out.append(f"{n}_sum{labels} {format_float(total)}")
        out.extend(self._created_family(n, snap))


class Registry:
    """The metrics of one process, rendered in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: list[_Metric] = []
        self._names: dict[str, _Metric] = {}

    def register(self, metric: _Metric) -> None:
        with self._lock:
            clash = [n for n in metric._names() if n in self._names]
            if clash:
                raise ValueError(f"Duplicated timeseries in Registry: {clash}")
            self._names.update((n, metric) for n in metric._names())
            self._metrics.append(metric)

    def unregister(self, metric: _Metric) -> None:
        with self._lock:
            self._metrics.remove(metric)
            for n in metric._names():
                self._names.pop(n, None)

    def render(self) -> bytes:
        """The text exposition of every metric."""
        with self._lock:
            metrics = list(self._metrics)
        out: list[str] = []
        for m in metrics:
            m._render(out)
        return ("\n".join(out) + "\n").encode() if out else b""


# ---- the internal HTTP endpoint ---------------------------------------------------------------------
MAX_HEAD = 8192  # request line + headers
CLIENT_TIMEOUT = 10.0  # seconds a connection may take from accept to the last byte of the answer
MAX_CLIENTS = 32  # beyond this the stalest connection is dropped, so new scrapes are always served


def _response(status: str, body: bytes = b"", content_type: str | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    if content_type:
        head.insert(1, f"Content-Type: {content_type}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Conn:
    __slots__ = ("sock", "deadline", "inbuf", "out", "draining")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = time.monotonic() + CLIENT_TIMEOUT
        self.inbuf = b""
        self.out: memoryview | None = None  # the answer still to send, once the request is read
        self.draining = False  # answer sent and write side shut: reading to EOF, then close


class MetricsServer:
    """Serves `render()` on GET (any path) from one daemon thread with non-blocking sockets: a slow or
    silent client occupies a buffer, never the thread, and is dropped after CLIENT_TIMEOUT. With
    `secret`, a request without it in header `secret_header` gets 401 with an empty body. No access log.
    Never touches an asyncio loop."""

    def __init__(self, host: str, port: int, render, secret: str | None = None,
                 secret_header: str = "", content_type: str = CONTENT_TYPE_004) -> None:
        self._render = render
        self._secret = secret.encode() if secret else None
        self._header = secret_header.lower().encode() + b":"
        self._content_type = content_type
        self._stop = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=64)
        self._listener.setblocking(False)
        self.server_address = self._listener.getsockname()
        self._thread = threading.Thread(target=self._serve, name="metrics-http", daemon=True)

    def start(self) -> threading.Thread:
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Stop serving and close every socket (waits for the thread, at most a second)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    server_close = shutdown

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, None)
        conns: dict[socket.socket, _Conn] = {}
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for conn in [c for c in conns.values() if c.deadline <= now]:
                    self._close(sel, conns, conn)
                for key, events in sel.select(timeout=0.25):
                    if key.data is None:
                        self._accept(sel, conns)
                    elif key.fileobj in conns:
                        self._step(sel, conns, key.data, events)
        finally:
            for conn in list(conns.values()):
                self._close(sel, conns, conn)
            sel.close()
            self._listener.close()

    def _accept(self, sel, conns) -> None:
        for _ in range(MAX_CLIENTS):
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. out of file descriptors: try again on the next round
                return
            if len(conns) >= MAX_CLIENTS:
                self._close(sel, conns, min(conns.values(), key=lambda c: c.deadline))
            sock.setblocking(False)
            conn = conns[sock] = _Conn(sock)
            sel.register(sock, selectors.EVENT_READ, conn)

    def _step(self, sel, conns, conn: _Conn, events: int) -> None:
        try:
            if conn.draining:  # what the client still sends is discarded (closing with unread data
                if not conn.sock.recv(65536):  # would reset the connection and lose the answer)
                    self._close(sel, conns, conn)
                return
            if conn.out is None:
                data = conn.sock.recv(4096)
                if not data:
                    self._close(sel, conns, conn)
                    return
                conn.inbuf += data
                end = conn.inbuf.find(b"\r\n\r\n")
                end = end if end >= 0 else conn.inbuf.find(b"\n\n")
                if end < 0 and len(conn.inbuf) <= MAX_HEAD:
                    return
                answer = self._answer(conn.inbuf[:end] if 0 <= end <= MAX_HEAD else None)
                conn.out = memoryview(answer)
                sel.modify(conn.sock, selectors.EVENT_WRITE, conn)
            sent = conn.sock.send(conn.out)
            conn.out = conn.out[sent:]
            if not conn.out:
                conn.sock.shutdown(socket.SHUT_WR)
                conn.draining = True
                conn.deadline = min(conn.deadline, time.monotonic() + 1.0)
                sel.modify(conn.sock, selectors.EVENT_READ, conn)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(sel, conns, conn)

    def _answer(self, head: bytes | None) -> bytes:
        if head is None:
            return _response("431 Request Header Fields Too Large")
        lines = head.split(b"\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return _response("400 Bad Request")
        if parts[0] != b"GET":
            return _response("501 Not Implemented")
        if self._secret is not None:
            given = b""
            for line in lines[1:]:
                if line.lower().startswith(self._header):
                    given = line[len(self._header):].strip()
                    break
            if not hmac.compare_digest(given, self._secret):
                return _response("401 Unauthorized")
        try:
            body = self._render()
        except Exception:  # noqa: BLE001 - a broken collector must not kill the endpoint
            return _response("500 Internal Server Error")
        return _response("200 OK", body, self._content_type)

    @staticmethod
    def _close(sel, conns, conn: _Conn) -> None:
        conns.pop(conn.sock, None)
        try:
            sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
