# Each user-facing target builds .venv first, so `make run` and `make test` are
# the only commands a new user types (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check --no-input

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is required (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $(STAMP)

# Until the service exists: build the example record into a package, validate
# it, and show it next to an official sample.
run: $(STAMP)
	@mkdir -p build
	$(BIN)/python -m edxml build config/examples/record.json -o build/example.edxml
	$(BIN)/python -m edxml validate build/example.edxml
	$(BIN)/python -m edxml inspect build/example.edxml
	$(BIN)/python -m edxml inspect tests/fixtures/samples/edoc_update.edxml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
