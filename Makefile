# Two entry points: `make demo` (install, then check, compile and run the V2
# organisation) and `make test` (install with test dependencies, run every test).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/orchdsl check specs/orchestration_v2.orch
	$(BIN)/orchdsl compile specs/orchestration_v2.orch -o out/orchestration_v2

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/ruff check orchdsl runtime tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) out build *.egg-info
