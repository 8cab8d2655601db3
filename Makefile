# advdist — the two commands:  make reproduce-table1   and   make test
# Every target creates the environment first when it is missing (make env).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules
.DEFAULT_GOAL := help

SCALE ?= mini
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.advdist-installed
# papermill / notebooks: quiet progress bars in logs, one thread count for reproducible numbers
export TQDM_MININTERVAL ?= 15
export PYDEVD_DISABLE_FILE_VALIDATION := 1
PAPERMILL = $(PY) -m papermill -k python3 --cwd notebooks --no-progress-bar --log-output -p scale $(SCALE)
VALID_SCALES := smoke mini paper
ifeq ($(filter $(SCALE),$(VALID_SCALES)),)
$(error unknown SCALE '$(SCALE)'; valid: $(VALID_SCALES))
endif

.PHONY: help env test test-unit test-notebooks golden lab bench train clean-smoke reproduce-table1 reproduce-adt reproduce-all

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort | column -t -s $$'\t'

env: $(STAMP) ## create .venv, install advdist (editable) and register the python3 Jupyter kernel

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c "import advdist, torch, papermill, nbval"  # fail here, not later, when the install is broken
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (advdist)" >/dev/null
	@touch $@
	@echo "environment ready: $(VENV) (torch $$($(PY) -c 'import torch; print(torch.__version__)'))"

test: test-unit test-notebooks ## unit tests + notebook tests (nbval at smoke scale)

test-unit: $(STAMP)
	$(PY) -m pytest -q tests

test-notebooks: $(STAMP)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

golden: $(STAMP) ## rebuild notebooks/ from notebooks/specs/ and store their smoke outputs (what nbval compares)
	TQDM_DISABLE=1 $(PY) tools/golden.py

bench: $(STAMP) ## print the benchmark table (attack engine vs baselines, same-process ratios) -> figures/bench/bench.json
	@mkdir -p figures/bench
	$(PY) -m advdist.bench --out figures/bench/bench.json $(BENCH_ARGS)

lab: $(STAMP) ## JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

train: $(STAMP) ## train one model: make train METHOD=standard DATASET=fashion_mnist SCALE=mini
	$(PY) -m advdist.train --method $(or $(METHOD),standard) $(if $(DATASET),--dataset $(DATASET)) --scale $(SCALE)

# ---- reproductions: one notebook = one target ---------------------------------------------------
# The executed notebook lands beside the item's tables/figures in figures/$(SCALE)/<paper>/.
FIG := figures/$(SCALE)

$(FIG)/%.ipynb: notebooks/%.ipynb $(STAMP)
	@mkdir -p $(dir $@)
	$(PAPERMILL) $< $@

reproduce-adt-table1: $(FIG)/adt/table1_cifar10_whitebox.ipynb ## ADT Table 1: white-box robustness (mini: Fashion-MNIST)
	@cat $(FIG)/adt/table1.md
reproduce-table1: reproduce-adt-table1 ## = ADT Table 1, the headline
reproduce-adt-table4: $(FIG)/adt/table4_distribution_attacks.ipynb ## ADT Table 4: learned distributions as attacks
reproduce-adt-fig1: $(FIG)/adt/fig1_pca.ipynb ## ADT Fig. 1: PCA and diversity of PGD vs ADT_EXP samples
reproduce-adt-fig2: $(FIG)/adt/fig2_landscape.ipynb ## ADT Fig. 2: loss surfaces and input-Hessian eigenvalues
reproduce-adt-fig6: $(FIG)/adt/fig6_exp_convergence.ipynb ## ADT Fig. 6: convergence of the EXP attack

ADT_ITEMS := reproduce-adt-table1 reproduce-adt-table4 reproduce-adt-fig1 reproduce-adt-fig2 reproduce-adt-fig6
.PHONY: $(ADT_ITEMS)
reproduce-adt: $(ADT_ITEMS) ## every ADT item implemented so far
reproduce-all: reproduce-adt ## every table and figure at SCALE

clean-smoke: ## remove smoke-scale runs and outputs
	rm -rf figures/smoke data/runs/*-digits-*
