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
# # Compressing a trained network
#
# The full report's answer is that to *get* a small network, you train a small network. This
# page asks the other question: a network **already exists**, trained at a cost that cannot be
# paid again, and only a sample of its data is at hand. How much of it survives truncated SVD
# with no gradient step, how much comes back with a little fine-tuning, and does that beat
# training the small network on the same sample?
#
# **The study** (`python -m svdnet.experiments.post_training`, one result file per model,
# dataset and seed, resumable):
#
# - **Models and data:** the reference MLP (five Dense(1024, relu) layers; MNIST and
#   Fashion-MNIST), the CNN (three Conv2D blocks and Dense(128); Fashion-MNIST) and the vision
#   transformer (two blocks of Keras' MultiHeadAttention and Dense layers; MNIST) of the
#   architectures page, each trained for 10 epochs (Adam 1e-3, batch 128; the architectures page
#   used 3) on the first 55,000 training images of its dataset; the last 5,000 are the
#   **validation split**, on which every choice is made. Test accuracy is reported, never used
#   to choose. The table below names each model, dataset and the seeds run.
# - **Compression with no gradient step**, at parameter budgets of 1/3, 1/10, 1/25 and 1/50
#   of the dense model, four ways (`svdnet.factorize(model, budget=...)`): `plain`, the SVD of
#   the weights alone; `one pass`, each layer's factors fitted to its output on 2,048
#   calibration images (`data=`); `sequential`, the same on the inputs that the already
#   truncated layers before it produce (`sequential=True`); `loss budget`, sequential with the
#   budget shared among layers by the loss on the labelled calibration images
#   (`allocation="loss"`) instead of by output energy.
# - **Fine-tuning** (the MLP at 10x, 25x and 50x; the CNN and the ViT at 10x and 25x, the sizes
#   of the targets; at 3x every compressor of the MLP is already within a few tenths of a
#   point of dense): the compressor that did best on the validation split, fine-tuned
#   with Adam (1e-4 by default; see the learning rates below) on N training images (the first N)
#   for S steps of 128. Two sweeps instead of
#   the full product: N in 256, 1,024, 4,096 and all 55,000 at S = 1,000, and S in 100, 430 (one
#   epoch of the whole split) and 1,000 at N = 4,096.
# - **The simplest alternatives, on the same N images and S steps:** `small`, the same model
#   narrowed (every layer's units or filters scaled alike) to the compressed model's parameter
#   count and trained from scratch (Adam, 1e-3 by default); `distilled`,
#   the same network trained on the dense model's softened outputs (weight 0.9, temperature 4),
#   which a user who has the trained network also has.
# - **Statistics:** every comparison of this page (each data-aware compressor against `plain`,
#   the fine-tuned model against each small network at every N and S) is a Welch t-test over
#   the seeds, Benjamini-Hochberg-corrected together, a difference counted at an adjusted p below
#   0.05 (`svdnet.experiments.report.significance`).

# %% tags=["parameters"]
results_dir: str = ""  # folder of the study's result files; empty means reports/post_training/study

# %%
# NBVAL_IGNORE_OUTPUT
import os

from IPython.display import Markdown

from svdnet.experiments import post_training_report as pr
from svdnet.experiments.post_training import RATE_GRID
from svdnet.experiments.formatting import reader_table
from svdnet.experiments.provenance import provenance

results_dir = results_dir or pr.RESULTS_DIR
try:
    frame = pr.load_study(results_dir)
except ValueError as error:  # no result yet: the page says so instead of failing
    frame = None
    print(error)
else:
    print(f"{len(frame)} rows from {frame['file'].nunique()} study files in "
          f"{os.path.relpath(results_dir)}")

# %% [markdown]
# The trained models (mean ± standard deviation over seeds; seconds of training on one CPU
# thread):

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(reader_table(pr.dense_table(frame)))

# %% [markdown]
# ## Findings

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(Markdown(pr.finding(frame)))
    display(reader_table(pr.readable_targets(pr.target_table(frame))))

# %% [markdown]
# ## With no gradient step
#
# Test accuracy (mean ± standard deviation over seeds) and its difference from the same seed's
# dense model, in points; "budget" is the parameter budget asked for (dense parameters / budget),
# "compression" the ratio reached; "seconds" is the whole compression (calibration pass and SVDs
# together) on one CPU thread, while other runs may have shared the machine; the section
# "Seconds to compress" times them apart.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(reader_table(pr.readable_no_training(pr.no_training_table(frame))))

# %% [markdown]
# The compressor each seed fine-tuned at each size: the one with the highest validation accuracy.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(reader_table(pr.chosen(frame).pivot_table(
        index=["model", "dataset", "ratio"], columns="seed", values="method", aggfunc="first"),
        index=True))

# %% [markdown]
# **What to see:** accuracy against compression for every compressor with no gradient step, and
# for the fine-tuned model and the two small networks after 1,000 steps on 4,096 images.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    figure = pr.size_figure(frame)

# %% [markdown]
# ## Fine-tuning against training small
#
# At each size, number of images N and of steps S: the fine-tuned compressed model, the small
# network trained from scratch and the distilled one (test accuracy over seeds, and in brackets
# its difference from dense in points), and the verdict of the fine-tuned model against each
# (Welch, Benjamini-Hochberg over the page, adjusted p).

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(reader_table(pr.readable_trained(pr.trained_table(frame))))

