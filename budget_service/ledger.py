"""Budget rules: who a key is, what it may do, how much it may spend.

Documents (plain dicts, JSON in Redis):
  key:  {id (stable; counters use it), token (sha256 of the key; the document id), key_name, key_alias, team_id, user_id, models, max_budget (micros|None),
         budget_duration, tpm_limit, rpm_limit, max_parallel_requests, metadata, aliases,
         expires (unix|None), blocked, created}
  team/user: {id, alias, models, max_budget, budget_duration, tpm_limit, rpm_limit,
         max_parallel_requests, metadata, created}

Users: a user document is created implicitly (no budget) when a key names an unknown user_id, or
explicitly with /user/new (with a budget). Teams must exist (/team/new) before a key names them.
A key's request is admitted only if the key, its team and its user all have room.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable

from gemgate.config_names import ALL_MODELS
from gemgate.errors import ErrorKind, GatewayError, invalid
from budget_service.doc_cache import CachedDocs, DocCache
from budget_service.durations import Period, duration_seconds, iso, parse_duration
from budget_service.keys import display_name, hash_key, is_hash, new_key, same_secret, short
from budget_service.redis_store import EntityArgs, RedisStore, ReserveResult

log = logging.getLogger("gemgate.budget")

MICROS = 1_000_000


def key_id(doc: dict) -> str:
    """The stable id that counters and spend are kept under (survives /key/regenerate)."""
    return doc.get("id") or doc["token"]


def usd(micros: int | None) -> float | None:
    return None if micros is None else micros / MICROS


def micros(value: float | None) -> int | None:
    return None if value is None else int(round(value * MICROS))


async def _rest_alone(out: list, items: list[dict], handle) -> list:
    """Fill the slots of `out` still None with `handle(item)` run for each such item concurrently
    (its result, or the GatewayError it raised)."""
    async def one(it: dict):
        try:
            return await handle(it)
        except GatewayError as err:
            return err

    rest = [i for i, o in enumerate(out) if o is None]
    for i, res in zip(rest, await asyncio.gather(*(one(items[i]) for i in rest))):
        out[i] = res
    return out


class Ledger:
    def __init__(
        self, store: RedisStore, master_key: str | None, *, clock: Callable[[], float] = time.time,
        reservation_ttl: float = 900.0, done_ttl: int = 86400, proxy_budget: dict | None = None,
        access_groups: dict[str, set[str]] | None = None, dead_router_grace: float = 15.0,
    ) -> None:
        self.store = store
        self.master_key = master_key
        # litellm_settings.max_budget / budget_duration: {"max_budget": micro-USD, "budget_duration": str|None},
        # one more entity in every reservation (master key included), so all spend counts against it
        self.proxy_budget = proxy_budget
        # model_info.access_groups: a key's `models` entry naming an access group allows its model groups
        self.access_groups = access_groups or {}
        self.clock = clock
        self.reservation_ttl = reservation_ttl  # deadline of reservations made without a router lease
        self.done_ttl = done_ttl
        # a dead router's reservations are resolved only after the store has been reachable this
        # long, so that live routers cut off by an outage renew their leases first
        self.dead_router_grace = dead_router_grace
        self.docs = DocCache()  # admission's document cache (versions checked by the script)

    def allow_dead(self) -> bool:
        return self.store.reachable_for() >= self.dead_router_grace

    # ---------------- identity ----------------
    async def identify(self, api_key: str) -> tuple[bool, dict | None]:
        """(is_master, key document). Raises AUTHENTICATION / PERMISSION."""
        if self.master_key is None:
            return True, None
        if not api_key:
            raise GatewayError(ErrorKind.AUTHENTICATION, "No API key provided.", code="missing_api_key")
        if same_secret(api_key, self.master_key):
            return True, None
        h = hash_key(api_key)
        doc = await self.store.get_doc("key", h)
        if doc is None:
            raise GatewayError(ErrorKind.AUTHENTICATION, f"Invalid API key ({short(h)}).")
        self._check_live(doc)
        return False, doc

    def _check_live(self, doc: dict) -> None:
        if doc.get("blocked"):
            raise GatewayError(ErrorKind.PERMISSION, f"API key {self.label(doc)} is blocked.", code="key_blocked")
        if doc.get("expires") and doc["expires"] <= self.clock():
            raise GatewayError(
                ErrorKind.AUTHENTICATION, f"API key {self.label(doc)} expired at {iso(doc['expires'])}.",
                code="key_expired",
            )

    @staticmethod
    def label(doc: dict) -> str:
        return f"'{doc['key_alias']}'" if doc.get("key_alias") else short(doc["token"])

    async def require_master(self, api_key: str) -> None:
        if self.master_key is None:
            raise GatewayError(ErrorKind.PERMISSION, "Key management needs general_settings.master_key to be set.")
        is_master, _ = await self.identify(api_key)
        if not is_master:
            raise GatewayError(ErrorKind.PERMISSION, "This endpoint needs the master key.")

    async def _team_user(self, doc: dict) -> tuple[dict | None, dict | None]:
        team = await self.store.get_doc("team", doc["team_id"]) if doc.get("team_id") else None
        user = await self.store.get_doc("user", doc["user_id"]) if doc.get("user_id") else None
        return team, user

    def _check_model(self, doc: dict, team: dict | None, model: str) -> None:
        if not model:
            return
        target = (doc.get("aliases") or {}).get(model, model)
        for owner, models in (("the key", doc.get("models")), ("its team", (team or {}).get("models"))):
            if models and ALL_MODELS not in models and model not in models and target not in models and not any(
                    model in self.access_groups.get(m, ()) or target in self.access_groups.get(m, ()) for m in models):
                who = f"'{doc['key_alias']}'" if doc.get("key_alias") else doc["token"][:12]
                raise GatewayError(
                    ErrorKind.PERMISSION, f"API key {who} is not allowed to use model {model!r} "
                    f"({owner} allows: {', '.join(models)}).", param="model", code="model_not_allowed",
                )

    async def authorize(self, api_key: str, model: str = "") -> tuple[bool, dict | None, dict | None]:
        is_master, doc = await self.identify(api_key)
        team = None
        if doc is not None:
            team, _ = await self._team_user(doc)
            self._check_model(doc, team, model)
        return is_master, doc, team

    # ---------------- admission ----------------
    def _entity(self, kind: str, id_: str, doc: dict, now: float, name: str) -> EntityArgs:
        spend_key, exp = self.spend_key(kind, id_, doc, now)
        minute = int(now // 60)
        win_exp = (minute + 2) * 60
        base = f"{kind}:{id_}"
        rpm, tpm, par = doc.get("rpm_limit"), doc.get("tpm_limit"), doc.get("max_parallel_requests")
        budget = doc.get("max_budget")
        return EntityArgs(
            name=name, spend_key=spend_key, spend_expireat=exp, out_key=self.store.k(f"out:{base}"),
            budget=-1 if budget is None else int(budget),
            rpm_key=self.store.k(f"rpm:{base}:{minute}") if rpm is not None else "", rpm=-1 if rpm is None else rpm,
            tpm_key=self.store.k(f"tpm:{base}:{minute}") if tpm is not None else "", tpm=-1 if tpm is None else tpm,
            par_key=self.store.k(f"par:{base}") if par is not None else "", par=-1 if par is None else par,
            window_expireat=win_exp,
        )

    def spend_key(self, kind: str, id_: str, doc: dict, now: float) -> tuple[str, int]:
        dur = doc.get("budget_duration")
        if dur:
            p = parse_duration(dur)
            return self.store.k(f"spend:{kind}:{id_}:{p.text}:{p.period_id(now)}"), int(p.period_end(now)) + 3600
        return self.store.k(f"spend:{kind}:{id_}:all"), int(now) + 10 * 365 * 86400

    async def reserve(
        self, api_key: str, request_id: str, model: str, est_cost: int, est_tokens: int, *,
        router_id: str = "", lease: float = 0.0, extend: bool = False, started: bool = False,
    ) -> tuple[bool, dict | None, int, dict | None]:
        """Admit (or, with `extend`, raise the reservation of) one request.
        -> (is_master, key doc, reserved micro-USD, team doc)."""
        if not request_id:
            raise invalid("request_id is required", param="request_id")
        for fresh in (False, True):  # a cached document changed since it was read: admit again
            is_master, docs, cached = await self._admission_docs(api_key, fresh)
            try:
                if docs is not None:
                    self._check_live(docs.doc)
                kw, labels, now = self._reserve_call(docs, request_id, model, est_cost, est_tokens, router_id, lease,
                                                     extend, started)
                res = await self.store.reserve(**kw)
            except GatewayError:
                if not cached:
                    raise
                self.docs.drop(hash_key(api_key))  # a refusal is never based on cached documents alone
                continue
            if res.reason != "stale":
                break
            self.docs.drop(hash_key(api_key))
        if res.reason == "stale":  # changed again between two reads: let the client retry
            raise GatewayError(ErrorKind.UNAVAILABLE, "the API key was being changed; retry the request",
                               code="key_changing", retry_after=1.0)
        if res.ok:
            return is_master, docs and docs.doc, res.reserved, docs and docs.team
        if res.reason == "duplicate":
            raise invalid(f"request id {request_id[:64]!r} was already used", param="request_id")
        if res.reason in ("missing", "mismatch"):
            raise invalid(f"request id {request_id[:64]!r} has no open reservation of this key to extend",
                          param="request_id")
        who = labels[res.entity]
        if res.reason == "budget":
            raise GatewayError(
                ErrorKind.BUDGET_EXCEEDED,
                f"BudgetExceededError: Budget has been exceeded for {who}: spend ${res.used / MICROS:.6f} (incl. in-flight reservations), "
                f"max budget ${res.limit / MICROS:.6f}"
                + (f", this request may cost up to ${est_cost / MICROS:.6f}" if res.used < res.limit else "") + ".",
            )
        retry = 1.0 if res.reason == "parallel" else 60 - (now % 60)
        what = {"rpm": "requests per minute", "tpm": "tokens per minute", "parallel": "parallel requests"}[res.reason]
        raise GatewayError(
            ErrorKind.RATE_LIMIT, f"Rate limit exceeded for {who}: {what} limit {res.limit} (current {res.used}).",
            retry_after=max(1.0, math.ceil(retry)),
        )

    async def _admission_docs(self, api_key: str, fresh: bool) -> tuple[bool, CachedDocs | None, bool]:
        """(is_master, the key's documents and their versions, whether they came from the cache) for
        an admission: from the cache (doc_cache.py; the reservation script checks the versions)
        unless `fresh`."""
        if self._is_master(api_key):
            return True, None, False
        if not api_key:
            raise GatewayError(ErrorKind.AUTHENTICATION, "No API key provided.", code="missing_api_key")
        h = hash_key(api_key)
        hit = None if fresh else self.docs.get(h)
        if hit is not None:
            return False, hit, True
        # each version is read before its document: a write in between leaves an older version
        # with the newer document, which the script then reports as stale (never the reverse)
        kver = await self.store.get_version("key", h)
        doc = await self.store.get_doc("key", h)
        if doc is None:
            raise GatewayError(ErrorKind.AUTHENTICATION, f"Invalid API key ({short(h)}).")
        versions = [(self.store.version_key("key", h), kver)]
        related: dict[str, dict | None] = {"team": None, "user": None}
        for kind in related:
            if doc.get(f"{kind}_id"):
                ver = await self.store.get_version(kind, doc[f"{kind}_id"])
                related[kind] = await self.store.get_doc(kind, doc[f"{kind}_id"])
                versions.append((self.store.version_key(kind, doc[f"{kind}_id"]), ver))
        hit = CachedDocs(doc, related["team"], related["user"], versions)
        self.docs.put(h, hit)
        return False, hit, False

    def _is_master(self, api_key: str) -> bool:
        """No master key configured (nothing is enforced), or `api_key` is it."""
        return self.master_key is None or bool(api_key and same_secret(api_key, self.master_key))

    def _reserve_call(self, docs: CachedDocs | None, request_id, model, est_cost, est_tokens, router_id, lease,
                      extend, started) -> tuple[dict, list[str], float]:
        """(RedisStore.reserve arguments, the entities' labels for errors, now) for the key's
        documents `docs` (None: the master key); raises when the key may not use `model`."""
        now = self.clock()
        doc, team, user = (docs.doc, docs.team, docs.user) if docs is not None else (None, None, None)
        entities: list[EntityArgs] = []
        labels: list[str] = []
        attrib: dict[str, str] = {}
        if doc is not None:
            self._check_model(doc, team, model)
            entities.append(self._entity("key", key_id(doc), doc, now, "key"))
            labels.append(f"API key '{doc['key_alias']}'" if doc.get("key_alias") else f"API key {doc['token'][:12]}")
            attrib["key"] = key_id(doc)
            for kind, ent in (("team", team), ("user", user)):
                if ent is not None:
                    entities.append(self._entity(kind, ent["id"], ent, now, kind))
                    labels.append(f"{kind} '{ent['id']}'")
                    attrib[kind] = ent["id"]
        if self.proxy_budget is not None:
            entities.append(self._entity("proxy", "global", self.proxy_budget, now, "proxy"))
            labels.append("the proxy (litellm_settings.max_budget)")
        lease = lease if lease and lease > 0 else 15.0
        kw = dict(now=now, request_id=request_id, amount=max(0, est_cost), tokens=max(0, est_tokens),
                  deadline=now + (lease if router_id else self.reservation_ttl), done_ttl=self.done_ttl, model=model,
                  attrib=attrib, entities=entities, router=router_id, lease=lease, extend=extend,
                  allow_dead=self.allow_dead(), started=started, versions=docs.versions if docs is not None else [])
        return kw, labels, now

    async def settle_batch(self, items: list[dict]) -> list:
        """`settle(**item)` for many items (see `exchange`). One result or GatewayError per item."""
        return (await self.exchange(items, []))[0]

    async def exchange(self, settles: list[dict], items: list[dict]) -> tuple[list, list]:
        """Apply `settles` (each as `settle(**it)`), then admit `items` (each as `reserve(**it)`),
        in one Redis round trip: the settlements first, so what they free is there for the
        admissions. Admissions whose documents are cached go in that round trip; the rest, and any
        that did not come back admitted, take `reserve` alone (which re-reads documents before
        refusing). Settlements not applied there (already settled, or a reservation Redis lost) are
        settled alone. -> (one result or GatewayError per settle, one per item)."""
        now = self.clock()
        settle_kws = [dict(now=now, request_id=it["request_id"], cost=it["cost"], tokens=it["tokens"],
                           model=it["model"], done_ttl=self.done_ttl, how="settled" if it["success"] else "failed",
                           allow_dead=self.allow_dead()) for it in settles]
        fast = self._cached_admissions(items)  # (item index, reserve arguments, documents)
        settled: list = [None] * len(settles)
        out: list = [None] * len(items)
        if settle_kws or fast:
            try:
                done, admitted = await self.store.settle_and_reserve_many(settle_kws, [kw for _, kw, _ in fast])
            except GatewayError:  # the store failed: each item learns why on its own
                done, admitted = [None] * len(settle_kws), [None] * len(fast)
            for i, res in enumerate(done):
                if isinstance(res, tuple) and res[0]:
                    settled[i] = res
            for (i, _, docs), res in zip(fast, admitted):
                if isinstance(res, ReserveResult) and res.ok:
                    out[i] = (docs is None, docs and docs.doc, res.reserved, docs and docs.team)
        await _rest_alone(settled, settles, lambda it: self.settle(
            it["request_id"], it["cost"], it["tokens"], it["model"], it["success"]))
        await _rest_alone(out, items, lambda it: self.reserve(
            it["api_key"], it["request_id"], it["model"], it["est_cost"], it["est_tokens"],
            router_id=it.get("router_id", ""), lease=it.get("lease", 0.0), extend=it.get("extend", False),
            started=it.get("started", False)))
        return settled, out

    def _cached_admissions(self, items: list[dict]) -> list[tuple[int, dict, CachedDocs | None]]:
        """The items that can be admitted on cached documents: (index, reserve arguments, documents)."""
        fast = []
        for i, it in enumerate(items):
            api_key = it["api_key"]
            try:
                if not it["request_id"]:
                    continue
                docs = None
                if not self._is_master(api_key):
                    docs = self.docs.get(hash_key(api_key)) if api_key else None
                    if docs is None:
                        continue
                    self._check_live(docs.doc)
                kw, _, _ = self._reserve_call(docs, it["request_id"], it["model"], it["est_cost"], it["est_tokens"],
                                              it.get("router_id", ""), it.get("lease", 0.0), it.get("extend", False),
                                              it.get("started", False))
            except GatewayError:
                continue  # refused on cached documents: decided alone, after a fresh read
            fast.append((i, kw, docs))
        return fast

    async def settle(self, request_id: str, cost: int, tokens: int, model: str, success: bool) -> tuple[bool, int]:
        return await self.store.settle(
            now=self.clock(), request_id=request_id, cost=cost, tokens=tokens, model=model,
            done_ttl=self.done_ttl, how="settled" if success else "failed", allow_dead=self.allow_dead(),
        )

    async def heartbeat(self, router_id: str, lease: float, started: list[str]) -> int:
        if not router_id:
            raise invalid("router_id is required", param="router_id")
        return await self.store.heartbeat(router=router_id, lease=lease if lease > 0 else 15.0, started=started)

    async def sweep(self) -> int:
        """Resolve due reservations (dead routers' and expired ones); returns how many."""
        return await self.store.sweep(now=self.clock(), done_ttl=self.done_ttl, allow_dead=self.allow_dead())

    # ---------------- spend views ----------------
    async def period_spend(self, kind: str, id_: str, doc: dict) -> int:
        await self.sweep()
        key, _ = self.spend_key(kind, id_, doc, self.clock())
        return await self.store.get_int(key)

    def reset_at(self, doc: dict) -> str:
        dur = doc.get("budget_duration")
        return iso(parse_duration(dur).period_end(self.clock())) if dur else ""

    # ---------------- keys ----------------
    def _apply_limits(self, doc: dict, spec: dict) -> None:
        for f in ("models", "tpm_limit", "rpm_limit", "max_parallel_requests", "metadata"):
            if f in spec:
                v = spec[f]
                if f in ("tpm_limit", "rpm_limit", "max_parallel_requests") and v is not None and v < 0:
                    v = None
                doc[f] = v
        if "max_budget" in spec:
            mb = spec["max_budget"]
            if mb is not None and mb < 0:
                raise invalid("max_budget must be >= 0", param="max_budget")
            doc["max_budget"] = micros(mb)
        if "budget_duration" in spec:
            d = spec["budget_duration"] or None
            if d:
                parse_duration(d)
            doc["budget_duration"] = d

    async def _link(self, doc: dict) -> None:
        if doc.get("team_id") and await self.store.get_doc("team", doc["team_id"]) is None:
            raise invalid(f"team_id {doc['team_id']!r} does not exist; create it with /team/new", param="team_id")
        if doc.get("user_id") and await self.store.get_doc("user", doc["user_id"]) is None:
            await self.store.put_doc("user", doc["user_id"], self._entity_doc(doc["user_id"], {}), create=True)

    async def generate_key(self, caller: str, spec: dict, custom_key: str = "") -> tuple[str, dict]:
        await self.require_master(caller)
        if custom_key and not custom_key.startswith("sk-"):
            raise invalid("key must start with 'sk-'", param="key")
        key = custom_key or new_key()
        now = self.clock()
        doc = {"id": uuid.uuid4().hex, "token": hash_key(key), "key_name": display_name(key), "key_alias": None, "team_id": None,
               "user_id": None, "models": [], "max_budget": None, "budget_duration": None, "tpm_limit": None,
               "rpm_limit": None, "max_parallel_requests": None, "metadata": {}, "aliases": {}, "expires": None,
               "blocked": False, "created": now}
        self._apply_key_spec(doc, spec, now)
        await self._link(doc)
        if not await self.store.put_doc("key", doc["token"], doc, create=True):
            raise invalid("this key already exists", param="key")
        log.info("generated %s", short(doc["token"]))
        return key, doc

    def _apply_key_spec(self, doc: dict, spec: dict, now: float) -> None:
        self._apply_limits(doc, spec)
        for f in ("key_alias", "team_id", "user_id", "aliases", "blocked"):
            if f in spec:
                doc[f] = spec[f] if spec[f] != "" else None
        if "duration" in spec:
            doc["expires"] = now + duration_seconds(spec["duration"], now) if spec["duration"] else None

    async def _key_doc(self, key_or_hash: str) -> dict:
        if not key_or_hash:
            raise invalid("key is required", param="key")
        h = key_or_hash if is_hash(key_or_hash) else hash_key(key_or_hash)
        doc = await self.store.get_doc("key", h)
        if doc is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"{short(h)} not found.", param="key")
        return doc

    async def key_info(self, caller: str, key: str) -> dict:
        is_master, own = await self.identify(caller)
        if not is_master and (own is None or (key and hash_key(key) != own["token"] and key != own["token"])):
            raise GatewayError(ErrorKind.PERMISSION, "Only the master key can read other keys.")
        if is_master and not key:
            raise invalid("key is required", param="key")
        return await self._key_doc(key or caller)

    async def update_key(self, caller: str, key: str, spec: dict) -> dict:
        await self.require_master(caller)
        doc = await self._key_doc(key)
        self._apply_key_spec(doc, spec, self.clock())
        await self._link(doc)
        await self.store.put_doc("key", doc["token"], doc)
        return doc

    async def set_blocked(self, caller: str, key: str, blocked: bool) -> dict:
        return await self.update_key(caller, key, {"blocked": blocked})

    async def delete_keys(self, caller: str, keys: list[str]) -> list[str]:
        await self.require_master(caller)
        deleted = []
        for k in keys:
            doc = await self._key_doc(k)
            await self.store.delete_doc("key", doc["token"])
            deleted.append(k)
        return deleted

    async def regenerate_key(self, caller: str, key: str) -> tuple[str, dict]:
        await self.require_master(caller)
        doc = await self._key_doc(key)
        old = doc["token"]
        new = new_key()
        doc.update(token=hash_key(new), key_name=display_name(new))
        await self.store.put_doc("key", doc["token"], doc, create=True)
        await self.store.delete_doc("key", old)
        log.info("regenerated %s -> %s", short(old), short(doc["token"]))
        return new, doc

    async def list_keys(self, caller: str, team_id: str = "", user_id: str = "") -> list[dict]:
        await self.require_master(caller)
        docs = await self.store.get_docs("key", await self.store.ids("key"))
        return [d for d in docs if (not team_id or d.get("team_id") == team_id)
                and (not user_id or d.get("user_id") == user_id)]

    # ---------------- teams / users ----------------
    def _entity_doc(self, id_: str, spec: dict) -> dict:
        doc = {"id": id_, "alias": None, "models": [], "max_budget": None, "budget_duration": None,
               "tpm_limit": None, "rpm_limit": None, "max_parallel_requests": None, "metadata": {},
               "created": self.clock()}
        self._apply_limits(doc, spec)
        if "alias" in spec:
            doc["alias"] = spec["alias"] or None
        return doc

    async def new_entity(self, caller: str, kind: str, id_: str, spec: dict) -> dict:
        await self.require_master(caller)
        id_ = id_ or str(uuid.uuid4())
        doc = self._entity_doc(id_, spec)
        if not await self.store.put_doc(kind, id_, doc, create=True):
            if kind == "user":  # implicitly created users can be given a budget with /user/new
                return await self.update_entity(caller, kind, id_, spec)
            raise invalid(f"{kind} {id_!r} already exists", param=f"{kind}_id")
        return doc

    async def entity(self, caller: str, kind: str, id_: str) -> dict:
        await self.require_master(caller)
        doc = await self.store.get_doc(kind, id_) if id_ else None
        if doc is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"{kind} {id_!r} not found.", param=f"{kind}_id")
        return doc

    async def update_entity(self, caller: str, kind: str, id_: str, spec: dict) -> dict:
        doc = await self.entity(caller, kind, id_)
        self._apply_limits(doc, spec)
        if "alias" in spec:
            doc["alias"] = spec["alias"] or None
        await self.store.put_doc(kind, id_, doc)
        return doc

    async def spend_view(self, caller: str, view: str) -> tuple[int, list[dict]]:
        """Lifetime spend rows: view keys | users | teams | models | global."""
        await self.require_master(caller)
        await self.sweep()
        total = await self.store.global_spend()
        if view == "global":
            return total, []
        if view == "models":
            stat = await self.store.stat("model")
            return total, [{"name": m, "spend": v} for m, v in sorted(stat.items(), key=lambda x: -x[1])]
        if view == "keys":
            stat = await self.store.stat("key")
            docs = await self.store.get_docs("key", await self.store.ids("key"))
            rows = [{"name": d["key_name"], "token": d["token"], "key_alias": d.get("key_alias") or "",
                     "spend": stat.get(key_id(d), 0), "max_budget": d.get("max_budget"),
                     "user_id": d.get("user_id") or "", "team_id": d.get("team_id") or ""} for d in docs]
            return total, sorted(rows, key=lambda r: -r["spend"])
        if view in ("users", "teams"):
            kind = view[:-1]
            stat = await self.store.stat(kind)
            docs = {d["id"]: d for d in await self.store.get_docs(kind, await self.store.ids(kind))}
            rows = [{"name": i, "spend": stat.get(i, 0), "max_budget": (docs.get(i) or {}).get("max_budget"),
                     **({"user_id": i} if kind == "user" else {"team_id": i})} for i in sorted(set(stat) | set(docs))]
            return total, sorted(rows, key=lambda r: -r["spend"])
        raise invalid(f"unknown spend view {view!r}", param="view")
