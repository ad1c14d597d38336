# Quick start: `make demo` (smoke load test of every protocol against the bundled target, report
# written under reports/) and `make test` (the test suite). Both create .venv with Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= smoke
TEST_TYPE ?= all

.PHONY: demo test lint target venv clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.dev

demo: $(VENV)/.runtime
	$(BIN)/python run_load_tests.py --scenario $(SCENARIO) --test-type $(TEST_TYPE)

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

target: $(VENV)/.runtime
	$(BIN)/python -m load_tests.target

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
