# Two commands matter: `make demo` (the main job against local stand-ins) and
# `make test`. Both create or update .venv and node_modules themselves.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo sim test bench lint format check-deps clean infra-check

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(STAMP) node_modules/.package-lock.json

demo: deps
	$(PY) -m sim.demo

# Azurite and the simulator in the foreground, a seeded tenant, the `export` lines to
# paste into another shell; Ctrl-C stops both (README "Try it by hand").
sim: deps
	$(PY) -m sim.sandbox

test: deps lint
	$(PY) -m pytest

# Scan, cold start, Table Storage operations, a profile and the 1,000-tenant scale-out;
# writes docs/performance.md (hand-written sections below its marker line are kept).
# About 30 minutes; `$(PY) -m bench.run --only scaleout` runs the scale-out alone.
bench: deps
	$(PY) -m bench.run

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared
	$(PY) -m bandit --quiet --severity-level medium -r shared sim bench tools function_app.py
	$(PY) -m tools.audit_requirements
	$(MAKE) --no-print-directory infra-check

# checkov has its own venv: its pins clash with requirements-dev.txt. Zero failed checks
# over infra/, custom checks included (tests/infra/test_checkov.py asserts the rest).
INFRA_VENV := .venv-infra
$(INFRA_VENV)/.installed: requirements-infra.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	@touch $@

infra-check: $(INFRA_VENV)/.installed
	$(INFRA_VENV)/bin/checkov -d infra --framework bicep --skip-download --quiet --compact \
		--external-checks-dir infra/checks

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .pytest_cache .ruff_cache .mypy_cache out
