# svdnet: every target creates and fills .venv first when it is missing or stale.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
RANK ?= 20
# A user's runs go to reports/scratch (not committed), never over the committed reference
# (reports/html/sweep-rank20.html and reports/results/).
OUT ?= reports/scratch/sweep-rank$(RANK).ipynb
RESULTS ?= reports/scratch/results
# Prepared TFDS data beside the project is used when present (offline machines).
ifneq ($(wildcard ../shared/tensorflow_datasets),)
export TFDS_DATA_DIR ?= $(abspath ../shared/tensorflow_datasets)
endif

# TensorFlow's start-up log lines (oneDNN, absl, CPU features) stay out of executed
# notebooks and pages, where a reader takes their red stderr boxes for errors.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install run grid architectures post-training report more-seeds explore test test-fast test-torch benchmark clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

install: $(BIN)/.installed  ## Create .venv and install svdnet with every extra.

run: install  ## The reference experiment (MNIST, 5x1024 MLP, rank RANK) through the sweep notebook.
	@mkdir -p $(dir $(OUT))
	$(BIN)/papermill notebooks/sweep.ipynb $(OUT) -p rank $(RANK) -p results_dir $(RESULTS) --log-output
	@echo "executed notebook: $(OUT); result: $(RESULTS)/"

grid: install  ## The sweep: every dataset x method x rank x seed into reports/grid (resumes; GRID_ARGS=... for options).
	$(BIN)/python -m svdnet.experiments.grid $(GRID_ARGS)
	$(BIN)/python -m svdnet.experiments.render reports
	@$(DROP_RENDERED)

more-seeds: install  ## Seeds 3 and 4 of both sides of every comparison with small within 1 point, results only (resumes; SEEDS_ARGS=--workers 2), then `make report`.
	$(BIN)/python -m svdnet.experiments.more_seeds --seeds 3,4 $(SEEDS_ARGS)

# Executed notebooks are working files: once rendered to their HTML page (the one copy of
# their figures) they are deleted, so reports/ never holds an image twice. Interrupted and
# failed executions are kept for inspection.
DROP_RENDERED = find reports/runs reports/grid/runs -name '*.ipynb' ! -name '*-interrupted.ipynb' ! -name '*.failed.ipynb' -delete 2>/dev/null || true

report: install  ## The results report from reports/grid/results (and the CNN/transformer and trained-network pages), then HTML pages and reports/index.html.
	@mkdir -p reports/runs
	$(BIN)/papermill notebooks/report.ipynb reports/runs/report.ipynb
	$(BIN)/papermill notebooks/architectures.ipynb reports/runs/architectures.ipynb
	$(BIN)/papermill notebooks/post_training.ipynb reports/runs/post_training.ipynb
	$(BIN)/python -m svdnet.experiments.render reports
	@$(DROP_RENDERED)

post-training: install  ## The post-training study (the trained MLP on MNIST, seeds 0-2) into reports/post_training/study (resumes; STUDY_ARGS=...), then its page.
	$(BIN)/python -m svdnet.experiments.post_training --seeds 0,1,2 $(STUDY_ARGS)
	@mkdir -p reports/runs
	$(BIN)/papermill notebooks/post_training.ipynb reports/runs/post_training.ipynb
	$(BIN)/python -m svdnet.experiments.render reports
	@$(DROP_RENDERED)

# The CNN on Fashion-MNIST and the ViT on MNIST, through the same grid as the MLP (3 epochs,
# the last of finetune's in factors). Their run notebooks are not rendered: 36 run pages
# would take more room than reports/ has.
ARCH_GRID = --epochs 3 --finetune-epochs 1 --seeds 0,1,2
architectures: install  ## The CNN (Fashion-MNIST) and ViT (MNIST) runs of the grid into reports/grid (resumes; ARCH_ARGS=..., e.g. --workers 2), then their page.
	$(BIN)/python -m svdnet.experiments.grid --architectures cnn --datasets fashion_mnist --ranks 4,10 $(ARCH_GRID) $(ARCH_ARGS)
	$(BIN)/python -m svdnet.experiments.grid --architectures vit --datasets mnist --ranks 3,6 $(ARCH_GRID) $(ARCH_ARGS)
	find reports/grid/runs \( -name '*-cnn-*.ipynb' -o -name '*-vit-*.ipynb' \) ! -name '*-interrupted.ipynb' ! -name '*.failed.ipynb' -delete 2>/dev/null || true
	@mkdir -p reports/runs
	$(BIN)/papermill notebooks/architectures.ipynb reports/runs/architectures.ipynb
	$(BIN)/python -m svdnet.experiments.render reports
	@$(DROP_RENDERED)

explore: install  ## The exploration notebook (spectra, post-training truncation) into reports/runs.
	@mkdir -p reports/runs
	$(BIN)/papermill notebooks/explore.ipynb reports/runs/explore.ipynb
	$(BIN)/python -m svdnet.experiments.render reports
	@$(DROP_RENDERED)

test: install  ## The whole test suite: fast and slow tiers (the core again under JAX), then the notebooks under nbval.
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval notebooks/

test-fast: install  ## The fast tier for everyday work (a few minutes): mathematics, callback, API, bad inputs.
	$(BIN)/python -m pytest tests -m "not slow"

# PyTorch's wheel from PyPI pulls several GB of CUDA libraries: TORCH ?= torch==2.13.0 (a CPU
# build where the machine provides one), and it is not part of `make test`.
TORCH ?= torch==2.13.0
test-torch: install  ## The core suite on Keras' PyTorch backend (installs TORCH into .venv).
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	KERAS_BACKEND=torch $(BIN)/python -m pytest tests/core

benchmark: install  ## SVD step cost, training throughput, inference speed, deployment sizes (benchmarks/README.md).
	$(BIN)/python benchmarks/svd_step.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/deployment.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
