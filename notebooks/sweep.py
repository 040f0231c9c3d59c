# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # svdnet sweep: one experiment
#
# One run of the svdnet experiment. With its defaults it is the **reference experiment**: an MLP
# with five hidden `Dense(1024, relu)` layers trained for 10 epochs on MNIST with Adam (batch 128),
# where at the end of **every epoch** each Dense kernel `W` is replaced by its rank-k truncated SVD
# reconstruction (k = 20), compared with the same network trained dense from the same seed.
#
# Run it headless with Papermill from the project root:
#
#     papermill notebooks/sweep.ipynb out.ipynb -p rank 20
#
# `papermill --help-notebook notebooks/sweep.ipynb` lists every parameter. The result is written
# as one JSON file (atomically) under `results_dir`.

# %% tags=["parameters"]
rank: int = None  # rank k kept by the truncated SVD of each Dense kernel, from 1 to width (or a mapping of layer name to rank); None means 20 unless energy or budget is given
energy: float = None  # instead of rank: per layer, the smallest rank keeping this fraction, in (0, 1], of the squared singular values
budget: int = None  # instead of rank: the exported model's parameter count; ranks keep the most spectral energy within it
dataset: str = "mnist"  # TFDS dataset: "mnist" or "fashion_mnist"
architecture: str = "mlp"  # the model: "mlp" (depth x width below), "cnn" (three Conv2D blocks, Dense(128)) or "vit" (a two-block vision transformer)
method: str = "projection"  # "dense", "projection" (rank-k SVD after every epoch), "posthoc" (once after training), "finetune" (factorize, then train the factors), "lowrank" (train factors from scratch) or "small" (a plain MLP as narrow as the rank's factorized model)
ranks: list = []  # several ranks to run one after another (one result each); with energies and budgets empty, just the rank above
energies: list = []  # several energy thresholds to run one after another
budgets: list = []  # several parameter budgets to run one after another
epochs: int = 10  # training epochs, at least 1
batch_size: int = 128  # examples per training step, at least 1
depth: int = 5  # mlp: number of hidden Dense layers, at least 1
width: int = 1024  # mlp: units per hidden Dense layer, at least 1
seed: int = 0  # seed of the initial weights, batch order and randomized SVD, at least 0
train_size: int = 0  # training examples to use (the first ones in TFDS order); 0 means the whole split
svd_method: str = "exact"  # SVD backend: "exact" (LAPACK), "randomized" (Halko et al.) or "auto"
every: int = 1  # project every `every` epochs (and always after the last one), at least 1
finetune_epochs: int = 2  # finetune method: of the epochs, how many train the factors (the rest train dense)
jit_compile: bool = True  # compile the training step with XLA
pipeline: str = "tf.data"  # input pipeline: "tf.data" (cached, prefetched) or "numpy"
output_layer: str = "auto"  # compressed methods: "auto" factorizes the output layer too where its factors are smaller, "dense" keeps it (small: the size it matches)
distill: float = 0.0  # finetune, lowrank and small: weight in [0, 1) of the dense teacher's softened outputs in the loss (0 is off); the teacher is the dense run of the same seed
temperature: float = 4.0  # softmax temperature of the distillation, above 0
weight_decay: float = 0.0  # lowrank: Frobenius decay, this times the squared Frobenius norm of each product U V added to the loss
allocation: str = "energy"  # finetune with a budget: share it between layers by spectral "energy" or by each layer's measured "accuracy" on held-out training examples
lr_schedule: str = "constant"  # finetune: learning rate of the factor epochs, "constant" or "cosine" (decays to 0 over them)
anneal_epochs: int = 0  # projection with a rank: epochs over which the kept rank falls from the full rank to k; 0 drops to k at once
calibration: int = 0  # projection, posthoc, finetune: fit each truncation to its layer's outputs on the first this many training examples (data-aware SVD); 0 truncates the weights alone
baseline: bool = True  # also train the dense model with the same seed and data, for comparison
results_dir: str = "reports/results"  # folder of the JSON results, relative to the working directory
cache_dir: str = ""  # folder where dense runs keep weights for posthoc and finetune runs to reuse; empty shares nothing
verbose: int = 2  # Keras training output: 2 prints one line per epoch (papermill --log-output streams it to the terminal), 0 nothing
quick: bool = None  # True: a quick check (2,000 training examples, result in a scratch folder); None: only when the environment variable SVDNET_QUICK is 1, as the notebook tests set it

# %% [markdown]
# ## Checking the parameters
#
# A bad parameter stops the run here, with a message that names the parameter, the value received
# and what is allowed; so does a parameter this notebook does not have (`-p rnak 5`), which
# Papermill itself only warns about. `pin_threads()` holds the run to svdnet's one execution rule
# (one TensorFlow and BLAS thread per run, `svdnet.experiments.execution`), so that its numbers are
# the same alone, beside other runs, or on a cluster.

# %%
import os

from svdnet.experiments import load_dataset, plots
from svdnet.experiments.config import config_from_parameters, expand_choices
from svdnet.experiments.execution import pin_threads
from svdnet.experiments.formatting import reader_table
from svdnet.experiments.parameters import check_notebook_parameters
from svdnet.experiments.sweep import (
    accuracy_warnings, apply_quick_mode, comparison_table, quick_mode, run_experiment,
)
from svdnet.validation import check_int

