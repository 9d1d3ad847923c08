"""Issue 10 item 5: the real CLI restarts a child killed with -9; meanwhile the facade answers a clean
503 (OpenAI envelope), surviving services finish their in-flight work, and the CLI never exits."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import TEST_KEY, gemini_config
from tests.e2e.gateway import start_gateway, write_config

MASTER = "sk-supervision-test-0123456789-abcdefghijklmnop"
RESTART_DELAY = 1.0  # a gap long enough to observe the outage deterministically


def children(pid: int) -> dict[str, int]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        child_pid, _, args = line.strip().partition(" ")
        for name in ("budget_service", "router_service", "rest_facade"):
            if f"-m {name}" in args:
                found[name] = int(child_pid)
    return found


@pytest.fixture(scope="module")
def gw(fake_gemini_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("supervision")
    cfg = gemini_config(fake_gemini_server.base_url, master_key=MASTER)
    gateway = start_gateway(write_config(tmp, cfg), tmp, env={"FAKE_GEMINI_KEY": TEST_KEY},
                            args=["--restart-delay", str(RESTART_DELAY)])
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def chat(gw, text: str, timeout: float = 15.0) -> httpx.Response:
    return httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER}"},
                      json={"model": "flash", "messages": [{"role": "user", "content": text}]}, timeout=timeout)


def wait_until_served(gw, deadline_s: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            r = chat(gw, "back", timeout=5)
            if r.status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the gateway did not recover:\n" + gw.log()[-4000:])


def assert_clean_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert "Traceback" not in r.text and "127.0.0.1" not in err["message"]


@pytest.mark.parametrize("victim", ["router_service", "budget_service"])
def test_kill_9_of_a_grpc_service_gives_503_then_recovers(gw, fake_gemini, victim):
    before = children(gw.proc.pid)
    assert set(before) == {"budget_service", "router_service", "rest_facade"}
    # a request in flight in the router while the budget service dies must still be answered
    in_flight: dict = {}
    if victim == "budget_service":
        fake_gemini.enqueue("gemini-2.5-flash", {"delay": 1.5})
        t = threading.Thread(target=lambda: in_flight.setdefault("r", chat(gw, "slow one")))
        t.start()
        deadline = time.monotonic() + 10
        while not fake_gemini.requests and time.monotonic() < deadline:  # the upstream call has started
            time.sleep(0.01)
        assert fake_gemini.requests, "the slow request never reached the upstream"
    os.kill(before[victim], signal.SIGKILL)
    time.sleep(0.1)  # the kernel has closed its sockets; the restart is RESTART_DELAY away
    assert_clean_503(chat(gw, "during the gap"))
    stream = httpx.post(f"{gw.base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {MASTER}"},
                        json={"model": "flash", "stream": True, "messages": [{"role": "user", "content": "s"}]}, timeout=15)
    assert_clean_503(stream)
    ready = httpx.get(f"{gw.base_url}/health/readiness", timeout=5)
    assert ready.status_code == 503 and ready.json()[victim] != "healthy"
    if victim == "budget_service":  # management needs the budget service too
        assert_clean_503(httpx.post(f"{gw.base_url}/key/generate", headers={"Authorization": f"Bearer {MASTER}"},
                                    json={}, timeout=10))
    else:
        assert_clean_503(httpx.get(f"{gw.base_url}/v1/models", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10))
    if victim == "budget_service":
        t.join(20)
        assert in_flight["r"].status_code == 200, in_flight["r"].text
        assert in_flight["r"].json()["choices"][0]["message"]["content"] == "echo: slow one"
    waited = wait_until_served(gw)
    print(f"{victim}: served again {waited:.2f}s after the first 503 checks (restart delay {RESTART_DELAY}s)")
    assert waited < 20
    assert gw.proc.poll() is None  # the CLI is still there
    after = children(gw.proc.pid)
    assert after[victim] != before[victim]
    assert all(after[n] == before[n] for n in before if n != victim)  # the others were not touched
    log = gw.log()
    assert f"{victim} exited unexpectedly (killed by SIGKILL); restarting in" in log
    assert f"{victim} restarted" in log
    deadline = time.monotonic() + 10  # the facade's own channels reconnect within ~1 s
    while httpx.get(f"{gw.base_url}/health/readiness", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "readiness did not recover"
        time.sleep(0.1)


def test_kill_9_of_the_facade_recovers(gw, fake_gemini):
    before = children(gw.proc.pid)
    os.kill(before["rest_facade"], signal.SIGKILL)
    time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):
        chat(gw, "nobody listens", timeout=2)
    wait_until_served(gw)
    assert gw.proc.poll() is None
    after = children(gw.proc.pid)
    assert after["rest_facade"] != before["rest_facade"]
    assert after["router_service"] == before["router_service"] and after["budget_service"] == before["budget_service"]


def test_sigterm_of_budget_service_is_not_held_by_the_routers_open_admission_stream(gw, fake_gemini):
    """Each router keeps one ReserveStream call open to budget_service; a stopping budget_service
    ends it at once instead of waiting out its 10 s grace period for it."""
    wait_until_served(gw)  # a keyed request: the router's admission stream is open (and idle now)
    before = children(gw.proc.pid)
    proc = before["budget_service"]
    t0 = time.monotonic()
    os.kill(proc, signal.SIGTERM)
    while os.path.exists(f"/proc/{proc}") and time.monotonic() - t0 < 15:
        with open(f"/proc/{proc}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":  # exited, not yet reaped
                break
        time.sleep(0.02)
    took = time.monotonic() - t0
    assert took < 5, f"budget_service took {took:.1f}s to stop"
    assert wait_until_served(gw) < 20  # restarted; the router's next admissions go on a new stream
    assert children(gw.proc.pid)["budget_service"] != proc
