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
# [svdnet reports](../index.html) · [every result](../results.html) ·
# [every run's notebook](../index.html#runs) · [exploration](explore.html)
#
# # svdnet results report: how far can truncated SVD compress an MLP?
#
# Every number on this page is read from the result files that `python -m svdnet.experiments.grid` wrote,
# one per training run, each produced by the committed code through `notebooks/sweep.ipynb`
# (each run's executed notebook is linked from the [index](../index.html#runs)). The network is
# the reference MLP: 784 inputs, five hidden `Dense(1024, relu)` layers and a 10-way softmax,
# trained with Adam on the full training split; its size and the training budget are printed
# below, from the results.
#
# **Methods and options**, all given the same budget of training epochs and all tested as their
# exported factorized model (each compressed kernel stored as rank-k factors), are defined in the
# table under this introduction (the landing page shows the same definitions, from
# `svdnet.experiments.findings.definitions`); an option is shown as a suffix of the method
# (`lowrank+denseout+kd`), each run only where the *What ran* table says.
#
# `posthoc` and `finetune` start from the dense run of the same seed (its weights saved as it
# trains), which is what training them from scratch would give: a run is repeatable on one
# machine under svdnet's execution rule (one thread per run, *Reproducibility* below), and the
# tests check that reuse and retraining agree. Where the output layer is factorized is
# printed below, from `svdnet.factorization_plan` on the reference model.

# %% tags=["parameters"]
results_dir: str = ""  # folder of the sweep's JSON results; empty means the project's reports/grid/results
reference_rank: int = 20  # the rank of the reference experiment, compared method by method
tolerance_points: float = 0.5  # accuracy loss, in percentage points, still counted as "close to dense"
target_compression: float = 50  # the compression target: this many times fewer parameters than dense

# %%
# NBVAL_IGNORE_OUTPUT
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from svdnet.experiments import findings, plots, report
from svdnet.experiments.config import METHODS
from svdnet.experiments.formatting import (
    accuracy_text,
    dataset_name,
    dataset_order,
    ranks_text,
    reader_table,
    size_text,
)
from svdnet.experiments.literature import MNIST_NOTE, PUBLISHED, counts_note

results_dir = results_dir or report.default_results_dir()
frame, problems = report.load_results(results_dir, on_corrupt="skip")
table = report.accuracy_table(frame)
print(f"{len(frame)} results from {os.path.relpath(results_dir)}")  # relative: no machine paths
for problem in problems:
    print("SKIPPED:", problem)
PERCENT = {"mean": "{:.2%}", "std": "{:.2%}", "accuracy": "{:.2%}", "svdnet": "{:.2%}",
           "svdnet std": "{:.2%}", "small": "{:.2%}", "small std": "{:.2%}",
           "factorized parameters": "{:,.0f}", "parameters": "{:,.0f}",
           "small parameters": "{:,.0f}", "compression": "{:.1f}x", "value": "{:g}",
           "vs dense (pp)": "{:+.2f}", "difference (pp)": "{:+.2f}"}


def show(data, defaults=True, **formats):
    """A table for readers: percentages (``defaults``), no index column."""
    display(reader_table(data, {**(PERCENT if defaults else {}), **formats}))


ranks_run = sorted(int(rank) for rank in table.loc[table["method"] != "dense", "rank"].unique())
display(Markdown(findings.setup(frame) + " "
                 + (report.output_layer_sentence(ranks_run) if ranks_run else "")))
display(Markdown("| term | meaning |\n|---|---|\n" + "\n".join(
    f"| {term} | {text} |" for term, text in findings.definitions(frame))))

# %% [markdown]
# ## Headline
#
# Computed from the results each time the report is built: the dense accuracy, the most
# compressed model within `tolerance_points` of dense by any rank choice (one rank, energy or
# budget), the best at `target_compression` times fewer parameters, and the verdict against a
# plain network trained small.

# %%
# NBVAL_IGNORE_OUTPUT
display(Markdown("\n".join("- " + sentence for sentence in
                           findings.summary(frame, tolerance_points, target_compression))))

