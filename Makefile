# Every target that needs Python makes the virtual environment first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= default
JOBS ?= 2

.PHONY: install test test-slow reproduce-figures bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q -n $(JOBS)

test-slow: install
	$(PY) -m pytest -q -n $(JOBS) -m slow

reproduce-figures: install
	$(PY) -m theory_check.reproduce --scale $(SCALE) --jobs $(JOBS)

bench: install
	$(PY) -m theory_check.bench

clean:
	rm -rf $(VENV) outputs results/raw results/tables .pytest_cache .hypothesis *.egg-info
