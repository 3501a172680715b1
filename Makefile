# Two commands set up and use a fresh machine: `make demo` and `make test`.
# Each (re)creates .venv only when pyproject.toml changed (stamp file).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
BIN := $(VENV)/bin

.PHONY: demo test venv clean sample-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/memlab demo --out demo-output $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The sample device files from the committed sample runs (RUNS=1: re-measure the runs first).
sample-data: $(STAMP)
	$(BIN)/python sample_data/regenerate.py $(if $(RUNS),--runs)

clean:
	rm -rf $(VENV) demo-output