check_notebook_parameters(globals(), "sweep")  # before this cell assigns anything
pin_threads()  # the one execution rule of every run, before TensorFlow's first operation
config = config_from_parameters(globals())  # one RunConfig field per parameter, validated
configs = expand_choices(config, ranks, energies, budgets)  # one run per rank, energy, budget
quick = quick_mode(quick)  # True or False as given; None: SVDNET_QUICK (the notebook tests)
check_int("verbose", verbose, minimum=0, maximum=2)

# %% [markdown]
# ## Training
#
# `quick=True` (or, when `quick` is left at None, `SVDNET_QUICK=1`, which the notebook tests set)
# trains on the first 2,000 examples only and writes its result to a scratch folder, and says
# so; a normal run uses the whole training split. With several
# `ranks`, the data is loaded once and each rank is one run with its own result file.

# %%
# NBVAL_IGNORE_OUTPUT
if quick:
    print(f"QUICK MODE (quick={quick!r}, SVDNET_QUICK={os.environ.get('SVDNET_QUICK')!r}): "
          "2,000 training examples, result in a scratch folder, not in results_dir")
data = load_dataset(config.dataset, train_size=apply_quick_mode(config, quick).train_size)
experiments = []
for run_config in configs:
    experiment = run_experiment(run_config, baseline=baseline and not experiments,
                                results_dir=results_dir, cache_dir=cache_dir, data=data,
                                quick=quick, verbose=verbose)
    experiments.append(experiment)
    print(f"{run_config.method} {run_config.rank_label}: test accuracy "
          f"{experiment.run.test_accuracy:.4f}; ranks {experiment.run.chosen_ranks}; "
          f"result written to {os.path.relpath(experiment.path)}")
print(f"quick mode: {quick}; trained on {experiment.payload['data']['train_examples']} examples")

# %% [markdown]
# ## Dense against compressed
#
# Test accuracy and loss on the 10,000 test images. Every compressed model is tested as its
# exported factorized form (rank-k factors `U·sqrt(S)`, `sqrt(S)·V^T` where that is smaller than
# the kernel). *parameters* counts the dense network; *factorized parameters* the exported model;
# *compression* is their ratio.

# %%
# NBVAL_IGNORE_OUTPUT
reader_table(comparison_table(experiments), {
    "test accuracy": "{:.4f}", "test loss": "{:.4f}", "parameters": "{:,}",
    "factorized parameters": "{:,}", "compression": "{:.1f}x", "train s": "{:.1f}",
    "svd s": "{:.2f}"}, index=True)

# %% [markdown]
# What must hold, whatever the numbers (every compressed kernel has rank at most its k, every
# accuracy is a fraction, losses, times and sizes are finite), `run_experiment` checked before
# writing each result: a run that fails writes none, so the runner runs it again. A dense model is
# expected far above chance (10 classes: 10%), but a tiny run (a few hundred examples, one epoch)
# may not be, and that is its result: it gets a warning here, not a failure.

# %%
for experiment in experiments:
    for warning in accuracy_warnings(experiment):
        print(f"WARNING: {warning}")
print(f"checks passed: method {config.method}, {len(experiments)} run(s), every kernel rank <= its k")

# %% [markdown]
# ## Learning curves
#
# Training loss and accuracy are measured during each epoch, before its projection; *test_accuracy*
# is measured after the epoch's projection, so it is the accuracy of the compressed model itself.

# %%
# NBVAL_IGNORE_OUTPUT
histories = {}
for experiment in experiments:
    if experiment.baseline is not None:
        histories["dense"] = experiment.baseline.history
    label = config.method if config.method == "dense" else f"{config.method} {experiment.config.rank_label}"
    if experiment.run.history:  # posthoc trains nothing after truncating
        histories[label] = experiment.run.history
if histories:
    plots.learning_curves(histories);

# %% [markdown]
# ## Singular value spectra
#
# For each layer: the singular values of the kernel just before the last truncation, after it
# (the k kept values), and of the dense baseline's kernel. The dashed line marks k. A run that
# truncates nothing (dense, small, lowrank) has one spectrum, its final kernel's. With several
# ranks, the first run's spectra are shown.

# %%
# NBVAL_IGNORE_OUTPUT
experiment = experiments[0]
if experiment.spectra["before"] is None:
    spectra = {"final kernel": experiment.spectra["after"]}
else:
    spectra = {"before last truncation": experiment.spectra["before"],
               "after truncation": experiment.spectra["after"]}
if experiment.payload["spectra"]["dense"] is not None:
    spectra["dense baseline"] = experiment.payload["spectra"]["dense"]
plots.spectrum_plot(spectra, rank=experiment.config.rank if isinstance(experiment.config.rank, int) else None);

# %% [markdown]
# ## Provenance
#
# The seed and configuration above, and the library versions, machine and commit below, are
# stored with the result.

# %%
# NBVAL_IGNORE_OUTPUT
experiment.payload["provenance"]