# %% [markdown]
# ## Against a plain network trained small
#
# The simplest alternative to compressing the big network is to train a small one. `small` is
# the reference MLP narrowed to about the parameter count of the factorized model of each rank
# or budget, trained with the same recipe and epochs. Every SVD configuration (a method with
# its options, at a rank or budget) is set on its own against `small` at the same rank or
# budget, with the same output layer and teacher: no best variant is picked first, since the
# runs have no validation split to pick it on. Each comparison is Welch's t-test over the
# seeds; the p-values of all the comparisons this report makes (listed under *Every tested
# comparison*) are corrected together with Benjamini-Hochberg, and a verdict of *better* or
# *worse* needs an adjusted p below 0.05. With so few seeds a side (counted below) the test
# only sees large gaps: *no significant difference* is not evidence of equality. *size* is the small network's
# parameter count: configurations that share a small network share a size. *parameters*
# and *compression* are means over seeds, with their range (a budget shared by measured
# accuracy gives each seed its own ranks).

# %%
# NBVAL_IGNORE_OUTPUT
against_small = report.small_comparison(frame)
display(Markdown(findings.against_small(frame)))
if len(against_small):
    show(report.readable_comparison(against_small), defaults=False)

# %% [markdown]
# ## Accuracy against size
#
# **What to see:** where the black Pareto front runs through `small`'s points (pink), a plain
# network trained small has the highest mean at that size; where it runs through an SVD
# method, that method does (whether the gap is significant is in the table above). Mean test
# accuracy over seeds against the exported model's parameter count (log scale), bars one
# standard deviation; circles are one rank for every layer, triangles parameter budgets,
# squares energy thresholds. The first figure shows the core methods, the second the methods
# with options, with `small` in both; each method has one colour in every figure of the
# reports (`svdnet.experiments.plots.PALETTE`). The front runs through all runs of the main
# budget (`+30ep` runs are a longer budget and never on it). The dashed line is the dense
# network. Black markers are published results on other networks (LeNet-300-100, a
# tensor-train layer), not our runs: what each one's size counts, and how our MNIST differs
# from the original they were measured on, is printed under the figures (see also
# *Provenance*). Configurations far below dense are left off (their number is in each
# panel's title).

# %%
# NBVAL_IGNORE_OUTPUT
if len(frame):
    frontier = report.frontier_table(frame)
    plots.frontier_plot(frontier, PUBLISHED, title="The core methods");
    plots.frontier_plot(frontier, PUBLISHED, methods=plots.options_or_small,
                        title="The methods with options, and small");
    display(Markdown(f"Published points: {counts_note(PUBLISHED)}; {MNIST_NOTE}."))

# %% [markdown]
# ## What ran
#
# Seeds finished per dataset, method and rank (a full grid has 3 everywhere). Rerunning
# `python -m svdnet.experiments.grid` fills any gap without redoing finished runs.

# %%
# NBVAL_IGNORE_OUTPUT
if len(table):
    coverage = table.pivot_table(index=["dataset", "method"], columns="rank", values="seeds",
                                 fill_value=0).astype(int)
    coverage.columns = ["dense" if c == 0 else f"rank {c}" for c in coverage.columns]
    coverage.index = coverage.index.set_levels(coverage.index.levels[0].map(dataset_name), level=0)
    display(reader_table(coverage.replace(0, "-"), index=True))

# %% [markdown]
# ## Test accuracy by method and rank
#
# Mean ± standard deviation of the test accuracy (10,000 test images) over seeds, with the
# number of seeds in brackets; *parameters* and *compression* are those of the exported
# factorized model against the dense network (`small` is sized to match them).

