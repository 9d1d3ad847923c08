"""Issue 15 item 2: `gemgate --num_workers 2` runs 2 facade workers sharing the public port and 2 router
workers; requests land on all of them, a worker killed with -9 is restarted alone while the others
keep serving, budgets stay exact across workers, SIGTERM stops everything."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import time

import httpx
import pytest

from gemgate.ports import ephemeral_range
from gemgate.supervisor import tcp_sockets
from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-workers-test-0123456789-abcdefghijklmnop"
CHAT = {"model": "flash", "messages": [{"role": "user", "content": "hello workers"}], "max_tokens": 10}
RESTART_DELAY = 3.0  # a killed worker stays down this long: the others must carry the traffic meanwhile


def workers(cli_pid: int) -> dict[str, list[dict]]:
    """The CLI's children by service: [{pid, argv}] in start order."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(cli_pid)], capture_output=True, text=True).stdout
    found: dict[str, list[dict]] = {"budget_service": [], "router_service": [], "rest_facade": []}
    for pid in map(int, out.split()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode().split("\0")
        except OSError:
            continue
        for name in found:
            if argv[1:3] == ["-m", name]:
                found[name].append({"pid": pid, "argv": argv})
    return found


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def established(pid: int, port: int) -> int:
    """How many accepted connections on local `port` process `pid` holds (from /proc)."""
    return tcp_sockets(pid, port, "01")


def router_requests(gw, metrics_port: int, status: str = "success") -> float:
    """Requests one router worker counted (its own internal /metrics), of `status` or all ("")."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5,
                     headers={"x-gemgate-internal-secret": gw.internal_secret}).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gemgate_requests_total{") and f'status="{status}' in line)


def gateway_requests(gw) -> float:
    text = httpx.get(f"{gw.base_url}/metrics", headers={"Authorization": f"Bearer {MASTER}"}, timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gemgate_requests_total{") and 'status="success"' in line)


def chat(gw, key: str = MASTER, client: httpx.Client | None = None, timeout: float = 15.0) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(f"{gw.base_url}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"},
                timeout=timeout)


def admin(gw, path, body=None, method="POST"):
    r = httpx.request(method, f"{gw.base_url}{path}", json=body, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers")
    cfg = write_config(tmp, gemini_config(fake_gemini_server.base_url, master_key=MASTER))
    gateway = start_gateway(cfg, tmp, env={"FAKE_GEMINI_KEY": TEST_KEY},
                            args=["--num_workers", "2", "--restart-delay", str(RESTART_DELAY)])
    deadline = time.monotonic() + 30  # the port answers as soon as the first facade worker is up
    while "gemgate: ready on" not in gateway.log():
        assert time.monotonic() < deadline and gateway.proc.poll() is None, gateway.log()
        time.sleep(0.1)
    yield gateway
    pids = [w["pid"] for ws in workers(gateway.proc.pid).values() for w in ws]
    assert len(pids) == 5
    assert gateway.stop() == 0, gateway.log()  # SIGTERM to the CLI stops every worker
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def wait_restarted(gw, service: str, old_pid: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = workers(gw.proc.pid)[service]
        if len(now) == 2 and old_pid not in [w["pid"] for w in now]:
            return now
        time.sleep(0.1)
    raise AssertionError(f"{service} worker was not restarted:\n" + gw.log()[-3000:])


def test_two_facade_and_two_router_workers_share_the_traffic(gw, fake_gemini):
    kids = workers(gw.proc.pid)
    assert [len(kids[s]) for s in ("budget_service", "router_service", "rest_facade")] == [1, 2, 2]
    assert "2 rest_facade workers sharing the port, 2 router_service workers" in gw.log()
    routers = kids["router_service"]
    router_addrs = [f"127.0.0.1:{flag(w['argv'], '--port')}" for w in routers]
    metrics_ports = [int(flag(w["argv"], "--metrics-port")) for w in routers]
    assert len(set(router_addrs)) == 2 and len(set(metrics_ports)) == 2
    low, high = ephemeral_range()  # worker 2's picked ports: none an outgoing connection could hold
    assert not any(low <= int(p) <= high for p in [a.rsplit(":", 1)[1] for a in router_addrs] + metrics_ports)
    for router in routers:  # a client's next request may reach the other router: short settle linger
        environ = open(f"/proc/{router['pid']}/environ", "rb").read().split(b"\0")
        assert b"GEMGATE_SETTLE_LINGER_MS=3" in environ
    # every facade worker dials every router worker, over their local sockets (gemgate/local_sockets.py)
    local = [flag(w["argv"], "--local-address") for w in routers]
    assert len(set(local)) == 2 and all(a.startswith("unix-abstract:gemgate-") for a in local), local
    budget_local = flag(kids["budget_service"][0]["argv"], "--local-address")
    assert all(flag(r["argv"], "--budget") == budget_local for r in routers)
    for facade in kids["rest_facade"]:
        assert sorted(flag(facade["argv"], "--router").split(",")) == sorted(local)
        assert flag(facade["argv"], "--budget") == budget_local
        assert "--reuse-port" in facade["argv"]
    before = [router_requests(gw, p) for p in metrics_ports]
    total_before = gateway_requests(gw)
    # 24 separate connections, held open: the kernel spreads them over both facade workers
    clients = [httpx.Client() for _ in range(24)]
    try:
        for c in clients:
            r = chat(gw, client=c)
            assert r.status_code == 200, r.text
        held = {f["pid"]: established(f["pid"], gw.port) for f in kids["rest_facade"]}
        assert sum(held.values()) == 24, held
        assert all(n > 0 for n in held.values()), f"a facade worker accepted no connection: {held}"
    finally:
        for c in clients:
            c.close()
    after = [router_requests(gw, p) for p in metrics_ports]
    per_router = [a - b for a, b in zip(after, before)]
    assert sum(per_router) == 24 and all(n >= 6 for n in per_router), per_router  # round-robin: about 12 each
    assert gateway_requests(gw) - total_before == 24  # /metrics: the whole gateway, summed over workers


def test_budget_exact_across_workers(gw, fake_gemini):
    budget = 0.0002  # a handful of requests at gemini-2.5-flash prices
    key = admin(gw, "/key/generate", {"max_budget": budget})["key"]
    metrics_ports = [int(flag(w["argv"], "--metrics-port")) for w in workers(gw.proc.pid)["router_service"]]
    before = [router_requests(gw, p, "") for p in metrics_ports]

    def one(_):
        r = chat(gw, key)  # a new connection each: both facade workers, both router workers
        return r.status_code, float(r.headers.get("x-gemgate-response-cost", 0) or 0), r.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(one, range(64)))
    ok = [c for s, c, _ in results if s == 200]
    refused = [b for s, _, b in results if s == 429]
    assert ok and refused and len(ok) + len(refused) == 64, [s for s, _, _ in results]
    assert all(b["error"]["type"] == "budget_exceeded" for b in refused)
    assert all(n > m for n, m in zip([router_requests(gw, p, "") for p in metrics_ports], before))
    deadline = time.monotonic() + 5
    while True:  # settlements land in the background
        spend = admin(gw, f"/key/info?key={key}", method="GET")["info"]["spend"]
        if spend == pytest.approx(sum(ok), abs=1e-9) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert spend <= budget + 1e-12, (spend, budget)
    assert spend == pytest.approx(sum(ok), abs=1e-9)


def test_kill_9_of_one_router_worker_others_serve_then_it_is_restarted(gw, fake_gemini):
    routers = workers(gw.proc.pid)["router_service"]
    victim, survivor = routers[1], routers[0]
    os.kill(victim["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    statuses = []
    while time.monotonic() - killed_at < RESTART_DELAY - 0.5:  # the victim is down all this time
        r = chat(gw)
        if r.status_code != 200:  # a call already on its way to the dead worker: one quick retry
            time.sleep(0.2)
            r = chat(gw)
        statuses.append(r.status_code)
    assert len(statuses) >= 5 and set(statuses) == {200}, statuses
    restarted = wait_restarted(gw, "router_service", victim["pid"])
    assert survivor["pid"] in [w["pid"] for w in restarted]  # the other worker was not touched
    log = gw.log()
    assert "router_service[2] exited unexpectedly (killed by SIGKILL); restarting in" in log
    assert "router_service[2] restarted" in log
    # back in rotation: it takes requests again on its old port
    new = next(w for w in restarted if w["pid"] != survivor["pid"])
    assert flag(new["argv"], "--port") == flag(victim["argv"], "--port")
    metrics_port = int(flag(new["argv"], "--metrics-port"))
    deadline = time.monotonic() + 20
    while True:
        try:
            chat(gw)
            if router_requests(gw, metrics_port) > 0:
                break
        except httpx.HTTPError:  # its metrics port opens a moment after the process starts
            pass
        assert time.monotonic() < deadline, "the restarted router worker never got a request"
        time.sleep(0.05)


def test_kill_9_of_one_facade_worker_other_serves_then_it_is_restarted(gw, fake_gemini):
    facades = workers(gw.proc.pid)["rest_facade"]
    victim = facades[0]
    os.kill(victim["pid"], signal.SIGKILL)
    time.sleep(0.2)  # the kernel has closed its listening socket
    for _ in range(10):  # new connections all go to the surviving worker
        assert chat(gw).status_code == 200
    restarted = wait_restarted(gw, "rest_facade", victim["pid"])
    assert facades[1]["pid"] in [w["pid"] for w in restarted]
    deadline = time.monotonic() + 20
    while "rest_facade[1] is ready again" not in gw.log():
        assert time.monotonic() < deadline, gw.log()[-3000:]
        time.sleep(0.1)


def test_stored_responses_are_shared_by_router_workers_without_a_master_key(fake_gemini_server, tmp_path):
    """Without keys a single router keeps stored Responses in memory; N workers share them in Redis,
    so a follow-up that round-robins to the other worker still finds the first turn."""
    cfg = write_config(tmp_path, gemini_config(fake_gemini_server.base_url))
    gateway = start_gateway(cfg, tmp_path, env={"FAKE_GEMINI_KEY": TEST_KEY}, args=["--num_workers", "2"])
    try:
        deadline = time.monotonic() + 30
        while "gemgate: ready on" not in gateway.log():
            assert time.monotonic() < deadline and gateway.proc.poll() is None, gateway.log()
            time.sleep(0.1)
        first = httpx.post(f"{gateway.base_url}/v1/responses", json={"model": "flash", "input": "remember me"}, timeout=15)
        assert first.status_code == 200, first.text
        rid = first.json()["id"]
        for _ in range(6):  # round-robin over both router workers
            got = httpx.get(f"{gateway.base_url}/v1/responses/{rid}", timeout=15)
            assert got.status_code == 200, got.text
            follow = httpx.post(f"{gateway.base_url}/v1/responses", timeout=15,
                                json={"model": "flash", "input": "again", "previous_response_id": rid})
            assert follow.status_code == 200, follow.text
    finally:
        assert gateway.stop() == 0, gateway.log()
