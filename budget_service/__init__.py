"""budget_service: virtual keys, budgets, rate limits and spend over Redis (gRPC BudgetService).

Modules: servicer.py (gRPC transport), convert.py (docs <-> proto), ledger.py (rules),
redis_store.py (Redis layout + Lua scripts), keys.py (key generation/hashing), durations.py
(budget periods), server.py (CLI). With general_settings.database_url: record/ (PostgreSQL system
of record + migrations), durable.py (Redis kept consistent with it), outbox.py (charges -> spend log),
spendlog.py, records_servicer.py (RecordService) -- see docs/persistence.md.

Design decisions
- Keys are `sk-` + 384 random bits; only the sha256 hash is stored (the document id). Counters and
  spend are kept under a stable per-key `id`, so /key/regenerate keeps the key's spend and budget.
  Logs and error messages name keys by alias or hash prefix only. Master key compare is constant-time.
- Money is integer micro-USD in Redis and on the admission path; USD floats only in management JSON.
- Admission (Reserve) is ONE Lua script: for the key, its team and its user (each when present) it
  checks  spend(period) + outstanding reservations + this reservation <= max_budget  (and that the
  budget is not already exhausted, so max_budget 0 rejects the first call), rpm and tpm (fixed
  one-minute windows) and max_parallel_requests, then applies all of them or nothing.
- Budget periods: the period id is part of the spend counter's key (spend:key:<id>:30d:<period>),
  so spend resets at the boundary without a cron job. A reservation is charged to the period in
  which it was reserved.
- Settle is idempotent per request id (a done marker written in the same script); it charges the
  actual cost (possibly 0), refunds the rest of the reservation, releases the parallel slot,
  corrects the tpm window and bumps lifetime spend per key/team/user/model and globally.
- Crashed routers: each reservation has a deadline (Ledger.reservation_ttl, default 900 s, longer
  than any request timeout). Every Reserve/Settle (and spend read) first sweeps reservations past
  their deadline and charges them IN FULL (conservative), releasing their slots; a late Settle is
  then a no-op (applied=false).
- Users: created implicitly (without a budget) when a key names an unknown user_id, or explicitly
  with /user/new (which also sets a budget on an implicitly created user). Teams must be created
  with /team/new before a key names them.
- Redis down: every Redis call is bounded by general_settings.budget_deadline and fails closed with
  UNAVAILABLE (503); redis-py reconnects by itself when Redis returns. With a master_key set, the
  server refuses to start without a reachable Redis.
- The actual cost may exceed the reservation only if the router's usage exceeds its own worst-case
  estimate (max_tokens is clamped to the model's output limit, so normally it cannot).
"""