# %%
# NBVAL_IGNORE_OUTPUT
for dataset in dataset_order(table["dataset"]):
    part = table[table["dataset"] == dataset]
    part = part.assign(accuracy=[f"{accuracy_text(m, s)} ({n})" for m, s, n in
                                 zip(part["mean"], part["std"], part["seeds"])])
    plain = part[part["method"].isin(METHODS)]
    wide = plain.pivot_table(index="rank", columns="method", values="accuracy", aggfunc="first")
    sizes = (plain[plain["method"].isin(report.SVD_METHODS)]  # the factorized models' sizes
             .groupby("rank")[["factorized parameters", "compression"]].max())
    wide = wide.join(sizes.loc[sizes.index > 0]).reset_index()
    wide["rank"] = ["dense" if r == 0 else r for r in wide["rank"]]
    display(Markdown(f"**{dataset_name(dataset)}**"))
    display(reader_table(wide, {"factorized parameters": "{:,.0f}", "compression": "{:.1f}x"}))
    options = part[~part["method"].isin(METHODS)]
    if len(options):
        display(Markdown(f"**{dataset_name(dataset)}, methods with options** (their own sizes)"))
        show(options[["rank", "method", "accuracy", "factorized parameters", "compression"]]
             .sort_values(["rank", "method"]), defaults=False,
             **{"factorized parameters": "{:,.0f}", "compression": "{:.1f}x"})

# %% [markdown]
# ## The reference rank next to the dense baseline
#
# Each method at the reference rank, against the dense network of the same seeds; *vs dense*
# is in percentage points.

# %%
# NBVAL_IGNORE_OUTPUT
reference = report.reference_table(table, rank=reference_rank)
if len(reference):
    show(reference.assign(dataset=reference["dataset"].map(dataset_name)))

# %% [markdown]
# ## Close to dense, zoomed
#
# **What to see:** the methods that stay within 5 points of dense, and where each one leaves the
# dashed dense line as the parameter count falls.

# %%
# NBVAL_IGNORE_OUTPUT
if len(table):
    datasets = dataset_order(table["dataset"])
    figure, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.2), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        part = table[table["dataset"] == dataset]
        dense = part.loc[part["method"] == "dense", "mean"]
        top = dense.iloc[0] if len(dense) else part["mean"].max()
        close = part[(part["method"] != "dense") & (part["mean"] > top - 0.05)]
        sns.lineplot(data=close, x="factorized parameters", y="mean", hue="method",
                     hue_order=plots.method_order(close["method"]),
                     palette=plots.method_colours(close["method"]),
                     style="method", markers=True, ax=axis)
        axis.axhline(top, color="grey", linestyle="--", label="dense")
        axis.set_xscale("log")
        axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.1f}%")
        axis.set_title(dataset_name(dataset))
        axis.set_xlabel("parameters of the exported model (log scale)")
        axis.set_ylabel("test accuracy, mean over seeds")
    plots.legend_outside(figure, axes[0])

# %% [markdown]
# ## How much compression stays close to dense
#
# Per dataset, the compressed models (one rank for every layer) whose mean accuracy is within
# `tolerance_points` percentage points of the dense mean, most compressed first, every one of
# them; the conclusions below also count budget and energy choices.

# %%
# NBVAL_IGNORE_OUTPUT
for dataset in dataset_order(table["dataset"]):
    close = report.best_within(table, dataset, tolerance_points)
    display(Markdown(f"**{dataset_name(dataset)}**: {len(close)} method and rank pairs within "
                     f"{tolerance_points:g} points of dense, all shown"))
    show(close.drop(columns=["dataset"]))

# %% [markdown]
# ## Choosing ranks: one rank, by energy, or by parameter budget
#
# The `finetune` method with one rank for every layer, with each layer's rank chosen to keep a
# fraction of its squared singular values (`energy`), and with the ranks that keep the most
# spectral energy within a parameter budget (`budget`), the budgets set to the sizes of uniform
# models and to the compression target. Ranks are chosen from the spectra of the dense model before
# its factors are trained; *ranks* are those of the first seed, hidden layers first, then the
# output layer (`dense`: the layer is left as it is).
#
# **What to see:** whether the triangles (budget) and squares (energy) sit above the line of
# one rank for every layer at the same size.

# %%
# NBVAL_IGNORE_OUTPUT
selection = report.selection_table(frame, method="finetune")
if len(selection):
    show(selection.assign(dataset=selection["dataset"].map(dataset_name),
                          choice=[size_text(c, v) for c, v in
                                  zip(selection["choice"], selection["value"])],
                          **{"chosen ranks": [ranks_text(r) for r in selection["chosen ranks"]]})
         .drop(columns=["value"]).rename(columns={"chosen ranks": "ranks", "choice": "size"}))
    datasets = dataset_order(selection["dataset"])
    figure, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.2), squeeze=False)
    for axis, dataset in zip(axes[0], datasets):
        part = selection[selection["dataset"] == dataset]
        uniform = part[part["choice"] == "rank"].sort_values("factorized parameters")
        axis.plot(uniform["factorized parameters"], uniform["mean"], marker="o", label="one rank")
        for choice, marker in (("energy", "s"), ("budget", "^")):
            chosen = part[part["choice"] == choice]
            axis.scatter(chosen["factorized parameters"], chosen["mean"], marker=marker, s=70,
                         label=f"by {choice}", zorder=3)
        dense = table[(table["dataset"] == dataset) & (table["method"] == "dense")]
        if len(dense):
            axis.axhline(dense["mean"].iloc[0], color="grey", linestyle="--", label="dense")
        axis.set_xscale("log")
        axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        axis.set_title(f"{dataset_name(dataset)}, finetune")
        axis.set_xlabel("parameters of the exported model (log scale)")
        axis.set_ylabel("test accuracy, mean over seeds")
    plots.legend_outside(figure, axes[0])

# %% [markdown]
# ## The compression target
#
# `target_compression` times fewer parameters than dense with a mean test accuracy at most
# `tolerance_points` below the dense mean, by any rank choice.

# %%
# NBVAL_IGNORE_OUTPUT
display(Markdown(findings.compression_goal(frame, target_compression, tolerance_points)))

# %% [markdown]
# ## Singular value spectra of the trained dense layers
#
# **What to see:** how flat the spectra are. Each panel is one trained dense kernel (seed 0),
# singular values on log-log axes; the dashed line marks the reference rank, and everything to
# its right is what truncation at that rank throws away.

# %%
# NBVAL_IGNORE_OUTPUT
spectra = {dataset_name(dataset): report.dense_spectra(results_dir, dataset)
           for dataset in ("mnist", "fashion_mnist")}
spectra = {name: values for name, values in spectra.items() if values}
if spectra:
    plots.spectrum_plot(spectra, rank=reference_rank);

# %% [markdown]
# ## Training and SVD times
#
# Median seconds per run: *train s* is the time inside the training epochs (the fine-tuning epochs
# only, for `finetune`; none for `posthoc`), *svd s* the time of all truncated SVDs of the run,
# *wall s* the whole run including data loading, tests and spectra. Runs made before commit
# bc3af02 include a tf.data stall at every epoch end (measured in `benchmarks/README.md`) that
# made their epochs longer; the results (batches, weights, accuracy) are the same with or
# without it.
#
# **What to see:** `projection` pays for an SVD of every kernel after every epoch, and `lowrank`
# and `small` train small networks from the start.

# %%
# NBVAL_IGNORE_OUTPUT
times = report.time_table(frame)
if len(times):
    figure, axis = plt.subplots(figsize=(9, 4))
    trained = times[times["method"] != "dense"]
    sns.barplot(data=trained, x="rank", y="train s", hue="method",
                hue_order=plots.method_order(trained["method"]),
                palette=plots.method_colours(trained["method"]), ax=axis)
    dense_time = times.loc[times["method"] == "dense", "train s"]
    if len(dense_time):
        axis.axhline(dense_time.median(), color="grey", linestyle="--", label="dense")
    axis.set_ylabel("training seconds per run (median)")
    plots.legend_outside(figure, [axis])
    for column in ("train s", "svd s", "wall s"):
        wide = times.pivot_table(index=["dataset", "method"], columns="rank", values=column)
        wide.columns = ["dense" if rank == 0 else f"rank {rank}" for rank in wide.columns]
        wide.index = wide.index.set_levels(wide.index.levels[0].map(dataset_name), level=0)
        display(Markdown(f"*{column}*, median per run"))
        display(reader_table(wide, "{:.1f}" if column != "svd s" else "{:.2f}", index=True))

