# The two commands of the README: `make demo` and `make test`. Both create what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAGE ?= dev
PORT ?= 8080
# jsii prints an end-of-life banner on Node 20; users should see clean output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONPATH := $(CURDIR)

NODE_READY := $(if $(wildcard package.json),node_modules/.installed,)
# Wheels of the services' pinned requirements: the boot rehearsal (tests/infra) installs an
# instance's virtualenv from them offline, as an instance does from PyPI.
WHEELHOUSE := .cache/wheels

.PHONY: help demo test bench load synth diff deploy destroy cost clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# A PYTHON named on the command line or in the environment must be the one the virtualenv
# was made with: if it is another version, the virtualenv is made again with it.
minor_version = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(filter command line environment,$(origin PYTHON)),)
ifneq ($(wildcard $(BIN)/python),)
VENV_VERSION := $(call minor_version,$(BIN)/python)
ifneq ($(VENV_VERSION),$(call minor_version,$(PYTHON)))
VENV_STALE := venv-stale
endif
endif
endif

.PHONY: venv-stale
venv-stale: ;

$(VENV)/.installed: requirements/services.txt requirements/dev.txt requirements/constraints.txt $(VENV_STALE)
	@command -v $(PYTHON) >/dev/null || { echo "error: PYTHON=$(PYTHON) is not a command on PATH"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make with PYTHON=python3.11")'
	@if [ -n "$(VENV_STALE)" ]; then \
		echo "$(VENV) was made with Python $(VENV_VERSION), PYTHON=$(PYTHON) is Python $(call minor_version,$(PYTHON)): making $(VENV) again"; \
		rm -rf $(VENV); \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	@touch $@

$(WHEELHOUSE)/.built: requirements/services.txt requirements/constraints.txt | $(VENV)/.installed
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --only-binary=:all: -w $(WHEELHOUSE) -r requirements/services.txt -c requirements/constraints.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed for the CDK CLI"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: $(VENV)/.installed  ## the 4 -> 5 movement report, then the whole system on this machine (PORT=8080)
	$(BIN)/python -m services.routing.movement --nodes 4 --add 1 --keys 100000
	$(BIN)/python -m services.local demo --port $(PORT)

test: $(VENV)/.installed $(NODE_READY) $(WHEELHOUSE)/.built  ## ruff, mypy and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(VENV)/.installed  ## benchmarks against the named baselines; JSON under results/
	@set -e; for script in scripts/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

# The load tool lives in scripts/load/ (the package `load`). It drives the system running from
# .local (make demo / services.local up), or starts one for the run; docs/load.md.
LOAD_ARGS ?=
load: $(VENV)/.installed  ## locust against the local system; results/load.json + .png (LOAD_ARGS="--duration 60 --users 32")
	@PYTHONPATH=$(CURDIR)/scripts:$(CURDIR) $(BIN)/python -m load $(LOAD_ARGS)

# With AWS credentials present, the SDK inside the CLI warns about Node 20's end of life on every
# command; like jsii's banner above, that is the machine's business, not noise for every synth.
CDK := NODE_NO_WARNINGS=1 npx --no-install cdk
CDK_ARGS ?=
CDK_OUT ?= cdk.out
# One line naming the missing AWS credentials, instead of the CDK CLI's error, before a command needs them.
AWS_CHECK = $(BIN)/python scripts/aws_credentials.py

# Synthesizes into $(CDK_OUT).next and swaps it in only on success, so a failed synth keeps the last
# templates. The app prints its own one-line error; the CLI's lines about the .next folder and its
# "Subprocess exited" line are dropped.
CDK_NOISE := -e 'Subprocess exited with error' -e '^Successfully synthesized to ' -e '^Supply a stack id '
synth: $(VENV)/.installed $(NODE_READY)  ## CloudFormation templates of STAGE (dev; STAGE=prod) into cdk.out/
	@rm -rf $(CDK_OUT).next
	@set -o pipefail; { $(CDK) synth --quiet --no-notices -o $(CDK_OUT).next -c stage=$(STAGE) $(CDK_ARGS) 2>&1 1>&3 \
		| { grep -v $(CDK_NOISE) || true; } >&2; } 3>&1 || { rm -rf $(CDK_OUT).next; exit 1; }
	@rm -rf $(CDK_OUT) && mv $(CDK_OUT).next $(CDK_OUT)
	@echo "$(STAGE) templates in $(CDK_OUT)/"

diff: $(VENV)/.installed $(NODE_READY)  ## what deploying STAGE would change in your AWS account
	@$(AWS_CHECK) diff
	$(CDK) diff --no-notices -c stage=$(STAGE) $(CDK_ARGS)

deploy: $(VENV)/.installed $(NODE_READY)  ## deploy every stack of STAGE (AWS credentials, bootstrapped account)
	@$(AWS_CHECK) deploy
	$(CDK) deploy --all --no-notices --require-approval broadening -c stage=$(STAGE) $(CDK_ARGS)

destroy: $(VENV)/.installed $(NODE_READY)  ## delete every stack of STAGE (prod's data stacks are protected)
	@$(AWS_CHECK) destroy
	$(CDK) destroy --all --no-notices -c stage=$(STAGE) $(CDK_ARGS)

# The cost tool lives in scripts/cost/ (the package `cost`); it synthesizes STAGE itself, with CDK_ARGS.
COST := PYTHONPATH=$(CURDIR)/scripts:$(CURDIR) $(BIN)/python -m
COST_ARGS ?=
cost: $(VENV)/.installed $(NODE_READY)  ## monthly cost estimate of STAGE's templates (REGIONS=a,b; COST_ARGS="--requests-per-s 200")
	@$(COST) cost --stage $(STAGE) $(if $(REGIONS),--regions $(REGIONS)) $(COST_ARGS)

.PHONY: settings docs
settings: $(VENV)/.installed  ## every CDK context key with its dev and prod defaults
	@$(BIN)/python -m stacks.settings

docs: $(VENV)/.installed $(NODE_READY)  ## regenerate docs/settings.md (settings models) and docs/cost.md (synthesized stages)
	$(BIN)/python scripts/settings_doc.py
	$(COST) cost.docs

clean:  ## remove the virtualenv, node_modules and generated files
	rm -rf $(VENV) node_modules cdk.out results .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis
