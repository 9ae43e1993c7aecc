# Two commands on a fresh machine: `make demo` runs the pipeline on the bundled tiny default,
# `make test` runs the tests. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel where there is no GPU; on a GPU machine pip picks the CUDA build of the same
# version from PyPI. Override with `make TORCH=... install`.
TORCH ?= torch==2.13.0
DEMO_DIR ?= demo-out

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: install
	PATH="$(abspath $(BIN)):$$PATH" bash examples/demo.sh $(DEMO_DIR)

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
