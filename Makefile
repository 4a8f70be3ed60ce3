# codekiln: two set-up commands on a fresh machine.
#   make demo   install everything, then run the main job on the embedded defaults
#   make test   install everything, then lint, type-check and run the whole test suite
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.codekiln-installed

.PHONY: setup demo test test-slow lint bench clean

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $@

setup: $(STAMP)

demo: setup
	bash scripts/demo.sh

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench README.md
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest --run-slow

clean:
	rm -rf $(VENV) .codekiln .pytest_cache .mypy_cache .ruff_cache
