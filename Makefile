# Every target that needs Python makes the virtual environment first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= default
JOBS ?= 2
# Part of the report: `make reproduce-figures ONLY="thm31_rates thm44_hadamard"` rebuilds those
# figures (their sweeps run first) and keeps every other section as published; SKIP_RUNS=1 runs
# nothing and rebuilds from the stored rows.
ONLY ?=
SKIP_RUNS ?=
# requirements.lock pins every package to the version the committed results were made with;
# `make lock` refreshes it (to the newest releases pyproject.toml allows) with this uv.
UV_VERSION := 0.13.8
LOCK_COMMAND := uv pip compile pyproject.toml --extra dev --universal --fork-strategy fewest \
	--python-version 3.11 --custom-compile-command 'make lock' -o requirements.lock

.PHONY: install lock test test-slow test-explore reproduce-figures bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Then `make install` brings the venv to the new pins; commit the lock with results made with it.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(VENV)/bin/$(LOCK_COMMAND) --upgrade

test: install
	$(PY) -m pytest -q -n $(JOBS)

test-slow: install
	$(PY) -m pytest -q -n $(JOBS) -m slow

# The property tests with fresh random examples, 20× as many as `make test` (which replays the
# same ones every run): a search for new failures, not a regression check.
test-explore: install
	THEORY_CHECK_HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q -n $(JOBS) -m hypothesis

reproduce-figures: install
	$(PY) -m theory_check.reproduce --scale $(SCALE) --jobs $(JOBS) \
		$(if $(strip $(ONLY)),--only $(ONLY)) $(if $(filter 1 yes true,$(SKIP_RUNS)),--skip-runs)

bench: install
	$(PY) -m theory_check.bench

# Untracked outputs only (the environment, raw result tables, logs, Hydra outputs, caches,
# unfinished staging folders): the published report set (results/tables/*.csv ...) is tracked.
# tests/test_reproduce_atomic.py runs this recipe in a git repository and checks it.
CLEAN_PATHS := $(VENV) outputs multirun .hydra_runs build .pytest_cache .hypothesis *.egg-info \
	results/raw results/logs results/tables/*.parquet results/.staging-* \
	results/*/raw results/*/logs results/*/tables/*.parquet results/*/.staging-*
clean:
	rm -rf $(CLEAN_PATHS)
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