# %% [markdown]
# What the whole build cost: every result's wall time summed per method, as recorded (the
# grid ran in several sittings, so this is the sum of its runs, not one stopwatch). Runs that
# reuse a cached dense training count only their own time in *wall h*; each dense training
# counts once, in the `dense` row. *reused dense h* is the dense training they reused, from the
# dense runs' stored epoch times: the dense epochs before `finetune` factorizes, all ten for
# `posthoc`, and the teacher's training for a `+kd` run; *h if run alone* adds it, what the
# method costs without the cache. Papermill's start-up of each notebook (a few seconds) is not
# included.

# %%
# NBVAL_IGNORE_OUTPUT
reused = report.reused_seconds(results_dir, frame)
show(report.build_time_table(frame, reused), **{
    "wall h": "{:.2f}", "median wall min": "{:.1f}", "reused dense h": "{:.2f}",
    "h if run alone": "{:.2f}"})

# %% [markdown]
# ## Conclusions
#
# What the committed results support, each paragraph computed from the result files when the
# report is built (`svdnet.experiments.findings`), so none of its numbers is typed by hand.
# Every *better*, *worse* or *not significantly different* comes from the tests listed under
# *Every tested comparison* below. Training small from
# scratch matching or beating compressed networks is a known result for pruning (Liu et al.,
# "Rethinking the Value of Network Pruning", 2019); the frontier issue is about closing that
# gap.

# %%
# NBVAL_IGNORE_OUTPUT
display(Markdown("\n\n".join(findings.conclusions(frame, reference_rank, tolerance_points,
                                                   target_compression, reused))))

# %% [markdown]
# **Reading the conclusions.** `posthoc` shows what truncating a trained network costs with no
# retraining; where the methods that train with the factorization are better than it, and where
# they are not, is in the tests above. `projection`'s own training accuracy is not its test accuracy at small ranks: test the
# exported model. The budget allocation maximises kept energy, which can starve a late layer at
# the smallest budgets (a bottleneck the energy objective does not see); its ranks are in the
# table under *Choosing ranks*. The grid ran in several sittings and commits (each result names
# its commit, *Provenance*); how far a rerun moves a result is under *Reproducibility*. Rerunning
# `python -m svdnet.experiments.grid` skips every finished run.

# %% [markdown]
# ## Every tested comparison
#
# The comparisons behind every verdict of this page and of the landing page, in one family:
# Welch's t-test (two-sided, `scipy.stats.ttest_ind` with `equal_var=False`) over the seeds of
# each side, then Benjamini-Hochberg's correction over all of them
# (`scipy.stats.false_discovery_control`), at 0.05 (`svdnet.experiments.report.comparisons`).
# *difference* is the first configuration's mean minus the second's, in percentage points.

# %%
# NBVAL_IGNORE_OUTPUT
tested = report.comparisons(frame)
display(Markdown(report.statistics_note(tested) + "."))
if len(tested):
    show(report.readable_tests(tested), defaults=False)

# %% [markdown]
# What must hold in any set of results: accuracies are fractions, and no compressed model is
# larger than the dense network.

# %%
assert frame["test accuracy"].between(0, 1).all()
assert (frame.loc[frame["method"] != "dense", "compression"] >= 1).all()
print("checks passed")

# %% [markdown]
# ## Reproducibility
#
# TensorFlow's CPU kernels, XLA and the BLAS split their sums by the number of threads, so the same
# configuration and seed trained with 1 and with 2 threads ends with different weights (measured;
# the same count twice gives identical ones). Runs written before svdnet's execution rule
# (`svdnet.experiments.execution`: one TensorFlow and one BLAS thread per run, recorded in each
# result as `execution`) took every core when they ran alone and one under `--workers 2`, and some
# came from trees with uncommitted code; so results could move between sittings. Runs done again
# under the rule from one clean commit go to `reports/grid/reruns` (a grid output folder of its
# own), not over the results the tables above use, until a whole set has been done again; then
# they replace the results in the tables, and the results they replaced move to
# `reports/grid/earlier` (`python -m svdnet.experiments.reproducibility adopt`). Below, each run
# done again is paired with the earlier result of the same configuration and seed, to say how far
# a result moved between sittings, beside how far it moves between seeds.

# %%
# NBVAL_IGNORE_OUTPUT
from svdnet.experiments import reproducibility

grid_dir = os.path.dirname(results_dir)
earlier = os.path.join(grid_dir, reproducibility.EARLIER, "results")
reruns = os.path.join(grid_dir, reproducibility.RERUNS, "results")
ruled = int(frame["execution rule"].sum())
display(Markdown(f"{ruled} of the {len(frame)} results ran under the execution rule; the others "
                 "were written before it and record no thread count."))
pairs = [reproducibility.sitting_differences(before, after)
         for before, after in ((earlier, results_dir), (results_dir, reruns))
         if os.path.isdir(before) and os.path.isdir(after)]
if pairs:
    moves = pd.concat(pairs, ignore_index=True)
    spread = reproducibility.sitting_summary(moves, results_dir)
    if spread["runs"]:
        display(Markdown(
            f"**{spread['runs']} runs done again** under the rule (same configuration and seed; "
            f"{int(moves['now follows rule'].sum())} record it): the test accuracy "
            f"moved by {spread['mean absolute']:.2f} points on average and {spread['largest']:.2f} at "
            f"most; the mean move is {spread['mean']:+.2f} points and the moves' standard deviation "
            f"{spread['std']:.2f}, against a standard deviation between seeds of "
            f"{spread['seed std']:.2f} points for the same configurations. Earlier commits: "
            + ", ".join(f"`{c}`" for c in sorted(moves['earlier commit'].unique())) + "; now: "
            + ", ".join(f"`{c}`" for c in sorted(moves['now commit'].unique())) + "."))
        by_group = (moves.groupby(["dataset", "method"])["difference (pp)"]
                    .agg(runs="size", mean="mean", largest=lambda d: d.abs().max()).reset_index())
        show(by_group, defaults=False, mean="{:+.2f}", largest="{:.2f}")
twins = reproducibility.same_network_pairs(results_dir)
if len(twins):
    ruled_twins, older = twins[twins["both follow rule"]], twins[~twins["both follow rule"]]
    gaps = 100 * (older["accuracy"] - older["twin accuracy"]).abs()
    display(Markdown(
        f"**One network under two names.** At rank 10 and above the output layer stays dense "
        f"whether or not it is asked to (its factors would not be smaller), so a run with the "
        f"output layer kept dense and the same run without that option train the same network. "
        f"{len(twins)} such pairs are among the results: of the {len(ruled_twins)} whose two runs "
        f"both ran under the rule (from different commits and sittings), "
        f"**{int(ruled_twins['identical'].sum())} give identical accuracies**"
        + (f"; of the {len(older)} written before the rule, {int(older['identical'].sum())} do, "
           f"and the others differ by up to {gaps.max():.2f} points." if len(older) else ".")))
    show(twins, defaults=False)

# %% [markdown]
# ## Provenance
#
# The commits, machine and library versions of the results; the seed of each run is in the
# tables above and in its result file.
#
# **Data.** `mnist` and `fashion_mnist` are TensorFlow Datasets 3.0.1, loaded with plain
# `tfds.load`. Here they came prepared from `../shared/tensorflow_datasets` (no network). Their
# provenance, from `../shared/README.md`: the MNIST labels and test images are the original files
# byte for byte; the 60,000 training images were rebuilt from a lossless PNG export of MNIST whose
# grey levels had been remapped, with 97.2% of pixels restored exactly and the rest within one
# grey level (training mean 0.13071 and standard deviation 0.30824 match MNIST's 0.1307 / 0.3081),
# so the results are on "MNIST as rebuilt", which we treat as MNIST. Fashion-MNIST is Zalando's,
# exact (from Debian's `dataset-fashion-mnist` package, MIT licence).

# %%
# NBVAL_IGNORE_OUTPUT
if len(frame):
    info = report.provenance_summary(results_dir, frame)
    display(Markdown("\n".join(f"- **{key}**: " + "; ".join(f"`{value}`" for value in values)
                               for key, values in info.items())))
