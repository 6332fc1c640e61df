# The one command surface. `make dev` runs the API locally, `make test` proves it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
CHECKOV := .venv-checkov
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0

# `make route PATH=/api/greet` sets make's PATH, which is also the one commands are looked up in: keep the route's
# path as ROUTE_PATH and give every recipe the real search path back (make 4.3's $(shell) still sees it).
ifeq ($(origin PATH),command line)
ROUTE_PATH := $(PATH)
override PATH := $(shell /usr/bin/printenv PATH)
ifeq ($(PATH),$(ROUTE_PATH))
override PATH := /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
endif
endif

# Lambda runs python3.13: prefer it, accept 3.12 with a warning, otherwise say what to install.
define find_python
for candidate in python3.13 python3.12; do \
  if $$candidate -c 'import sys' >/dev/null 2>&1; then \
    [ $$candidate = python3.13 ] || echo "warning: python3.13 not found; using $$candidate (Lambda runs 3.13)" >&2; \
    echo $$candidate; exit 0; \
  fi; \
done; \
echo "error: python3.13 is required (3.12 works too). Install it, e.g. 'pyenv install 3.13' or 'uv python install 3.13'." >&2; \
exit 1
endef

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.in
	@python=$$($(find_python)) || exit 1; [ -x $(PY) ] || $$python -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -r layers/shared/requirements.in
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@python=$$($(find_python)) || exit 1; [ -x $(TOOLS)/bin/python ] || $$python -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q -r requirements-tools.txt
	@touch $@

# checkov pins a boto3 that aws-sam-cli's pin excludes: it gets a venv of its own.
$(CHECKOV)/.installed: requirements-checkov.txt
	@python=$$($(find_python)) || exit 1; [ -x $(CHECKOV)/bin/python ] || $$python -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install -q -r requirements-checkov.txt
	@touch $@

