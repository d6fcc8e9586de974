# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PKGS := core evaluation amtnet kinetics2stream stage acam stabn

.PHONY: install test test-slow bench lint demo clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PKGS))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" "setuptools>=64,<81" wheel
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

bench: install
	@set -e; for f in $(filter-out tools/bench/_%,$(wildcard tools/bench/*.py)); do echo "== $$f"; $(PY) $$f; done

lint: install
	$(VENV)/bin/ruff check .

demo: install
	$(PY) tools/reproduce.py amtnet --quick

clean:
	rm -rf $(VENV) .pytest_cache
