"""The Redis commands gemgate sends, as methods shared by the client and its pipelines.

Each method builds the command's arguments and hands them, with the function that shapes the reply,
to `self._cmd(args, shape)`: on `gemgate.redis_client.Redis` that sends the command and returns an
awaitable of the shaped reply; on a `Pipeline` it queues the command and returns the pipeline.
Names, arguments and reply shapes follow redis-py's for the same commands (`set` answers True or
None, `hgetall` a dict, `smembers` a set, `xrange` a list of (id, fields) pairs ...), so a reader
who knows redis-py reads this code without surprises. Only what gemgate uses is here.
"""

from __future__ import annotations

from typing import Any, Callable

Shape = Callable[[Any], Any] | None


def _ok(reply: Any) -> bool | None:
    return True if reply in ("OK", b"OK") else None


def _bool(reply: Any) -> bool:
    return bool(reply)


def _as_set(reply: Any) -> set:
    return set(reply or ())


def _as_dict(reply: Any) -> dict:
    it = iter(reply or ())
    return dict(zip(it, it))


def _time(reply: Any) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def _text(reply: Any) -> str:
    return reply.decode() if isinstance(reply, bytes) else reply


def _stream_entries(reply: Any) -> list[tuple[Any, dict]]:
    return [(sid, _as_dict(fields)) for sid, fields in reply or ()]


class Commands:
    """The command methods; subclasses define `_cmd(args, shape)`."""

    def _cmd(self, args: tuple, shape: Shape = None) -> Any:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    # ---- connection, server ----
    def ping(self):
        return self._cmd(("PING",), lambda r: r in ("PONG", b"PONG"))

    def config_get(self, pattern: str = "*"):
        return self._cmd(("CONFIG", "GET", pattern), _as_dict)

    def time(self):
        return self._cmd(("TIME",), _time)

    # ---- strings and keys ----
    def get(self, name):
        return self._cmd(("GET", name))

    def mget(self, keys, *more):
        names = [keys] if isinstance(keys, (str, bytes)) else list(keys)
        return self._cmd(("MGET", *names, *more))

    def set(self, name, value, ex: int | None = None, px: int | None = None, nx: bool = False,
            xx: bool = False, exat: int | None = None):
        args: list = ["SET", name, value]
        if ex is not None:
            args += ["EX", int(ex)]
        if px is not None:
            args += ["PX", int(px)]
        if exat is not None:
            args += ["EXAT", int(exat)]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        return self._cmd(tuple(args), _ok)

    def delete(self, *names):
        return self._cmd(("DEL", *names))

    def exists(self, *names):
        return self._cmd(("EXISTS", *names))

    def expire(self, name, seconds: int):
        return self._cmd(("EXPIRE", name, int(seconds)), _bool)

    def expireat(self, name, when: int):
        return self._cmd(("EXPIREAT", name, int(when)), _bool)

    def incr(self, name, amount: int = 1):
        return self.incrby(name, amount)

    def incrby(self, name, amount: int = 1):
        return self._cmd(("INCRBY", name, int(amount)))

    # ---- sets ----
    def sadd(self, name, *values):
        return self._cmd(("SADD", name, *values))

    def srem(self, name, *values):
        return self._cmd(("SREM", name, *values))

    def smembers(self, name):
        return self._cmd(("SMEMBERS", name), _as_set)

    # ---- hashes ----
    def hget(self, name, key):
        return self._cmd(("HGET", name, key))

    def hmget(self, name, keys, *more):
        fields = [keys] if isinstance(keys, (str, bytes)) else list(keys)
        return self._cmd(("HMGET", name, *fields, *more))

    def hgetall(self, name):
        return self._cmd(("HGETALL", name), _as_dict)

    def hset(self, name, key=None, value=None, mapping: dict | None = None):
        pairs: list = [] if key is None else [key, value]
        for k, v in (mapping or {}).items():
            pairs += [k, v]
        if not pairs:
            raise ValueError("hset needs a key and value or a non-empty mapping")
        return self._cmd(("HSET", name, *pairs))

    def hincrby(self, name, key, amount: int = 1):
        return self._cmd(("HINCRBY", name, key, int(amount)))

    def hdel(self, name, *keys):
        return self._cmd(("HDEL", name, *keys))

    # ---- streams ----
    def xadd(self, name, fields: dict, id: str = "*"):
        args: list = ["XADD", name, id]
        for k, v in fields.items():
            args += [k, v]
        return self._cmd(tuple(args), _text)

    def xrange(self, name, min: str = "-", max: str = "+", count: int | None = None):
        args: tuple = ("XRANGE", name, min, max) + (("COUNT", int(count)) if count is not None else ())
        return self._cmd(args, _stream_entries)

    def xdel(self, name, *ids):
        return self._cmd(("XDEL", name, *ids))

    def xlen(self, name):
        return self._cmd(("XLEN", name))

    # ---- scripts ----
    def evalsha(self, sha: str, numkeys: int, *keys_and_args):
        return self._cmd(("EVALSHA", sha, int(numkeys), *keys_and_args))

    def eval(self, script: str, numkeys: int, *keys_and_args):
        return self._cmd(("EVAL", script, int(numkeys), *keys_and_args))

    def script_load(self, script: str):
        return self._cmd(("SCRIPT", "LOAD", script), _text)
