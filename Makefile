# Two entry points: `make demo` (install, then check, compile and run the V2
# organisation through a scenario) and `make test` (install with the test
# dependencies, run every test, ruff and mypy; what CI runs). `make quick` is
# `make test` without the tests marked slow.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed
TESTDEPS := $(VENV)/.installed-test
# The VS Code extension's packages: its grammar is tested with the engine VS Code uses.
NODEDEPS := editors/vscode/node_modules/.package-lock.json

.PHONY: demo agents test quick lint bench clean

$(BASE): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $(BASE)

$(TESTDEPS): $(BASE)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TESTDEPS)

demo: $(BASE)
	$(BIN)/orchdsl check specs/orchestration_v2.orch
	$(BIN)/orchdsl compile specs/orchestration_v2.orch -o out/orchestration_v2
	$(BIN)/orchdsl run specs/orchestration_v2.orch --scenario examples/scenarios/tier4_migration.yaml

$(NODEDEPS): editors/vscode/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix editors/vscode --silent --no-audit --no-fund; \
	else echo "npm not found: the editor tests will be skipped"; fi

# The scripted agents of examples/agents/ take a tier-3 instruction from submission to the end,
# through MCP, started by the dispatcher when work waits for them.
AGENTS_RUN := out/agents-run
agents: $(BASE)
	$(BIN)/orchdsl run init specs/orchestration_v2.orch --dir $(AGENTS_RUN) --virtual-clock --force
	$(BIN)/orchdsl run submit --as human --tier 3 --dir $(AGENTS_RUN) "Let users save searches and rerun them"
	$(BIN)/orchdsl run dispatch --dir $(AGENTS_RUN) --until-idle --max-agents 4 \
	  --agent-cmd "$(abspath $(BIN))/python $(abspath examples/agents/scripted_agent.py) --plan $(abspath examples/agents/plan.yaml)"
	$(BIN)/orchdsl run status --dir $(AGENTS_RUN)
	$(BIN)/orchdsl run log --verify --dir $(AGENTS_RUN)

test: $(TESTDEPS) $(NODEDEPS)
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory lint

quick: $(TESTDEPS)
	$(BIN)/python -m pytest -m "not slow"
	@$(MAKE) --no-print-directory lint

lint: $(TESTDEPS)
	$(BIN)/ruff check orchdsl runtime tests bench
	$(BIN)/mypy

bench: $(TESTDEPS)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) out build *.egg-info .orchdsl-run editors/vscode/node_modules
