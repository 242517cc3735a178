# lambda-batch: every command a developer or CI needs. `make help` lists them.
# Only python3 and make are needed on the machine: each target installs what it uses
# into .venv (pinned in requirements-dev.txt).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The Python versions the layer is tested on (pyenv names); a version not installed is reported and skipped.
MATRIX_PYTHONS ?= 3.9 3.10 3.11 3.12 3.13
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv with every development dependency

.PHONY: lock
lock: ## Re-pin requirements-dev.txt from requirements-dev.in
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements-dev.in
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^lambda-batch' > requirements-dev.txt
	rm -rf .venv-lock

.PHONY: lint
lint: $(STAMP) ## ruff and mypy (strict on layer/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check layer
	$(BIN)/mypy

.PHONY: test
test: lint ## Lint, then every test (unit, integration on moto, template, property, demo), then the Python matrix
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-pythons

.PHONY: test-pythons
test-pythons: ## The layer's tests on each Python of MATRIX_PYTHONS (3.9 to 3.13)
	$(PYTHON) tools/python_matrix.py $(MATRIX_PYTHONS)

.PHONY: bench
bench: $(STAMP) ## Benchmarks against the alternatives; figures go to docs/BENCHMARKS.md
	$(BIN)/python -m benchmarks.processing
	$(BIN)/python -m benchmarks.dispatchers

.PHONY: demo
demo: $(STAMP) ## The whole system end to end on the embedded AWS emulator (DEMO_ARGS="--messages 500 ...")
	$(BIN)/python -m demo $(DEMO_ARGS)

.PHONY: clean
clean: ## Remove build output and virtual environments
	rm -rf .aws-sam build $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis
