# Two set-up commands (README): `make demo` and `make test`. Both create .venv on first use and install
# scaug with the pins of constraints.txt (CPU torch 2.13.0 from this machine's disk, not a CUDA build).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-scaug
DOC_STAMP := $(VENV)/.installed-scaug-doc

.PHONY: install install-r demo test lint format bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# R side of the Seurat hand-off (R/read_scaug_h5ad.R, tests/test_seurat.py): Debian's Seurat and hdf5r,
# only when Rscript cannot load them already; sudo only when not root.
R_PACKAGES := r-cran-seurat r-cran-hdf5r
install-r:
	@if Rscript -e 'suppressMessages({library(Seurat); library(hdf5r)})' >/dev/null 2>&1; then \
		echo "install-r: Rscript with Seurat and hdf5r already installed"; \
	else \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(R_PACKAGES); \
	fi

demo: $(STAMP)
	$(BIN)/scaug demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests benchmarks
	$(BIN)/ruff format --no-cache --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_resample.py

$(DOC_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,doc]"
	touch $(DOC_STAMP)

# The documentation site in docs/_build/html: API pages from the docstrings, user guide, benchmark
# results, changelog, and the tutorials executed (offline, a few minutes on 2 cores; cached by their
# code in docs/_build/.jupyter_cache, SCAUG_DOCS_EXECUTE=force re-runs them). Warnings are errors.
docs: $(DOC_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build docs/generated
