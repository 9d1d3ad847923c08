PY ?= .venv/bin/python
PROTO_SRC := proto/gemgate/v1/router.proto proto/gemgate/v1/budget.proto proto/gemgate/v1/responses.proto proto/gemgate/v1/records.proto proto/gemgate/v1/anthropic.proto proto/gemgate/v1/gemini_native.proto
CONFIG ?= config.yaml
PORT ?= 4000
HOST ?= 127.0.0.1

.PHONY: install proto proto-check test run up down bench bench-quick bench-peer bench-soak bench-workers

STAMP := .venv/.gemgate-installed

install: $(STAMP)  ## create .venv and install gemgate with its dev dependencies

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

proto: $(STAMP)  ## regenerate gemgate/v1/*_pb2*.py from proto/
	$(PY) -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO_SRC)

proto-check: $(STAMP)  ## fail if the committed generated code differs from what proto/ generates
	@tmp=$$(mktemp -d); \
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$$tmp --pyi_out=$$tmp --grpc_python_out=$$tmp $(PROTO_SRC) && \
	for f in $$(cd $$tmp && find . -name '*.py' -o -name '*.pyi'); do \
	  cmp -s $$tmp/$$f $$f || { echo "generated code drifted: $$f (run make proto)"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "proto: generated code up to date"

test: $(STAMP) proto-check  ## the full test suite (needs Redis on REDIS_URL or 127.0.0.1:6379)
	$(PY) -m pytest -q

run: $(STAMP)  ## install if needed, then start the whole gateway on one machine
	.venv/bin/gemgate --config $(CONFIG) --host $(HOST) --port $(PORT)

up:
	docker compose up -d --build

down:
	docker compose down

BENCH_ARGS ?=
SOAK_MINUTES ?= 30
SOAK_RATE ?= 50
WORKERS ?= 2

bench: $(STAMP)  ## load benchmark (see bench/): wrk + nginx mock when installed, else Python ones
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: $(STAMP)  ## the same, shorter (under ~2 minutes)
	$(PY) -m bench --quick $(BENCH_ARGS)

bench-peer: $(STAMP)  ## the benchmark plus LiteLLM's proxy (throwaway venv outside the project) and the ratios
	$(PY) -m bench.peer --install
	$(PY) -m bench --peer $(BENCH_ARGS)

bench-soak: $(STAMP)  ## soak: keys on, SOAK_RATE req/s for SOAK_MINUTES; RSS growth after warm-up
	$(PY) -m bench --soak $(SOAK_MINUTES) --rate $(SOAK_RATE) $(BENCH_ARGS)

bench-workers: $(STAMP)  ## gemgate --num_workers WORKERS on WORKERS CPUs vs 1 worker on 1 CPU
	$(PY) -m bench --workers $(WORKERS) $(BENCH_ARGS)
