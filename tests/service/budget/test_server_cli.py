"""`python -m budget_service` startup behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import grpc
import redis

from gemgate.v1 import budget_pb2, budget_pb2_grpc
from gemgate.ports import free_port
from tests.service.budget.conftest import REDIS_URL

ENV = {**os.environ, "GEMGATE_INTERNAL_SECRET": "test-internal-secret-0123456789abcdef"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_exits_with_clear_message_when_redis_unreachable(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"general_settings:\n  master_key: sk-m\n  redis_url: redis://127.0.0.1:{free_port()}/0\n"
                   "  budget_deadline: 0.5\n")
    p = subprocess.run([sys.executable, "-m", "budget_service", "--config", str(cfg), "--port", str(free_port())],
                       cwd=ROOT, capture_output=True, text=True, timeout=20, env=ENV)
    assert p.returncode != 0
    assert "general_settings.redis_url" in p.stderr and "REDIS_URL" in p.stderr


def test_wrong_redis_password_is_named_at_startup(tmp_path):
    """Redis refusing the configured user/password is told apart from Redis being away, and the
    password is never printed."""
    user, password = f"gemgate-test-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    admin = redis.Redis.from_url(REDIS_URL)
    admin.acl_setuser(user, enabled=True, passwords=["+" + password], keys=["*"], commands=["+@all"])
    try:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"general_settings:\n  master_key: sk-m\n"
                       f"  redis_url: redis://{user}:wrong-{password}@127.0.0.1:6379/0\n  budget_deadline: 1\n")
        p = subprocess.run([sys.executable, "-m", "budget_service", "--config", str(cfg), "--port", str(free_port())],
                           cwd=ROOT, capture_output=True, text=True, timeout=20, env=ENV)
        assert p.returncode != 0 and "Traceback" not in p.stderr
        assert "refused gemgate's credentials" in p.stderr and password not in p.stderr
    finally:
        admin.acl_deluser(user)
        admin.close()


def test_serves_with_real_redis(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"general_settings:\n  master_key: sk-m\n  redis_url: {REDIS_URL}\n")
    port = free_port()
    prefix = f"gemgate-test:{uuid.uuid4().hex}:"
    proc = subprocess.Popen([sys.executable, "-m", "budget_service", "--config", str(cfg), "--port", str(port),
                             "--redis-prefix", prefix],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=15)
            stub = budget_pb2_grpc.BudgetServiceStub(ch)
            md = (("x-gemgate-internal-secret", ENV["GEMGATE_INTERNAL_SECRET"]),)
            ident = stub.Authorize(budget_pb2.AuthorizeRequest(api_key="sk-m"), timeout=5, metadata=md)
            assert ident.identity.is_master
            stub.Reserve(budget_pb2.ReserveRequest(api_key="sk-m", request_id="r", model="m"), timeout=5, metadata=md)
            stub.Settle(budget_pb2.SettleRequest(request_id="r", actual_cost_micros=7, model="m"), timeout=5, metadata=md)
            r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
            try:
                assert r.get(prefix + "stat:global") == "7"
                for k in list(r.scan_iter(match=prefix + "*")):
                    r.delete(k)
            finally:
                r.close()
            try:
                stub.Authorize(budget_pb2.AuthorizeRequest(api_key="sk-nope-123"), timeout=5, metadata=md)
                raise AssertionError("unknown key accepted")
            except grpc.RpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sk-m" not in err and "sk-nope-123" not in err


def test_refuses_to_start_without_internal_secret(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"general_settings:\n  master_key: sk-m\n  redis_url: {REDIS_URL}\n")
    env = {k: v for k, v in os.environ.items() if k != "GEMGATE_INTERNAL_SECRET"}
    for module in ("budget_service", "router_service"):
        p = subprocess.run([sys.executable, "-m", module, "--config", str(cfg), "--port", str(free_port())],
                           cwd=ROOT, capture_output=True, text=True, timeout=20, env=env)
        assert p.returncode != 0
        assert "GEMGATE_INTERNAL_SECRET" in p.stderr and "Traceback" not in p.stderr
