# Every target that needs Python makes the virtual environment first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= default
JOBS ?= 2
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
	$(PY) -m theory_check.reproduce --scale $(SCALE) --jobs $(JOBS)

bench: install
	$(PY) -m theory_check.bench

clean:
	rm -rf $(VENV) outputs results/raw results/tables .pytest_cache .hypothesis *.egg-info