# Front-end tooling only (Swagger UI's assets, TypeScript types): nothing from node_modules runs in Lambda.
# --ignore-scripts: no package needs an install script, and one of them would phone home.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is required (Node.js 20 or newer): apt-get install nodejs npm" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The layer's and each function's requirements.txt is a lock generated from the requirements.in beside it, which is
# what you edit: every package, transitive ones too, pinned with the sha256 of each of its files on PyPI, so pip runs in
# hash-checking mode wherever it reads one (sam build, the dev server) and installs only what was reviewed. Resolved
# for Lambda (CPython 3.13, Linux aarch64, glibc 2.34); the hashes cover every platform's files of those versions, so
# the dev server installs the same set on x86_64 or macOS. A pin in requirements.in is kept; the others stay where the
# lock has them unless ARGS="--upgrade" (or --upgrade-package NAME). `make validate` fails while a lock is stale.
LOCK_INPUTS = layers/shared/requirements.in $(sort $(wildcard functions/*/requirements.in))
UV_COMPILE = uv pip compile --quiet --generate-hashes --python-platform aarch64-manylinux_2_34 --python-version 3.13
.PHONY: lock
lock: $(TOOLS)/.installed ## requirements.txt (pinned, hashed) of the layer and functions from their requirements.in
	@for input in $(LOCK_INPUTS); do \
	  dir=$$(dirname $$input); \
	  (cd $$dir && PATH="$(abspath $(TOOLS))/bin:$$PATH" $(UV_COMPILE) $(ARGS) requirements.in -o requirements.txt) || exit 1; \
	  echo "$$dir/requirements.txt: $$(grep -c '^[a-z0-9]' $$dir/requirements.txt) packages, from $$input"; \
	done

.PHONY: install
install: $(VENV)/.installed node_modules/.installed ## create .venv and node_modules with the pinned dependencies

# Only what GET /api/docs loads, plus the licences that must travel with it. tests/unit/test_docs.py fails when
# these copies differ from the pinned swagger-ui-dist: after bumping it in package.json, run this again.
SWAGGER_UI_FILES = swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
.PHONY: swagger-ui
swagger-ui: node_modules/.installed ## vendor Swagger UI's files into functions/docs/swagger-ui/ from node_modules
	rm -rf functions/docs/swagger-ui
	mkdir -p functions/docs/swagger-ui
	cp $(addprefix node_modules/swagger-ui-dist/,$(SWAGGER_UI_FILES)) functions/docs/swagger-ui/

# The same for the GraphiQL page (functions/graphql/ide.py): GraphiQL's browser build and the React 18 it runs on,
# each package's LICENSE beside them (as LICENSE.<package>: three files of one name). tests/unit/test_graphiql.py
# fails when these copies differ from the pinned packages: after bumping one in package.json, run this again.
GRAPHIQL_FILES = graphiql/graphiql.min.js graphiql/graphiql.min.css react/umd/react.production.min.js \
  react-dom/umd/react-dom.production.min.js
GRAPHIQL_PACKAGES = graphiql react react-dom
.PHONY: graphiql
graphiql: node_modules/.installed ## vendor GraphiQL's files into functions/graphql/graphiql/ from node_modules
	rm -rf functions/graphql/graphiql
	mkdir -p functions/graphql/graphiql
	cp $(addprefix node_modules/,$(GRAPHIQL_FILES)) functions/graphql/graphiql/
	for package in $(GRAPHIQL_PACKAGES); do cp node_modules/$$package/LICENSE functions/graphql/graphiql/LICENSE.$$package; done

.PHONY: dev
dev: $(VENV)/.installed ## run the API on http://127.0.0.1:3000 (flags: make dev ARGS="--port 3001")
	$(PY) -m devserver $(ARGS)

.PHONY: invoke
invoke: $(VENV)/.installed ## run one function once: make invoke FN=posts_get EVENT=events/posts_get/get.json
	$(PY) -m devserver invoke $(FN) -e $(EVENT) $(ARGS)

.PHONY: stripe-event
stripe-event: $(VENV)/.installed ## sign a sample Stripe event and send it to make dev: make stripe-event TYPE=checkout.session.completed
	@[ -n "$(TYPE)" ] || { echo "usage: make stripe-event TYPE=checkout.session.completed [URL=http://127.0.0.1:3001] [ARGS='--fresh --user alice']" >&2; exit 1; }
	@$(PY) scripts/stripe_event.py $(TYPE) $(if $(URL),--url $(URL)) $(ARGS)

.PHONY: route
route: $(VENV)/.installed node_modules/.installed ## a new endpoint: make route NAME=greet METHOD=GET PATH=/api/greet [AUTH=bearer] [ROUTE_ONLY=1]
	@[ -n "$(NAME)" ] && [ -n "$(METHOD)" ] && [ -n "$(ROUTE_PATH)" ] || { echo "usage: make route NAME=greet METHOD=GET PATH=/api/greet [AUTH=bearer] (docs/adding-an-endpoint.md)" >&2; exit 1; }
	@$(PY) scripts/new_route.py --name "$(NAME)" --method "$(METHOD)" --path "$(ROUTE_PATH)" --auth "$(AUTH)"
	$(if $(ROUTE_ONLY),@echo "ROUTE_ONLY: run make openapi client-types once the routes are added",@$(MAKE) --no-print-directory openapi client-types)

.PHONY: backfill-list-shards
backfill-list-shards: $(VENV)/.installed ## give every post its ByShard partition (docs/scale.md): ARGS="--stack NAME [--dry-run]"
	@$(PY) scripts/backfill_list_shards.py $(ARGS)

.PHONY: token
token: $(VENV)/.installed ## print a local access token: make token USER_ID=alice
	@$(PY) -m devserver token $(or $(USER_ID),alice)

.PHONY: openapi
openapi: $(VENV)/.installed ## docs/openapi.json and the catch-all's routes from every @route declaration; docs/schema.graphql
	$(PY) scripts/openapi.py
	$(PY) scripts/graphql_schema.py

.PHONY: graphql
graphql: $(VENV)/.installed ## docs/schema.graphql, and the persisted-query allow-list from clients/graphql/*.graphql
	$(PY) scripts/graphql_schema.py

# --default-non-nullable false: a field with a default stays optional (a PATCH body's fields, Problem.errors,
# which the API leaves out when empty). tests/unit/test_client_types.py runs this with CLIENT_TYPES=<temp file>.
CLIENT_TYPES = clients/typescript/api.d.ts
.PHONY: client-types
client-types: node_modules/.installed ## clients/typescript/api.d.ts from docs/openapi.json (openapi-typescript)
	node_modules/.bin/openapi-typescript docs/openapi.json --default-non-nullable false --output $(CLIENT_TYPES)

.PHONY: lint
# A function with modules besides app.py imports them by name (Lambda puts its directory on sys.path): mypy checks
# each such function on its own, with that directory on its path, and the rest together.
OWN_MODULES = $(sort $(patsubst %/,%,$(dir $(filter-out %/app.py,$(wildcard functions/*/*.py)))))
lint: $(VENV)/.installed ## ruff and mypy (strict) on functions, layer and dev server
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(or $(MYPY_PATHS),layers/shared/apikit functions devserver $(addprefix --exclude ,$(addsuffix /,$(OWN_MODULES))))
	@$(if $(MYPY_PATHS),true,for function in $(OWN_MODULES); do MYPYPATH=$$function $(VENV)/bin/mypy $$function || exit 1; done)

.PHONY: format
format: $(VENV)/.installed ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: test
test: lint node_modules/.installed ## lint, then every test with coverage (fails under 90%), and the 15 slowest
	$(PY) -m pytest --cov --cov-report=term --durations=15

