# The two commands a fresh machine needs: `make demo` and `make test`.
# Everything else is installed from this repository's own files into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean bench bench-quick

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev,server,langgraph]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/s3saver demo

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks

bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check s3saver tests benchmarks
	$(VENV)/bin/ruff format --check s3saver tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV)
