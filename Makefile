# lambda-batch: every command a developer or CI needs. `make help` lists them.
# Only python3 and make are needed on the machine: each target installs what it uses
# into .venv (pinned in requirements-dev.txt), with uv (itself pip-installed there) for speed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The newest Python the layer supports that this machine has (pyenv's or on PATH), else python3.
PYTHON ?= $(shell tools/find_python.sh)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The Python versions the layer is tested on (pyenv names); a version not installed is reported and skipped,
# and the main .venv's version is not run twice. Lambda's supported Python runtimes: 3.12 to 3.14.
MATRIX_PYTHONS ?= 3.12 3.13 3.14
PYTEST_ARGS ?=
# pytest-xdist workers: one per core; and the workers of the tests that wait on real time
# (marked `realtime`), which run beside the others (tools/test_pools.py).
WORKERS ?= auto
REALTIME_WORKERS ?= 3
# Every test run: workers, and the ten slowest tests listed at the end.
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --durations=10
# checkov in a virtual environment of its own: its dependencies conflict with the development pins.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $$(grep -E '^uv==' requirements-dev.txt)
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet -r requirements-dev.txt
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet --no-deps -e .
	touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv with every development dependency

.PHONY: emulators
emulators: $(STAMP) ## dynalite and kinesalite for tests/strict: npm ci (emulator/node), the system's Node.js 20+ or PyPI's
	$(BIN)/python -m emulator.strict install

.PHONY: lock
lock: ## Re-pin requirements-dev.txt from requirements-dev.in
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements-dev.in
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^lambda-batch' > requirements-dev.txt
	rm -rf .venv-lock

.PHONY: lint
lint: $(STAMP) ## ruff, ruff format --check, mypy (strict, on layer/ and the tooling), the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=layer:. $(BIN)/lint-imports --no-cache

.PHONY: format
format: $(STAMP) ## ruff format on the whole tree
	$(BIN)/ruff format .

.PHONY: test
test: $(STAMP) ## What CI runs: lint, validate and the emulators side by side, every test on every core, the Python matrix
	$(MAKE) --no-print-directory -j3 --output-sync=target lint validate emulators
	$(MAKE) --no-print-directory test-suite
	$(MAKE) --no-print-directory test-pythons

.PHONY: test-suite
test-suite: emulators ## Every test (unit, integration, property, strict emulators, template, demo, docs, release) on the venv's Python
	LAMBDA_BATCH_STRICT_EMULATORS=required $(BIN)/python tools/test_pools.py --workers $(WORKERS) \
		--realtime-workers $(REALTIME_WORKERS) --durations=10 $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: lint ## For developers: lint, then the unit and integration tests but those that wait on real time
	$(PYTEST) -m "not realtime" tests/unit tests/integration -q $(PYTEST_ARGS)

.PHONY: test-pythons
test-pythons: $(STAMP) ## The layer's unit and integration tests on each other Python of MATRIX_PYTHONS (those installed)
	$(BIN)/python tools/python_matrix.py $(MATRIX_PYTHONS) --workers=$(WORKERS) --realtime-workers=$(REALTIME_WORKERS)

.PHONY: test-under-load
test-under-load: $(STAMP) ## make test three times on fresh clones of HEAD while a busy loop per core loads the machine
	$(BIN)/python tools/test_under_load.py --runs 3

.PHONY: coverage
coverage: $(STAMP) ## Line and branch coverage of layer/ by every test (the report, and coverage.json)
	$(PYTEST) -q --cov=layer/lambda_batch --cov-branch --cov-report=term:skip-covered --cov-report=json $(PYTEST_ARGS)

.PHONY: bench
bench: $(STAMP) ## Benchmarks against the alternatives; figures go to docs/BENCHMARKS.md
	@$(BIN)/python -m benchmarks.processing
	@$(BIN)/python -m benchmarks.dispatchers
	@$(BIN)/python -m benchmarks.kpl_aggregation
	@$(BIN)/python -m benchmarks.idempotency

