# Two commands a new user runs: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint bench clean down

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Vigil needs Python 3.11, found {sys.version.split()[0]} (set PYTHON=/path/to/python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vigil demo

# Two processes (CI has 2 cores): the integration tests mostly wait on servers, so the suite
# takes about half as long; a module's tests stay in one process (they share its fixtures).
test: install
	$(BIN)/python -m pytest -n auto --maxprocesses 2 --dist loadfile

# The tests that need no server (everything not marked integration; tests/support/integration.py
# marks them): under a minute, for the edit-test loop.
test-unit: install
	$(BIN)/python -m pytest -m "not integration" -p no:cacheprovider

# The figures README.md's "Benchmarks" table quotes; prints them, asserts nothing. ~10 min on
# 2 cores: e2e.py runs three throughput rounds and four latency runs, memory.py a million users.
bench: install
	$(BIN)/python bench/hot_path.py
	$(BIN)/python bench/rules_throughput.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/memory.py

lint: install
	$(BIN)/lint-imports

down: install
	$(BIN)/vigil down

clean:
	rm -rf $(VENV) .vigil .pytest_cache .hypothesis
