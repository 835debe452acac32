# Set-up and checks. `make demo` and `make test` each create .venv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[train,serve,ray,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py --out demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The multi-second subprocess tests (SIGKILL and resume, two-process DDP, `--ray` commands that
# start their own Ray), deselected by `make test`.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow and not gpu and not network"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/translate_cpu.py

clean:
	rm -rf $(VENV) demo build *.egg-info
