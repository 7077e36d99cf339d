# Two entry points: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The main job on the offline default: check the gradients, then train an MLP on the digits.
demo: $(VENV)/.installed
	$(BIN)/steepest gradcheck
	$(BIN)/steepest train

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The benchmarks of docs/benchmarks.md (MNIST from $$STEEPEST_MNIST_DIR, else ../shared/data/mnist).
bench: $(VENV)/.installed-test
	$(BIN)/python bench/gradcheck.py
	STEEPEST_MNIST_DIR=$${STEEPEST_MNIST_DIR:-../shared/data/mnist} $(BIN)/python bench/train.py
	STEEPEST_MNIST_DIR=$${STEEPEST_MNIST_DIR:-../shared/data/mnist} $(BIN)/python bench/landscape.py
	STEEPEST_MNIST_DIR=$${STEEPEST_MNIST_DIR:-../shared/data/mnist} $(BIN)/python bench/tune.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