.PHONY: demo
demo: $(STAMP) ## The whole system end to end on the embedded AWS emulator (DEMO_ARGS="--messages 500 ...")
	@$(BIN)/python -m demo --build-dir $(SAM_BUILD_DIR) $(DEMO_ARGS)

.PHONY: clean
clean: ## Remove build output and virtual environments
	rm -rf .aws-sam build $(DIST) $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info layer/*.egg-info
	rm -rf emulator/node/node_modules

# --- SAM application ---
# The layer and both functions build with `BuildMethod: makefile` (a copy: pure Python),
# so `sam build` needs neither Docker nor the runtime's Python on this machine.
SAM := $(BIN)/sam
SAM_BUILD_DIR ?= .aws-sam/build
FUNCTION ?= ConsumerFunction
EVENT ?= events/sqs-batch-with-failures.json
ENDPOINT_URL ?=
# Template parameters for the stack invoke-local deploys to its own emulator: PARAMETERS="EnableKinesis=true"
PARAMETERS ?=
LAYER_NAME ?= lambda-batch
PRINCIPAL ?=
ORG_ID ?=
REGION ?= us-east-1

# The build's cache beside its folder: two builds into two folders (the tests' workers) share nothing.
.PHONY: build
build: $(STAMP) ## sam build: the layer (python/lambda_batch) and the sample functions into .aws-sam/build
	@echo "sam build -> $(SAM_BUILD_DIR)" >&2
	@SAM_CLI_TELEMETRY=0 $(SAM) build --build-dir $(SAM_BUILD_DIR) --cache-dir $(SAM_BUILD_DIR).cache >&2
	@touch $(BUILT)

# What the local runs use: built again only when the template, the layer or a function changed.
BUILT = $(SAM_BUILD_DIR)/.lambda-batch-built
BUILD_SOURCES := template.yaml layer/Makefile $(shell find layer/lambda_batch functions -type f -not -name '*.pyc' 2>/dev/null)
$(BUILT): $(STAMP) $(BUILD_SOURCES)
	@$(MAKE) --no-print-directory build

.PHONY: validate
validate: $(STAMP) $(CHECKOV_STAMP) ## sam validate --lint, cfn-lint with the serverless rules, checkov (0 failed)
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region $(REGION)
	$(BIN)/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

# checkov's virtual environment (CHECKOV_VENV, at the top of this file), pinned by requirements-checkov.txt.
$(CHECKOV_STAMP): requirements-checkov.txt | $(STAMP)
	rm -rf $(CHECKOV_VENV)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(CHECKOV_VENV)
	VIRTUAL_ENV=$(CHECKOV_VENV) $(BIN)/uv pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# --- release: the wheel, the layer zip, the docs site, the packaged SAR application (dist/) ---
DIST ?= dist
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' layer/lambda_batch/__init__.py)
S3_BUCKET ?=

.PHONY: docs
docs: $(STAMP) ## The documentation site (MkDocs, --strict: no broken link or reference) into dist/site
	NO_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict --site-dir $(DIST)/site

.PHONY: dist
dist: $(STAMP) ## The sdist and the wheel (no runtime dependencies; extras "boto3" and "aws": boto3) into dist/
	rm -rf $(DIST)/lambda_batch-*
	$(BIN)/python -m build --sdist --wheel --installer uv --outdir $(DIST) .

.PHONY: layer-zip
layer-zip: $(STAMP) ## The layer zip (the content of sam build's LambdaBatchLayer) into dist/
	$(BIN)/python tools/layer_zip.py --out $(DIST)

.PHONY: publish-app
publish-app: $(STAMP) ## sam package + sam publish the reference stack to the SAR (S3_BUCKET=... for AWS; else the embedded emulator)
	$(BIN)/python tools/sar_app.py --out $(DIST)/packaged.yaml --build-dir $(SAM_BUILD_DIR) --region $(REGION) --publish \
		$(if $(S3_BUCKET),--s3-bucket $(S3_BUCKET)) $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

.PHONY: release
release: $(STAMP) ## Everything of a release in dist/: wheel and sdist, layer zip, docs site, packaged template
	rm -rf $(DIST)
	$(MAKE) --no-print-directory dist layer-zip docs
	$(BIN)/python tools/sar_app.py --out $(DIST)/packaged.yaml --build-dir $(SAM_BUILD_DIR) --region $(REGION)
	@echo "release $(VERSION):" && ls -1 $(DIST)

# sam deploy reads samconfig.toml from the template's folder: --config-file names the repository's,
# whatever SAM_BUILD_DIR is. The credentials are checked first, before anything is built.
.PHONY: deploy
deploy: $(STAMP) ## sam deploy the reference stack (samconfig.toml [default]: no prompts; AWS_ENDPOINT_URL=... for an emulator)
	@$(BIN)/python -m devtools.aws_session
	@$(MAKE) --no-print-directory build
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-file $(CURDIR)/samconfig.toml --template-file $(SAM_BUILD_DIR)/template.yaml

.PHONY: deploy-emulator
deploy-emulator: $(BUILT) ## Deploy the stack to a moto server (ENDPOINT_URL=..., else one is started and kept up until Ctrl-C)
	@$(BIN)/python -m emulator deploy --build-dir $(SAM_BUILD_DIR) $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

.PHONY: serve-emulator
serve-emulator: $(STAMP) ## An empty moto server until Ctrl-C, for AWS_ENDPOINT_URL=... make deploy (PORT=..., else a free one)
	@$(BIN)/python -m emulator serve $(if $(PORT),--port $(PORT))

.PHONY: purge-emulator
purge-emulator: $(STAMP) ## Empty the stack's queues on ENDPOINT_URL (messages left by earlier invocations)
	@$(BIN)/python -m emulator purge $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

.PHONY: delete-emulator
delete-emulator: $(STAMP) ## Delete the stack from ENDPOINT_URL (teardown; Ctrl-C stops a server deploy-emulator started)
	@$(BIN)/python -m emulator delete $(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

.PHONY: invoke
invoke: build ## sam local invoke FUNCTION=... EVENT=... (needs Docker; else use make invoke-local)
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		SAM_CLI_TELEMETRY=0 $(SAM) local invoke $(FUNCTION) --event $(EVENT) --template $(SAM_BUILD_DIR)/template.yaml; \
	else \
		echo "sam local invoke needs Docker, which is not available here."; \
		echo "Run the same function and event locally instead, without Docker:"; \
		echo "  make invoke-local FUNCTION=$(FUNCTION) EVENT=$(EVENT)"; \
		exit 2; \
	fi

# FUNCTION, EVENT and PARAMETERS are checked first (in under a second), then built only when the
# sources changed ($(BUILT)), then invoked.
.PHONY: invoke-local
invoke-local: $(STAMP) ## Run FUNCTION's built handler with EVENT as Lambda would, on moto (or ENDPOINT_URL); PARAMETERS=K=V
	@$(BIN)/python -m local_lambda check $(FUNCTION) --event $(EVENT) \
		$(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL)) $(if $(PARAMETERS),--parameter-overrides $(PARAMETERS))
	@$(MAKE) --no-print-directory built
	@$(BIN)/python -m local_lambda invoke $(FUNCTION) --event $(EVENT) --build-dir $(SAM_BUILD_DIR) \
		$(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL)) $(if $(PARAMETERS),--parameter-overrides $(PARAMETERS))

# The build the local runs use, made only when a source changed (nothing printed otherwise).
.PHONY: built
built: $(BUILT)
	@:

.PHONY: publish-layer
publish-layer: $(STAMP) ## Build and publish the layer alone; print its ARN (PRINCIPAL=account|* ORG_ID=o-... to share)
	@$(BIN)/python tools/publish_layer.py --layer-name $(LAYER_NAME) --region $(REGION) \
		$(if $(PRINCIPAL),--principal '$(PRINCIPAL)') $(if $(ORG_ID),--org-id '$(ORG_ID)') \
		$(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))
