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
# [svdnet reports](../index.html) · [full report](report.html) · [every result](../results.html)
#
# # Beyond the MLP: a CNN and a vision transformer
#
# svdnet compresses `Conv2D` and `EinsumDense` kernels as well as `Dense` ones: a Conv2D
# kernel `(kh, kw, c_in, c_out)` is factorized through its `(kh·kw·c_in) x c_out` matrix into a
# convolution with k filters followed by a 1x1 one (the "weight SVD" of Zhang et al. 2016), and
# the query, key, value and output projections of Keras' `MultiHeadAttention` through the
# matrix their einsum equation defines. Two models, trained from scratch here:
#
# - a **CNN on Fashion-MNIST**: three 3x3 Conv2D blocks (32, 64, 64 filters), Dense(128), softmax;
# - a **vision transformer on MNIST**: 7x7 patches embedded by a strided Conv2D (16 tokens of
#   width 128), two pre-norm blocks of `MultiHeadAttention` (4 heads) and a Dense(256, gelu) /
#   Dense(128) feed-forward, mean pooling, softmax.
#
# Every kernel layer is compressed at one rank k (a layer whose rank-k factors would not be
# smaller stays as it is). The methods are those of the MLP report, on one budget of training
# epochs: `projection` (the epoch-end SVD callback, then factorized), `lowrank` (factors from
# the SVD of the random initialisation, trained), `finetune` (dense for all but the last epoch,
# then the factors for the last), `posthoc` (the trained dense model factorized, no further
# training). `posthoc` and `finetune` start from the dense run of the same seed (its cached
# weights). Inference time is `model.predict` on 2,048 test images in batches of 256, the best
# of 5, timed in turns with a dense model of the same architecture in the same process
# (`svdnet.experiments.sweep.deployment_costs`); the dense row's "speed-up" is the dense model
# timed against itself, which shows the timing noise.
#
# The budget is short for every method (Adam 1e-3, batch 128, full training split, seeds
# 0-2; the epochs are printed in the findings and under *Provenance*), so that the 2-core CPU
# these ran on could train both models with every method; the accuracies are those of briefly
# trained models, not of converged ones, and no verdict here says what happens with longer
# training.
#
# **The simplest alternative, `small`:** the same model narrowed (every layer's filters or
# units times one width multiplier; for the transformer its width, in steps of the 4 heads) to
# the parameter count closest to the rank-k factorized model, trained from scratch like
# `dense`. Its rows carry the rank whose size it matches; its own parameter count is in the
# table. The findings test every compressed method against it at each rank with the report's
# tools: Welch's t-test over the seeds, Benjamini-Hochberg's correction over all the
# comparisons of this page, a difference counted at an adjusted p below 0.05
# (`svdnet.experiments.architecture_report.architecture_comparisons`). They also give the
# speed and MACs of `small` beside those of the compressed models: a narrowed network can be
# faster than a factorized one of the same size.
#
# Produced by the grid, the same runner, sweep notebook, result files and "finished" rule as
# the MLP's runs (`make architectures`: `python -m svdnet.experiments.grid --architectures cnn
# ...` and `--architectures vit ...`, resumable), read here from its result files.

# %% tags=["parameters"]
results_dir: str = ""  # folder of the grid's JSON results; empty means the project's reports/grid/results

# %%
# NBVAL_IGNORE_OUTPUT
import os

from IPython.display import Markdown

from svdnet.experiments import architecture_report as ar
from svdnet.experiments.formatting import reader_table
from svdnet.experiments.paths import GRID_RESULTS
from svdnet.experiments.provenance import provenance

results_dir = results_dir or GRID_RESULTS
frame = ar.load_architecture_results(results_dir)
table = ar.architecture_table(frame)
print(f"{len(frame)} results from {os.path.relpath(results_dir)}")

# %% [markdown]
# ## Findings
#
# Generated from the results: first the runs of each model's grid that have no result yet
# (none once the grid is complete), then the dense accuracy and training budget of each model,
# every compressed method at each rank with its speed, and how each compares with `small` of
# the same size.

# %%
# NBVAL_IGNORE_OUTPUT
Markdown("\n\n".join(ar.missing_runs(frame) + ar.architecture_findings(frame))
         or "No results yet.")

# %% [markdown]
# ## Accuracy against parameters
#
# **What to see:** how far below the dashed dense line each method falls as the rank (and so the
# parameter count, on the log axis) shrinks; error bars are the standard deviation over seeds.

# %%
# NBVAL_IGNORE_OUTPUT
if len(table):
    figure = ar.accuracy_figure(table)

# %% [markdown]
# ## Every configuration
#
# Mean ± standard deviation of test accuracy over the seeds; "fewer parameters" and "fewer
# MACs" are the dense model's counts over the compressed one's (MACs per example of the kernel
# layers, counted by `svdnet.compression.layer_costs`); "inference speed-up" is the median over
# seeds of dense time over compressed time.

# %%
# NBVAL_IGNORE_OUTPUT
if len(table):
    display(reader_table(ar.readable_table(table)))

# %% [markdown]
# ## Where the parameters and the work go
#
# Per kernel layer of one run of each model (seed 0, `finetune` at the larger rank): the
# parameters and multiply-accumulates per example, dense and compressed. Attention projections
# are keyed by their `MultiHeadAttention` (`attention_1/query`).

# %%
# NBVAL_IGNORE_OUTPUT
for (model, architecture, dataset), part in (frame.groupby(
        ["model", "architecture", "dataset"], sort=False) if len(frame) else []):
    ranks = sorted(part.loc[part["method"] != "dense", "rank"].dropna().unique())
    if ranks:
        display(Markdown(f"**{model}, rank {int(ranks[-1])}**"))
        display(reader_table(ar.layer_costs_table(results_dir, architecture, dataset,
                                                  "finetune", int(ranks[-1]))))

# %% [markdown]
# ## Provenance
#
# The commits, seeds and machine of the results; the versions of this page's build.

# %%
# NBVAL_IGNORE_OUTPUT
if len(frame):
    print("commits:", ", ".join(sorted(set(frame["commit"].dropna().str[:10]))))
    print("seeds:", ", ".join(str(s) for s in sorted(frame["seed"].unique())),
          "| epochs:", ", ".join(str(e) for e in sorted(frame["epochs"].unique())))
    print("machines:", "; ".join(sorted(set(frame["machine"]))),
          "| Keras:", ", ".join(sorted(set(frame["keras"].dropna()))))
built = provenance()
print("this page built with:", built["versions"])