# The integration tests against an API that is already running, not a dev server of their own: a deployed stack, or
# `sam local start-api` with API_TARGET=sam-local. Only the checks for every target run (tests/integration/
# test_any_target.py): they sign up users of their own and delete what they create. README: One suite, three targets.
.PHONY: test-remote
test-remote: $(VENV)/.installed ## the HTTP checks of every target against a running API: make test-remote API_BASE_URL=https://...
	@[ -n "$(API_BASE_URL)" ] || { echo "usage: make test-remote API_BASE_URL=https://<api-id>.execute-api.<region>.amazonaws.com [API_TARGET=sam-local]" >&2; exit 1; }
	API_BASE_URL="$(API_BASE_URL)" API_TARGET="$(API_TARGET)" $(PY) -m pytest -p no:cacheprovider tests/integration $(ARGS)

# All offline: checkov never asks its platform for guidelines (--skip-download), `sam validate --lint` is cfn-lint
# through SAM and needs no credentials. A checkov skip for every function or log group is in .checkov.yaml with its
# reason, once; a skip for one resource is a #checkov:skip comment with its reason beside it in the template.
WORKFLOWS = $(wildcard .github/workflows/*.yml)
.PHONY: validate
validate: $(TOOLS)/.installed $(CHECKOV)/.installed ## locks, cfn-lint, SAM transform, sam validate --lint, checkov, workflow lint
	$(TOOLS)/bin/python scripts/check_locks.py
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/python scripts/sam_transform.py template.yaml
	$(TOOLS)/bin/python scripts/check_operations.py template.yaml
	$(TOOLS)/bin/python scripts/check_samconfig.py template.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml
	@# The same with EnableCdn=true: CloudFront, the front-end bucket and their policies. checkov below reads
	@# every resource whatever its condition, so it already covers both.
	$(TOOLS)/bin/python scripts/with_default.py template.yaml EnableCdn true > .template-cdn.yaml
	$(TOOLS)/bin/cfn-lint .template-cdn.yaml && $(TOOLS)/bin/sam validate --lint --template .template-cdn.yaml; \
	  status=$$?; rm -f .template-cdn.yaml; exit $$status
	@# checkov does not expand Fn::ForEach: it skips the loop, and so every log group and alarm the loop makes.
	@# It reads the template with its loops written out in place (comments, and so #checkov:skip, kept).
	$(TOOLS)/bin/python scripts/expanded_template.py template.yaml > .template-expanded.yaml
	$(CHECKOV)/bin/checkov --config-file .checkov.yaml --quiet --compact --skip-download \
	  --framework cloudformation github_actions --file .template-expanded.yaml $(addprefix --file ,$(WORKFLOWS)); \
	  status=$$?; rm -f .template-expanded.yaml; exit $$status
	TOOLS=$(TOOLS) scripts/lint_workflows.sh

# What a template change changes once deployed: BASE's template.yaml (a git revision) and this one, both through
# Fn::ForEach and SAM's transform, compared resource by resource. Exits 1 on any difference (a refactor: none).
BASE ?= main
.PHONY: template-diff
template-diff: $(TOOLS)/.installed ## compare the deployed resources of template.yaml with BASE's (make template-diff BASE=main)
	$(TOOLS)/bin/python scripts/template_diff.py --base $(BASE) template.yaml

# detect-secrets over the tracked files (offline, against .secrets.baseline), then pip-audit over every requirements
# file and lock. pip-audit needs PyPI's advisory API: where it is unreachable (these machines) it is skipped with a
# message saying what was not checked, the only case that exits 0 without it; REQUIRE_AUDIT=1 (CI on GitHub) fails
# then. Not part of `make test`, which needs no network.
.PHONY: audit
audit: $(TOOLS)/.installed ## secret scan of the tracked files, pip-audit of every requirements file (PyPI's advisories)
	TOOLS=$(TOOLS) scripts/audit.sh

# `sam build` runs pip with the `python3.13` it finds on PATH, sometimes from a directory where pyenv's shim
# cannot see .python-version: put the real interpreter's directory first. Evaluated only by the targets using it.
PY313 = $(shell python3.13 -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null)

# No container: SAM's python builder downloads the manylinux aarch64 wheels itself for an arm64 function or layer
# (BuildArchitecture: arm64), and scripts/check_build.py fails the build if any native code is not aarch64.
# Lambda's code directories are read-only and `sam package` zips every file with a 1980 timestamp, so only
# hash-based .pyc files are ever used there; `sam build` empties .aws-sam/build first, so none can go stale.
#
# The locks' hashes (`make lock`) hold for every file sam build installs: its pip first downloads the lock for this
# machine (`pip download -r requirements.txt`, hash-checked), then fetches the aarch64 wheel of each package with
# native code by name and version alone, which no hash checks. So each lock's files, for Lambda and for this machine,
# are downloaded here first with --require-hashes into $(WHEELHOUSE), and sam build's pip is given that folder and no
# index (PIP_NO_INDEX, PIP_FIND_LINKS): whatever it picks was checked against a lock. The platforms are the builder's.
WHEELHOUSE = .aws-sam/wheelhouse
LAMBDA_WHEELS = --only-binary=:all: --implementation cp --python-version 3.13 --abi cp313 \
  $(addprefix --platform ,linux_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_28_aarch64 manylinux_2_34_aarch64)
.PHONY: build
build: $(TOOLS)/.installed ## sam build (no container, arm64 wheels) with .pyc files, then check the artifacts
	@[ -n "$(PY313)" ] || { echo "error: sam build needs python3.13, Lambda's runtime, on PATH (pyenv install 3.13)" >&2; exit 1; }
	rm -rf $(WHEELHOUSE)
	@for lock in $(LOCK_INPUTS:.in=.txt); do \
	  echo "$(WHEELHOUSE): the files of $$lock, checked against its hashes"; \
	  $(PY313) -m pip download -q --require-hashes --no-deps --dest $(WHEELHOUSE) $(LAMBDA_WHEELS) -r $$lock && \
	  $(PY313) -m pip download -q --require-hashes --no-deps --dest $(WHEELHOUSE) -r $$lock || exit 1; \
	done
	PIP_NO_INDEX=1 PIP_FIND_LINKS="$(abspath $(WHEELHOUSE))" PATH="$(dir $(PY313)):$$PATH" \
	  $(TOOLS)/bin/sam build --cached --parallel
	$(PY313) -m compileall -q -f -j 0 --invalidation-mode checked-hash .aws-sam/build
	$(PY313) scripts/check_build.py .aws-sam/build

# Standard library only, so any python3 will do. TOKEN=<access token> (from the environment) adds a write round trip.
.PHONY: smoke
smoke: ## smoke-test a running API, read-only: make smoke URL=https://... (TOKEN=... adds a write round trip)
	@[ -n "$(URL)" ] || { echo "usage: make smoke URL=https://<api-id>.execute-api.<region>.amazonaws.com [TOKEN=<token>]" >&2; exit 1; }
	@python=$$($(find_python)) || exit 1; $$python scripts/smoke.py "$(URL)"

.PHONY: bench
bench: $(VENV)/.installed ## benchmarks side by side with their baselines; writes docs/benchmarks.md
	$(PY) benchmarks/run.py $(ARGS)

# Not part of `make test` (it takes a few minutes): a fresh dev server under SOAK_CLIENTS (50) concurrent clients for
# SOAK_SECONDS (60) of reads and writes; p50/p99 per operation, status counts, RSS of every process. Fails on a 5xx, an
# unexpected status or a process whose memory keeps growing. ARGS="--persist": with --persist, then kill -9 mid-load
# and every acknowledged write checked after a restart; ARGS="--both": both runs; ARGS="--record": into the docs.
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 50
.PHONY: soak
soak: $(VENV)/.installed ## 50 clients for 60 s against a fresh dev server: p50/p99, no 5xx, bounded memory (ARGS="--persist")
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CLIENTS=$(SOAK_CLIENTS) $(PY) benchmarks/soak.py $(ARGS)

# The contract run `make test` includes (tests/contract: schemathesis against a fresh dev server, settings in
# tests/contract/schemathesis.toml) with 20 times the examples per operation; it stops when they are spent.
FUZZ_EXAMPLES ?= 200
.PHONY: fuzz
fuzz: $(VENV)/.installed ## schemathesis against a fresh dev server, 200 examples per operation (or FUZZ_EXAMPLES=...)
	CONTRACT_MAX_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -rP tests/contract $(ARGS)

# Mutation testing of the layer, not part of `make test` (it takes minutes): mutmut 3 mutates layers/shared/apikit
# into mutants/ and runs, for each mutant, the unit tests that call the mutated function; then the table per module.
# Fails while a mutant that is not in tests/mutation/equivalent.toml survives. docs/testing.md: how to read it.
# MUTANTS="apikit.auth.*" retests only those; FRESH=1 starts over; MUTATE_CHILDREN=2 tests two mutants at a time.
MUTATE_CHILDREN ?= 2
$(VENV)/.mutate-installed: $(VENV)/.installed requirements-mutate.txt
	$(PY) -m pip install -q -r requirements-mutate.txt
	@touch $@

.PHONY: mutate
mutate: $(VENV)/.mutate-installed ## mutation testing of the layer (mutmut, minutes): killed/survived/equivalent per module
	$(if $(FRESH),rm -rf mutants)
	$(PY) scripts/run_mutmut.py run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(PY) scripts/mutation_report.py $(REPORT_ARGS)

.PHONY: clean
clean: ## remove virtualenvs, build output and caches
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) mutants .devserver-cache .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