# %% [markdown]
# **What to see:** how many images the fine-tuning needs (at 1,000 steps), and how many steps
# (on 4,096 images), against the small networks on the same budget.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    figure = pr.sweep_figure(frame, "examples")

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    figure = pr.sweep_figure(frame, "steps")

# %% [markdown]
# ## How many calibration images
#
# The study calibrates on 2,048 images. Here the same dense model (seed 0) is compressed with no
# gradient step on 256 to 8,192 of its training images (`python -m
# svdnet.experiments.post_training --calibration-sizes 256,1024,4096,8192 --ratios R`), at the
# size of each model's target: 25x for the MLP, 10x for the CNN and the ViT. A layer sees as
# many input vectors as images, except a convolution, which sees one per image position: the
# CNN's Dense layer after Flatten has 3,136 inputs, so below 3,136 images its input covariance
# is singular and only the damping fills the directions the images never reached.
#
# **What to see:** whether the data-aware compressors still gain from more images at the size
# that matters, and where they level off.

# %%
# NBVAL_IGNORE_OUTPUT
sweep = pr.load_calibration()
if sweep.empty or frame is None:
    print("no calibration sweep yet: run python -m svdnet.experiments.post_training "
          "--calibration-sizes 256,1024,4096,8192")
else:
    figure = pr.calibration_figure(sweep, frame)
    display(reader_table(pr.readable_calibration(sweep)))

# %% [markdown]
# ## The learning rates, chosen on the validation split
#
# By default the study fine-tunes with Adam at 1e-4 (a tenth of the dense model's rate) and
# trains the small networks at 1e-3 (the dense model's). Here the dense model of each seed swept
# (the table's last column says how many) is compressed as the study compressed it at 10x, and
# each trained row (fine-tuned, small, distilled) is trained again on 4,096 images for 1,000
# steps at each of seven rates (`python -m svdnet.experiments.post_training --rates
# 1e-05,3e-05,0.0001,0.0003,0.001,0.003,0.01`; the first sweeps stopped at 3e-5 and 3e-3, and
# were extended to 1e-5 and 1e-2 when most of the rates they chose sat at one of those two
# edges; the MLPs' also to 3e-6, as their fine-tuning looked best at 1e-5). Every row records
# the dense model and the compressor it started from, and a sweep is extended only from the
# same start: the files whose start had changed since their first rates (a study run again
# chose another compressor) were swept again whole. Only the validation accuracy is shown: it is
# what a
# choice may be made on. A study run with `--validated-rates` trains each row at the rate best
# on validation, averaged over the seeds swept; the first sentence below names the rates each
# model's rows trained at. The rates are chosen at 10x only and used at every size: at 25x and
# 50x, where the compressed model starts further from the dense one, they need not be the best
# (no rate was swept there). At the study's own rate the sweep repeats the study's row when both
# start from the same dense model (the last sentence checks it).
#
# **What to see:** whether another rate would have served the fine-tuned model or the small
# networks better on the validation split, and by how much; a gap for the small networks would
# mean the comparison above favours compression.

# %%
# NBVAL_IGNORE_OUTPUT
rates = pr.rate_table(pr.load_rates(), frame)
display(Markdown(pr.study_rates(frame)))
if rates.empty:
    print("no learning-rate sweep yet: run python -m svdnet.experiments.post_training "
          "--rates " + ",".join(f"{rate:g}" for rate in RATE_GRID))
else:
    display(Markdown(pr.rate_finding(rates) + " " + pr.rate_edges(rates)))
    display(reader_table(pr.readable_rates(rates)))
    display(Markdown(pr.rate_repeats(pr.load_rates(), frame)))

# %% [markdown]
# ## Seconds to compress
#
# `python benchmarks/compression_cost.py --model M --dataset D` on the study's cached dense
# model, at 10x, in one process on one CPU thread (the execution rule; the committed timings are
# one repeat each, beside at most one other one-thread run on this 2-core machine): the
# calibration pass alone (one forward pass over the 2,048 calibration images,
# accumulating every compressed layer's input covariance), each compressor, and `one pass` less
# the calibration pass (the whitened SVDs and the rebuilt model).

# %%
# NBVAL_IGNORE_OUTPUT
costs = pr.cost_table()
if costs.empty:
    print("no timings yet: run benchmarks/compression_cost.py")
else:
    display(reader_table(costs))

# %% [markdown]
# ## Every test
#
# One row per comparison, with its raw and adjusted p-values.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    display(reader_table(pr.readable_tests(pr.page_tests(frame))))

# %% [markdown]
# ## Provenance
#
# The commits and seeds of the results; the versions of this page's build. Each result file
# also stores its machine, versions and the execution rule (one thread) it ran under.

# %%
# NBVAL_IGNORE_OUTPUT
if frame is not None:
    print("commits:", ", ".join(sorted(set(frame["commit"].str[:10]))))
    print("seeds:", ", ".join(str(seed) for seed in sorted(frame["seed"].unique())))
print("this page built with:", provenance()["versions"])
