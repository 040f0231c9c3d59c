# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # svdnet exploration: how low-rank are trained Dense layers?
#
# Train (or load) the dense reference MLP, look at each layer's singular value spectrum and energy
# curve, then truncate the trained kernels once at several ranks, without retraining, and watch
# test accuracy against rank and against parameter count. This shows how much of each layer a
# truncated SVD can throw away *after* training; `sweep.ipynb` trains with the truncation instead.

# %% tags=["parameters"]
dataset: str = "mnist"  # TFDS dataset: "mnist" or "fashion_mnist"
epochs: int = 10  # training epochs of the dense model, at least 1
batch_size: int = 128  # examples per training step, at least 1
depth: int = 5  # number of hidden Dense layers, at least 1
width: int = 1024  # units per hidden Dense layer, at least 1
seed: int = 0  # seed of the initial weights and batch order, at least 0
train_size: int = 0  # training examples to use; 0 means the whole split
ranks: list = [1, 2, 5, 10, 20, 50, 100, 200]  # ranks at which to truncate the trained kernels
model_path: str = ""  # a .keras file: loaded when it exists, else the trained model is saved there; "" trains without saving
quick: bool = None  # True: train on the first 2,000 examples only; None: only when the environment variable SVDNET_QUICK is 1, as the notebook tests set it

# %%
# NBVAL_IGNORE_OUTPUT
import numpy as np
import seaborn as sns

from svdnet import energy_curve
from svdnet.experiments import RunConfig, load_dataset, plots
from svdnet.experiments.analysis import load_or_train_dense, truncation_sweep
from svdnet.experiments.sweep import apply_quick_mode, layer_spectra

config = apply_quick_mode(RunConfig(
    method="dense", dataset=dataset, epochs=epochs, batch_size=batch_size, depth=depth,
    width=width, seed=seed, train_size=train_size,
).replace(), quick)
data = load_dataset(config.dataset, train_size=config.train_size)
model = load_or_train_dense(data, config, model_path)
dense_loss, dense_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
print(f"dense model: {model.count_params():,} parameters, test accuracy {dense_accuracy:.4f}")

# %% [markdown]
# ## Singular value spectra
#
# Each panel is one trained kernel's singular values on a log scale. A kernel that a few
# directions dominate has a steep head and a long flat tail: most of its rank carries little
# energy, and a truncated SVD removes that tail cheaply.

# %%
# NBVAL_IGNORE_OUTPUT
spectra = layer_spectra(model)
plots.spectrum_plot({"trained dense": spectra}, rank=20);

# %% [markdown]
# ## Energy curves
#
# The fraction of each kernel's squared Frobenius norm kept by its top-k singular values. The
# table gives the rank each layer needs to keep 90% and 99% of its energy.

# %%
# NBVAL_IGNORE_OUTPUT
plots.energy_plot(spectra, rank=20);
{name: {f"{int(100 * level)}%": int(np.searchsorted(energy_curve(values), level) + 1)
        for level in (0.9, 0.99)}
 for name, values in spectra.items()}

# %% [markdown]
# ## Truncating after training
#
# Every kernel is replaced by its rank-k truncation (layers already of rank at most k are left
# as they are) and the model is tested again, with no retraining.

# %%
# NBVAL_IGNORE_OUTPUT
sweep = truncation_sweep(model, data.x_test, data.y_test, ranks)
sweep.assign(dense_accuracy=dense_accuracy)

# %% [markdown]
# What must hold: truncation never adds parameters, the factorized size grows with the rank, and
# at the largest rank the truncated model is close to the dense one.

# %%
assert (sweep["factorized parameters"] <= sweep["parameters"]).all()
assert sweep.sort_values("rank")["factorized parameters"].is_monotonic_increasing
assert sweep["test accuracy"].iloc[-1] > 0.6
print(f"checks passed for {len(sweep)} ranks")

# %%
# NBVAL_IGNORE_OUTPUT
figure, axes = plots.plt.subplots(1, 2, figsize=(11, 3.8))
sns.lineplot(data=sweep, x="rank", y="test accuracy", marker="o", ax=axes[0])
sns.lineplot(data=sweep, x="factorized parameters", y="test accuracy", marker="o", ax=axes[1])
for axis in axes:
    axis.set_xscale("log")
    axis.axhline(dense_accuracy, color="grey", linestyle="--", linewidth=1, label="dense")
    axis.legend()

# %% [markdown]
# Reading the plots: accuracy after a one-off truncation falls off sharply below some rank,
# because the network was never trained to live in the low-rank subspace. The sweep notebook's
# `projection` method trains with the truncation applied every epoch, which recovers much of that
# loss at the same parameter count.
