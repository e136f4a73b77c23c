# llmspell developer tasks. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when pyproject.toml changed since the last install.
STAMP := $(VENV)/.llmspell-installed
PYTEST_ARGS ?=
SERVE_ARGS ?=
PROTO_OUT := service/llmspell/server/grpc/gen

.PHONY: help venv bytecode run serve services lint test bench proto clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-9s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install llmspell with the dev extras

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

# An editable install has no bytecode until first import writes it, which never happens
# under PYTHONDONTWRITEBYTECODE: compile it as pip does for an installed package.
bytecode: venv ## Compile service/ to bytecode (start-up then reads no source)
	@$(BIN)/python -m compileall -q service >/dev/null

run: venv ## Run examples/hello.lua
	$(BIN)/llmspell run examples/hello.lua

serve: venv bytecode ## Upgrade the database, then run the daemon (extra flags: SERVE_ARGS="--port 9000")
	$(BIN)/llmspell db upgrade
	exec $(BIN)/llmspell serve $(SERVE_ARGS)

services: ## Make sure PostgreSQL and Redis are up (installs them if missing)
	@bash scripts/ensure-services.sh

lint: venv ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service/llmspell

test: venv bytecode services lint ## Lint, then the whole test suite
	$(BIN)/pytest -p no:cacheprovider -q -rfE --durations=15 $(PYTEST_ARGS) tests

bench: venv bytecode ## Run every benchmarks/bench_*.py in turn
	@shopt -s nullglob; scripts=(benchmarks/bench_*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks/bench_*.py"; exit 0; fi; \
	for script in "$${scripts[@]}"; do echo "== $$script"; $(BIN)/python "$$script" || exit 1; done

proto: venv ## Regenerate the gRPC code from proto/llmspell/v1/*.proto
	$(BIN)/python scripts/gen_proto.py --out $(PROTO_OUT)

clean: ## Remove caches and build output (keeps .venv)
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache service/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
