"""Tables, tests, figures and findings of the "Compressing a trained network" page, from the
result files of :mod:`svdnet.experiments.post_training`.

Every verdict comes from :func:`svdnet.experiments.report.significance` (Welch's t-test over
seeds, Benjamini-Hochberg over every comparison of the page); every choice was made by the
study on the validation split, and the test accuracies here are only reported.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import numpy as np
import pandas as pd

from svdnet.experiments.formatting import accuracy_text, dataset_name, model_name
from svdnet.experiments.post_training import (
    BASELINES,
    CALIBRATION,
    CALIBRATION_PASS,
    COMPRESSORS,
    COSTS,
    OUT,
    RATE_SETTINGS,
    RATES,
    SWEEP_EXAMPLES,
    SWEEP_STEPS,
    best_rate,
    completed_settings,
    validation_means,
)
from svdnet.experiments.report import significance

RESULTS_DIR = OUT
"""The study's result files, one per model, dataset and seed."""

TRAINED_KINDS = ("fine-tuned",) + BASELINES

FINE_TUNED_TOLERANCE = 0.5
"""The issue's target for every model, in points below dense at 10x, after at most
:data:`~svdnet.experiments.post_training.SWEEP_STEPS` steps on at most
:data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES` examples."""


@dataclasses.dataclass(frozen=True)
class NoStepTarget:
    """The issue's target for one model and dataset with no gradient step at all.

    Attributes:
        dataset: The dataset the target was set on.
        ratio: The compression it was set at; measured at the nearest ratio studied.
        drop: Most points below dense allowed, or ``None``.
        accuracy: Least test accuracy allowed (a fraction), or ``None``.
    """

    dataset: str
    ratio: float
    drop: float | None = None
    accuracy: float | None = None

    def __post_init__(self):
        if (self.drop is None) == (self.accuracy is None):
            raise ValueError(f"A no-step target needs exactly one of drop and accuracy; "
                             f"received drop={self.drop!r}, accuracy={self.accuracy!r}.")

    def text(self, measured_at: float | None = None) -> str:
        """The target in words, naming the ratio it was measured at when that differs."""
        bound = (f"within {self.drop:g} point{'' if self.drop == 1 else 's'} of dense"
                 if self.drop is not None else f"at least {100 * self.accuracy:g}%")
        at = (f"about {self.ratio:g}x" if measured_at is None or measured_at == self.ratio
              else f"about {self.ratio:g}x (measured at {measured_at:g}x, the nearest studied)")
        return f"no gradient step: {bound} at {at}"

    def met(self, drop: float, accuracy: float) -> bool:
        """Whether the mean drop (points) and mean test accuracy meet the target."""
        return (drop >= -self.drop) if self.drop is not None else accuracy >= self.accuracy


NO_STEP_TARGETS = {
    "mlp": NoStepTarget("mnist", 23.0, drop=1.0),
    "vit": NoStepTarget("mnist", 10.0, accuracy=0.80),
    "cnn": NoStepTarget("fashion_mnist", 10.0, drop=2.0),
}
"""The issue's targets with no gradient step, per model (each on the dataset it was set on):
the compressor chosen on the validation split, measured on the test set."""


def load_study(results_dir: str = RESULTS_DIR) -> pd.DataFrame:
    """Every row of every study file in ``results_dir``, with each file's ``commit`` and,
    for the trained rows, the learning ``rate`` its settings trained them at.

    Raises:
        ValueError: when no file is there, or when two files of one model and dataset were
            made with settings that differ beyond the seed (their rows must not be pooled).
    """
    paths = sorted(glob.glob(os.path.join(results_dir, "*.json")))
    if not paths:
        raise ValueError(f"no study results in {results_dir!r}: run "
                         f"`python -m svdnet.experiments.post_training` first.")
    rows, settings = [], {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        full = completed_settings(stored["settings"])
        shared = {key: value for key, value in full.items() if key != "seed"}
        group = (shared["model"], shared["dataset"])
        if settings.setdefault(group, (shared, path))[0] != shared:
            raise ValueError(f"{path} and {settings[group][1]} hold {group} studies with other "
                             f"settings beyond the seed: {shared} against "
                             f"{settings[group][0]}; they cannot be pooled.")
        commit = stored["provenance"].get("commit", "")
        rows += [{**row, "commit": commit, "file": os.path.basename(path),
                  "rate": full[RATE_SETTINGS[row["kind"]]] if row["kind"] in RATE_SETTINGS
                  else np.nan}
                 for row in stored["rows"]]
    return pd.DataFrame(rows)


def dense_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The trained models the study compressed, for a reader: per model and dataset, the
    seeds, parameters, training steps, validation and test accuracy over seeds, and the
    seconds of training."""
    dense = frame[frame["kind"] == "dense"]
    out = []
    for (model, dataset), part in _in_order(dense):
        out.append({"model": model_name(model), "dataset": dataset_name(dataset),
                    "seeds": part["seed"].nunique(),
                    "parameters": f"{int(part['parameters'].iloc[0]):,}",
                    "training steps": f"{int(part['steps'].iloc[0]):,}",
                    "validation": accuracy_text(part["val"].mean(), part["val"].std()),
                    "test": accuracy_text(part["test"].mean(), part["test"].std()),
                    "seconds": f"{part['seconds'].mean():.0f}"})
    return pd.DataFrame(out)


def cost_table(costs_dir: str = COSTS) -> pd.DataFrame:
    """The seconds to compress each trained model, from ``benchmarks/compression_cost.py``'s
    files in ``costs_dir``: the calibration pass alone, each compressor, and ``one pass``
    less the calibration pass (the whitened SVDs and the rebuild). Empty when there is no
    file."""
    out = []
    for path in sorted(glob.glob(os.path.join(costs_dir, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        seconds = stored["seconds"]
        row = {"model": model_name(stored["model"]), "dataset": dataset_name(stored["dataset"]),
               "seed": stored["seed"], "budget": _size(stored["ratio"]),
               "layers": stored["layers"],
               "calibration images": f"{stored['calibration_examples']:,}"}
        row.update({f"{name} (s)": f"{seconds[name]:.2f}"
                    for name in (CALIBRATION_PASS, *COMPRESSORS)})
        row["whitened SVDs and rebuild (s)"] = (
            f"{seconds['one pass'] - seconds[CALIBRATION_PASS]:.2f}")
        row["commit"] = stored["provenance"].get("commit") or "unknown"
        out.append(row)
    return pd.DataFrame(out)


def _dense(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["kind"] == "dense"].set_index(["model", "dataset", "seed"])


def with_drop(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``dense test`` (the same seed's dense model) and ``drop (pp)``, each
    row's test accuracy minus it, in points."""
    dense = _dense(frame)["test"].rename("dense test")
    frame = frame.join(dense, on=["model", "dataset", "seed"])
    frame["drop (pp)"] = 100 * (frame["test"] - frame["dense test"])
    return frame


def no_training_table(frame: pd.DataFrame) -> pd.DataFrame:
    """With no gradient step: each compressor at each ratio, over seeds: the compression
    reached, validation and test accuracy, the test drop from dense and the seconds the
    compression took (calibration pass and SVDs together)."""
    rows = with_drop(frame)
    rows = rows[rows["kind"] == "compressed"]
    table = rows.groupby(["model", "dataset", "ratio", "method"], sort=False).agg(
        seeds=("seed", "nunique"), compression=("compression", "mean"),
        val=("val", "mean"), test=("test", "mean"), test_std=("test", "std"),
        drop=("drop (pp)", "mean"), seconds=("seconds", "mean")).reset_index()
    order = {name: index for index, name in enumerate(COMPRESSORS)}
    return table.sort_values(["model", "dataset", "ratio", "method"],
                             key=lambda column: column.map(order) if column.name == "method"
                             else column).reset_index(drop=True)


def chosen(frame: pd.DataFrame) -> pd.DataFrame:
    """The compressor each seed fine-tuned at each ratio (the best on the validation
    split): model, dataset, ratio, seed, method."""
    tuned = frame[frame["kind"] == "fine-tuned"]
    return (tuned.groupby(["model", "dataset", "ratio", "seed"])["method"].first()
            .reset_index())


def chosen_compressed(frame: pd.DataFrame) -> pd.DataFrame:
    """The no-step rows of the compressor each seed chose at each ratio (:func:`chosen`)."""
    return frame[frame["kind"] == "compressed"].merge(
        chosen(frame), on=["model", "dataset", "ratio", "seed", "method"])


def at_sweep_point(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The rows of ``kind`` trained on :data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES`
    images for :data:`~svdnet.experiments.post_training.SWEEP_STEPS` steps."""
    return frame[(frame["kind"] == kind) & (frame["examples"] == SWEEP_EXAMPLES)
                 & (frame["steps"] == SWEEP_STEPS)]


def _samples(part: pd.DataFrame) -> list:
    return part.sort_values("seed")["test"].tolist()


def page_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """Every comparison the page states, tested together (one Benjamini-Hochberg family):

    - with no gradient step, each data-aware compressor against ``plain`` at each ratio;
    - at each ratio, number of examples and of steps, the fine-tuned compressed model
      against the small network trained from scratch and against the distilled one.

    Returns:
        :func:`svdnet.experiments.report.significance`'s table, with ``question``, ``model``,
        ``dataset``, ``ratio``, ``examples``, ``steps``, ``first`` and ``second`` labels.
    """
    rows = []
    compressed = frame[frame["kind"] == "compressed"]
    for (model, dataset, ratio), part in compressed.groupby(["model", "dataset", "ratio"]):
        plain = part[part["method"] == "plain"]
        for name in list(COMPRESSORS)[1:]:
            other = part[part["method"] == name]
            if len(other) and len(plain):
                rows.append({"question": "no gradient step, against plain", "model": model,
                             "dataset": dataset, "ratio": ratio, "examples": 0, "steps": 0,
                             "first label": name, "second label": "plain",
                             "first": _samples(other), "second": _samples(plain)})
    trained = frame[frame["kind"].isin(TRAINED_KINDS)]
    for (model, dataset, ratio, examples, steps), part in trained.groupby(
            ["model", "dataset", "ratio", "examples", "steps"]):
        tuned = part[part["kind"] == "fine-tuned"]
        for baseline in BASELINES:
            other = part[part["kind"] == baseline]
            if len(tuned) and len(other):
                rows.append({"question": f"fine-tuned against {baseline}", "model": model,
                             "dataset": dataset, "ratio": ratio, "examples": examples,
                             "steps": steps, "first label": "fine-tuned",
                             "second label": baseline,
                             "first": _samples(tuned), "second": _samples(other)})
    if not rows:
        return pd.DataFrame()
    return significance(pd.DataFrame(rows))


def trained_table(frame: pd.DataFrame, tests: pd.DataFrame | None = None) -> pd.DataFrame:
    """At each ratio, number of examples and steps: the fine-tuned compressed model, the
    small network and the distilled one (test accuracy over seeds, drop from dense), with
    the verdict of the fine-tuned model against each baseline."""
    tests = page_tests(frame) if tests is None else tests
    rows = with_drop(frame)
    rows = rows[rows["kind"].isin(TRAINED_KINDS)]
    out = []
    for (model, dataset, ratio, examples, steps), part in rows.groupby(
            ["model", "dataset", "ratio", "examples", "steps"]):
        row = {"model": model, "dataset": dataset, "ratio": ratio, "examples": examples,
               "steps": steps}
        for kind in TRAINED_KINDS:
            runs = part[part["kind"] == kind]
            row[kind] = accuracy_text(runs["test"].mean(), runs["test"].std())
            row[f"{kind} drop (pp)"] = runs["drop (pp)"].mean()
        for baseline in BASELINES:
            match = tests[(tests["question"] == f"fine-tuned against {baseline}")
                          & (tests["model"] == model) & (tests["dataset"] == dataset)
                          & (tests["ratio"] == ratio) & (tests["examples"] == examples)
                          & (tests["steps"] == steps)] if len(tests) else tests
            row[f"against {baseline}"] = (match["verdict"].iloc[0] if len(match) else
                                          "not tested")
            row[f"adjusted p ({baseline})"] = (match["adjusted p"].iloc[0] if len(match)
                                               else np.nan)
        out.append(row)
    return pd.DataFrame(out)


def target_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The issue's targets for the models studied, measured: with no gradient step, the
    compressor chosen on validation against the model's :data:`NO_STEP_TARGETS` (at the
    studied ratio nearest the target's); after
    :data:`~svdnet.experiments.post_training.SWEEP_STEPS` steps on
    :data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES` examples, within
    :data:`FINE_TUNED_TOLERANCE` of dense at 10x; and significantly better than both small
    baselines at every number of examples and steps within those, at every ratio up to 25x.
    ``met`` is ``"met"``, ``"missed"``, ``"not tested"`` (one seed: no test) or
    ``"not run"`` (a target of :data:`NO_STEP_TARGETS` whose model and dataset have no
    study file); the measured value says by how much.
    """
    rows = with_drop(frame)
    out = []
    for (model, dataset), part in _in_order(rows):
        compressed = chosen_compressed(part)
        target = NO_STEP_TARGETS.get(model)
        near = (_nearest(compressed["ratio"], target.ratio)
                if target is not None and target.dataset == dataset else None)
        if near is not None:
            runs = compressed[compressed["ratio"] == near]
            drop, accuracy = runs["drop (pp)"].mean(), runs["test"].mean()
            out.append({"model": model, "dataset": dataset, "target": target.text(near),
                        "measured": f"{100 * accuracy:.2f}%, {drop:+.2f} points from dense "
                                    f"({_seeds(runs)})",
                        "met": _met(target.met(drop, accuracy))})
        tuned = at_sweep_point(part, "fine-tuned")
        at_10 = tuned[tuned["ratio"] == 10.0]
        if len(at_10):
            drop = at_10["drop (pp)"].mean()
            out.append({"model": model, "dataset": dataset,
                        "target": f"{SWEEP_STEPS:,} steps on {SWEEP_EXAMPLES:,} examples: "
                                  f"within {FINE_TUNED_TOLERANCE:g} points of dense at 10x",
                        "measured": f"{drop:+.2f} points ({_seeds(at_10)})",
                        "met": _met(drop >= -FINE_TUNED_TOLERANCE)})
    studied = set(zip(frame["model"], frame["dataset"]))
    for model, target in NO_STEP_TARGETS.items():
        if (model, target.dataset) not in studied:
            out.append({"model": model, "dataset": target.dataset, "target": target.text(),
                        "measured": "not run: python -m svdnet.experiments.post_training "
                                    f"--model {model} --dataset {target.dataset}",
                        "met": "not run"})
    tests = page_tests(frame)
    if len(tests):
        few = tests[tests["question"].str.startswith("fine-tuned")
                    & (tests["ratio"] <= 25) & (tests["steps"] <= SWEEP_STEPS)
                    & (tests["examples"] <= SWEEP_EXAMPLES)]
        for (model, dataset), part in few.groupby(["model", "dataset"]):
            counts = part["verdict"].value_counts()
            out.append({"model": model, "dataset": dataset,
                        "target": f"at most {SWEEP_STEPS:,} steps on at most "
                                  f"{SWEEP_EXAMPLES:,} examples, up to 25x: the fine-tuned "
                                  f"model ahead of small and distilled",
                        "measured": ", ".join(f"{count} {verdict}" for verdict, count
                                              in counts.items()) + f" of {len(part)} tests",
                        "met": ("not tested" if counts.get("not tested", 0) == len(part)
                                else _met(counts.get("better", 0) == len(part)))})
    return pd.DataFrame(out)


def readable_targets(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`target_table` for a reader: the model and dataset as the page names them."""
    if table.empty:
        return table
    return table.assign(model=table["model"].map(model_name),
                        dataset=table["dataset"].map(dataset_name))


def _in_order(rows: pd.DataFrame):
    """``rows`` grouped by model and dataset, MNIST before Fashion-MNIST."""
    return sorted(rows.groupby(["model", "dataset"]),
                  key=lambda item: (item[0][0], item[0][1] != "mnist", item[0][1]))


def _seeds(part: pd.DataFrame) -> str:
    count = part["seed"].nunique()
    return f"{count} seed{'' if count == 1 else 's'}"


def _met(met) -> str:
    return "met" if met else "missed"


def _nearest(values: pd.Series, target: float):
    values = sorted(set(values))
    return min(values, key=lambda value: abs(value - target)) if values else None


def finding(frame: pd.DataFrame) -> str:
    """The landing page's sentence on the study: per model and dataset, the drop from
    dense with no gradient step and after fine-tuning at 10x and at the largest ratio
    fine-tuned, and how the fine-tuned model fared against the small networks (counts
    of the page's verdicts)."""
    tests = page_tests(frame)
    parts = []
    table = no_training_table(frame)
    rows = with_drop(frame)
    for (model, dataset), part in _in_order(rows):
        compressed = chosen_compressed(part)
        tuned = at_sweep_point(part, "fine-tuned")
        sizes = []
        for ratio in sorted(set(tuned["ratio"])):
            before = compressed[compressed["ratio"] == ratio]["drop (pp)"].mean()
            after = tuned[tuned["ratio"] == ratio]["drop (pp)"].mean()
            sizes.append(f"{ratio:g}x {before:+.2f} → {after:+.2f}")
        verdicts = tests[tests["question"].str.startswith("fine-tuned")
                         & (tests["model"] == model) & (tests["dataset"] == dataset)]
        counts = verdicts["verdict"].value_counts()
        best = table[(table["model"] == model) & (table["dataset"] == dataset)]
        parts.append(
            f"the trained {model_name(model)} on {dataset_name(dataset)} "
            f"({_seeds(part)}; points from dense, compressed with no gradient "
            f"step → after {SWEEP_STEPS:,} steps on {SWEEP_EXAMPLES:,} examples): "
            + "; ".join(sizes)
            + f". Against the small network trained or distilled on the same examples and "
            f"steps, the fine-tuned one is better in {counts.get('better', 0)}, worse in "
            f"{counts.get('worse', 0)} and not significantly different in "
            f"{counts.get('no significant difference', 0)} of {len(verdicts)} tests"
            + (f" ({counts['not tested']} not tested: one seed)" if counts.get("not tested")
               else "")
            + (f" (compression took {best['seconds'].min():.0f}-{best['seconds'].max():.0f} "
               f"s)" if len(best) else ""))
    return "Compressing a trained network: " + " — ".join(parts) + "."


def practice(frame: pd.DataFrame, page: str = "html/post_training.html") -> str:
    """The landing page's practitioner's line for a network that already exists: per model
    and dataset, the drop from dense after :data:`~svdnet.experiments.post_training.SWEEP_STEPS`
    steps on :data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES` images at each ratio
    fine-tuned, its mean test accuracy and the small networks' there (stated whether or not a
    test separates them, so a mean behind the small networks is said), and the verdicts
    against the small networks at each ratio (all N and S)."""
    tests = page_tests(frame)
    rows = with_drop(frame)
    parts = []
    for (model, dataset), part in _in_order(rows):
        tuned = at_sweep_point(part, "fine-tuned")
        sizes = []
        for ratio in sorted(set(tuned["ratio"])):
            verdicts = tests[tests["question"].str.startswith("fine-tuned")
                             & (tests["model"] == model) & (tests["dataset"] == dataset)
                             & (tests["ratio"] == ratio)]["verdict"]
            drop = tuned[tuned["ratio"] == ratio]["drop (pp)"].mean()
            means = {}
            for kind in TRAINED_KINDS:
                runs = at_sweep_point(part, kind)
                means[kind] = runs[runs["ratio"] == ratio]["test"].mean()
            sizes.append(
                f"{ratio:g}x {drop:+.2f} points from dense, "
                f"{100 * means['fine-tuned']:.2f}% against {100 * means['small']:.2f}% "
                f"(small) and {100 * means['distilled']:.2f}% (distilled), " + (
                    "not tested (one seed)" if (verdicts == "not tested").all() else
                    f"better than the small networks in {int((verdicts == 'better').sum())} "
                    f"and worse in {int((verdicts == 'worse').sum())} of {len(verdicts)} tests"))
        if sizes:
            parts.append(f"the {model_name(model)} on {dataset_name(dataset)} "
                         f"({_seeds(part)}): " + "; ".join(sizes))
    if not parts:
        return ""
    return (f"**When the network already exists** ([the trained-network study]({page})): "
            f"compressed with a sample of its data (`factorize(model, budget=..., data=...)`) "
            f"and fine-tuned briefly, against the small network trained on the same images. "
            f"After {SWEEP_STEPS:,} steps on {SWEEP_EXAMPLES:,} images, "
            + " — ".join(parts) + " (trained from scratch or distilled on the same images, "
            "tested at every number of images and steps). Where the small networks are ahead, "
            "train the small network.")


COLOURS = {"dense": "#7f7f7f", "plain": "#0173b2", "one pass": "#de8f05",
           "sequential": "#029e73", "loss budget": "#d55e00", "fine-tuned": "#cc78bc",
           "small": "#ca9161", "distilled": "#56b4e9"}
"""One colour per compressor and per trained network in every figure of the page."""


def size_figure(frame: pd.DataFrame):
    """Test accuracy against compression ratio, one panel per model and dataset: each
    compressor with no gradient step, the fine-tuned model and the two small networks at
    :data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES` examples and
    :data:`~svdnet.experiments.post_training.SWEEP_STEPS` steps, dense as a line."""
    import matplotlib.pyplot as plt

    from svdnet.experiments.plots import legend_outside

    rows = frame.copy()
    rows["curve"] = np.where(rows["kind"] == "compressed", rows["method"], rows["kind"])
    trained = rows["kind"].isin(TRAINED_KINDS)
    rows = rows[(rows["kind"] == "compressed") | (trained & (rows["examples"] == SWEEP_EXAMPLES)
                                                 & (rows["steps"] == SWEEP_STEPS))]
    groups = list(frame.groupby(["model", "dataset"]))
    figure, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for axis, ((model, dataset), part) in zip(axes[0], groups):
        dense = part[part["kind"] == "dense"]["test"].mean()
        axis.axhline(100 * dense, color=COLOURS["dense"], linestyle="--", label="dense")
        for curve in list(COMPRESSORS) + list(TRAINED_KINDS):
            runs = rows[(rows["curve"] == curve) & (rows["model"] == model)
                        & (rows["dataset"] == dataset)]
            if runs.empty:
                continue
            means = runs.groupby("ratio")["test"].agg(["mean", "std"]).reset_index()
            label = (curve if curve in COMPRESSORS else
                     f"{curve}, {SWEEP_EXAMPLES:,} examples, {SWEEP_STEPS:,} steps")
            axis.errorbar(means["ratio"], 100 * means["mean"], yerr=100 * means["std"].fillna(0),
                          marker="o", color=COLOURS[curve], label=label, capsize=3)
        axis.set_xscale("log")
        ratios = sorted(set(part.loc[part["kind"] == "compressed", "ratio"]))
        axis.set_xticks(ratios, [f"{ratio:g}x" for ratio in ratios])
        axis.minorticks_off()
        axis.set_xlabel("parameter budget (dense parameters / budget)")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(f"{model_name(model)}, {dataset_name(dataset)}")
    legend_outside(figure, axes[0])
    return figure


def sweep_figure(frame: pd.DataFrame, swept: str):
    """Test accuracy against the number of fine-tuning ``"examples"`` (at
    :data:`~svdnet.experiments.post_training.SWEEP_STEPS` steps) or of ``"steps"`` (on
    :data:`~svdnet.experiments.post_training.SWEEP_EXAMPLES` examples), one panel per
    ratio: the fine-tuned model and the two small networks; the compressed model with no
    step and dense as lines. ``None`` when nothing was fine-tuned."""
    import matplotlib.pyplot as plt

    from svdnet.experiments.plots import legend_outside

    fixed, value = (("steps", SWEEP_STEPS) if swept == "examples"
                    else ("examples", SWEEP_EXAMPLES))
    rows = frame[frame["kind"].isin(TRAINED_KINDS) & (frame[fixed] == value)]
    panels = sorted(set(zip(rows["model"], rows["dataset"], rows["ratio"])))
    if not panels:  # nothing fine-tuned yet
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False,
                                sharey=False)
    for axis, (model, dataset, ratio) in zip(axes[0], panels):
        part = frame[(frame["model"] == model) & (frame["dataset"] == dataset)]
        axis.axhline(100 * part[part["kind"] == "dense"]["test"].mean(), color=COLOURS["dense"],
                     linestyle="--", label="dense")
        start = chosen_compressed(part)
        start = start[start["ratio"] == ratio]["test"].mean()
        axis.axhline(100 * start, color=COLOURS["fine-tuned"], linestyle=":",
                     label="compressed, no gradient step")
        for kind in TRAINED_KINDS:
            runs = rows[(rows["kind"] == kind) & (rows["model"] == model)
                        & (rows["dataset"] == dataset) & (rows["ratio"] == ratio)]
            means = runs.groupby(swept)["test"].agg(["mean", "std"]).reset_index()
            axis.errorbar(means[swept], 100 * means["mean"], yerr=100 * means["std"].fillna(0),
                          marker="o", color=COLOURS[kind], label=kind, capsize=3)
        axis.set_xscale("log")
        axis.set_xlabel(f"fine-tuning {swept}")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(f"{model_name(model)} {dataset_name(dataset)}, {ratio:g}x")
    legend_outside(figure, axes[0])
    return figure


def load_calibration(folder: str = CALIBRATION) -> pd.DataFrame:
    """Every row of the calibration sweeps' files in ``folder``
    (:func:`svdnet.experiments.post_training.run_calibration_sweep`), empty when there is
    none."""
    return _sweep_rows(folder)


def load_rates(folder: str = RATES) -> pd.DataFrame:
    """Every row of the learning-rate sweeps' files in ``folder``
    (:func:`svdnet.experiments.post_training.run_rate_sweep`), empty when there is none."""
    return _sweep_rows(folder)


def rate_table(rates: pd.DataFrame, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """How the study's learning rates compare on the validation split: per model, dataset,
    ratio and kind (fine-tuned, small, distilled), the validation accuracy at each rate
    (mean over the seeds swept), the rate best on validation
    (:func:`svdnet.experiments.post_training.best_rate`, the study's rate on a tie), the
    study's rate and how many points of validation accuracy the study's rate is below the
    best.

    Args:
        rates: The frame of :func:`load_rates`.
        frame: The study's rows (:func:`load_study`), whose ``rate`` is the study's rate.
            Defaults to ``None``: the rate the study had when the sweep ran (its rows'
            ``study_rate``).
    """
    if rates.empty:
        return rates
    keys = ["model", "dataset", "ratio", "kind"]
    rows = []
    for key, rows_of_key in rates.groupby(keys, sort=False):
        means = dict(sorted(validation_means(rows_of_key.to_dict("records"), key[-1]).items()))
        own = _study_rate(rows_of_key, frame, *key)
        rows.append({**dict(zip(keys, key)), **means,
                     # on a tie the study's rate is the best: no other rate does better
                     "best rate": best_rate(means, prefer=own),
                     "study rate": own,
                     "below best (points)": (100 * (max(means.values()) - means[own])
                                             if own in means else np.nan),
                     "seeds": rows_of_key["seed"].nunique()})
    order = {kind: index for index, kind in enumerate(TRAINED_KINDS)}
    return (pd.DataFrame(rows).sort_values(["model", "dataset", "ratio", "kind"],
                                           key=lambda column: column.map(order)
                                           if column.name == "kind" else column)
            .reset_index(drop=True))


def _study_rate(sweep_rows: pd.DataFrame, frame, model, dataset, ratio, kind) -> float:
    """The rate the study trains ``kind`` of ``model`` on ``dataset`` at: from its rows in
    ``frame`` when given, else the rate the sweep's rows marked as the study's; NaN when
    neither says."""
    if frame is not None and len(frame) and "rate" in frame:
        own = frame.loc[(frame["model"] == model) & (frame["dataset"] == dataset)
                        & (frame["kind"] == kind), "rate"].dropna().unique()
        if len(own):
            return float(own[0])
    marked = sweep_rows.loc[sweep_rows["study_rate"], "rate"]
    return float(marked.iloc[0]) if len(marked) else np.nan


def study_rates(frame: pd.DataFrame) -> str:
    """One sentence: the learning rates the study trained each model's rows at (from its
    files' settings), per model and dataset."""
    if frame is None or frame.empty or "rate" not in frame:
        return ""
    parts = []
    for (model, dataset), part in frame.dropna(subset=["rate"]).groupby(
            ["model", "dataset"], sort=True):
        rates = {kind: part.loc[part["kind"] == kind, "rate"].unique() for kind in TRAINED_KINDS}
        parts.append(f"the {model_name(model)} on {dataset_name(dataset)}: " + ", ".join(
            f"{kind} {'/'.join(f'{rate:g}' for rate in sorted(values))}"
            for kind, values in rates.items() if len(values)))
    return ("The study's learning rates (Adam): " + "; ".join(parts) + ".") if parts else ""


def readable_rates(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`rate_table` for a reader: validation accuracies in percent, one column per
    rate."""
    if table.empty:
        return table
    rates = sorted(column for column in table.columns if isinstance(column, float))
    readable = pd.DataFrame({
        "model": table["model"].map(model_name), "dataset": table["dataset"].map(dataset_name),
        "size": table["ratio"].map(_size), "trained": table["kind"]})
    for rate in rates:
        readable[f"val at {rate:g}"] = table[rate].map(
            lambda value: "" if pd.isna(value) else f"{100 * value:.2f}%")
    readable["best on validation"] = table["best rate"].map(lambda rate: f"{rate:g}")
    readable["the study's"] = table["study rate"].map(
        lambda rate: "not swept" if pd.isna(rate) else f"{rate:g}")
    readable["study below best"] = table["below best (points)"].map(
        lambda value: "" if pd.isna(value) else f"{value:.2f}")
    readable["seeds"] = table["seeds"]
    return readable


def rate_finding(table: pd.DataFrame) -> str:
    """One sentence on the study's rates from :func:`rate_table`: for how many of the swept
    models and kinds the study's rate is the best on validation, and the largest gap."""
    measured = table.dropna(subset=["below best (points)"]) if len(table) else table
    if measured.empty:  # no row swept at the study's own rate
        return ""
    best = measured["below best (points)"] == 0
    worst = measured.loc[measured["below best (points)"].idxmax()]
    rates = [column for column in table.columns if isinstance(column, float)]
    # models may have swept different numbers of rates (a grid extended for some)
    swept = " or ".join(str(count) for count in sorted(set(
        measured[rates].notna().sum(axis=1).astype(int))))
    if best.all():
        return (f"On the validation split the study's learning rate is the best of the "
                f"{swept} swept for all {len(measured)} trained rows.")
    return (f"On the validation split the study's learning rate is the best of the {swept} "
            f"swept for {int(best.sum())} of {len(measured)} trained rows; the largest gap is "
            f"{worst['below best (points)']:.2f} points ({model_name(worst['model'])} "
            f"{dataset_name(worst['dataset'])}, {worst['kind']}, best at "
            f"{worst['best rate']:g} against the study's {worst['study rate']:g}).")


def rate_edges(table: pd.DataFrame) -> str:
    """One sentence naming the rows of :func:`rate_table` whose best rate is the highest or
    the lowest rate swept: a rate beyond it was not tried, so the row may be under-tuned
    still. Empty when every best rate lies inside the grid."""
    if table.empty:
        return ""
    swept = [column for column in table.columns if isinstance(column, float)]
    sides = {"highest": [], "lowest": []}
    for _, row in table.iterrows():
        tried = [rate for rate in swept if pd.notna(row[rate])]
        if len(tried) < 2:
            continue
        name = f"{model_name(row['model'])} {dataset_name(row['dataset'])} {row['kind']}"
        if row["best rate"] == max(tried):
            sides["highest"].append(f"{name} ({max(tried):g})")
        elif row["best rate"] == min(tried):
            sides["lowest"].append(f"{name} ({min(tried):g})")
    parts = [f"the {side} swept for {', '.join(names)}" for side, names in sides.items() if names]
    if not parts:
        return ""
    return ("The best rate on validation is " + "; and ".join(parts) + ": a rate beyond the "
            "grid was not tried, so these rows may still be under-tuned.")


def rate_repeats(rates: pd.DataFrame, frame: pd.DataFrame) -> str:
    """One sentence on whether the rate sweep, at the study's own rate, repeats the study's
    rows: per model and dataset, how many of those rows carry the study's validation and
    test accuracies exactly, and otherwise the largest difference in test accuracy (a sweep
    whose cached dense model was gone trains it again, and another machine may give it other
    numbers; a study run again may choose another compressor than the one the sweep
    fine-tuned, and its small networks then take another size).

    Args:
        rates: The frame of :func:`load_rates`.
        frame: The study's rows (:func:`load_study`); ``None`` or empty without a study.
    """
    if rates.empty or frame is None or frame.empty:
        return ""
    keys = ["model", "dataset", "seed", "ratio", "kind", "examples", "steps", "method", "rate"]
    study = frame[frame["kind"].isin(TRAINED_KINDS)]
    paired = rates.merge(study[keys + ["val", "test"]], on=keys, suffixes=("", " study"))
    exact, differ = [], []
    for (model, dataset), part in paired.groupby(["model", "dataset"], sort=True):
        same = ((part["val"] == part["val study"]) & (part["test"] == part["test study"]))
        name = f"the {model_name(model)} on {dataset_name(dataset)}"
        if same.all():
            exact.append(f"{name}'s {len(part)} rows carry the study's numbers exactly")
        else:
            gap = 100 * (part["test"] - part["test study"]).abs().max()
            differ.append(f"{name}'s differ from the study's in {int((~same).sum())} of "
                          f"{len(part)} rows (by up to {gap:.2f} points of test accuracy)")
    if differ:  # the reason once, after every model it applies to
        differ[-1] += (": those were trained in another sitting, from that sitting's dense "
                       "model (trained again where the study's cached one was gone) and the "
                       "compressor the study's file then chose, so a sweep's rates are "
                       "compared with each other, not with the study's rows")
    parts = exact + differ
    if not parts:
        return ""
    return "At the study's own rate " + "; ".join(parts) + "."


def _sweep_rows(folder: str) -> pd.DataFrame:
    """Every row of the sweep files in ``folder``, each with its commit: its own where it
    carries one (a file extended at a later commit), else its file's."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        commit = stored["provenance"].get("commit", "")
        rows += [{"commit": commit, **row} for row in stored["rows"]]
    return pd.DataFrame(rows)


def calibration_figure(sweep: pd.DataFrame, frame: pd.DataFrame):
    """Test accuracy with no gradient step against the number of calibration images, one
    panel per model, dataset and ratio: each data-aware compressor, ``plain`` (no data)
    and the dense model (``frame``'s, same seeds) as lines. ``None`` without a sweep."""
    import matplotlib.pyplot as plt

    from svdnet.experiments.plots import legend_outside

    if sweep.empty:
        return None
    panels = sorted(set(zip(sweep["model"], sweep["dataset"], sweep["ratio"])))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8),
                                squeeze=False)
    for axis, (model, dataset, ratio) in zip(axes[0], panels):
        part = sweep[(sweep["model"] == model) & (sweep["dataset"] == dataset)
                     & (sweep["ratio"] == ratio)]
        dense = frame[(frame["kind"] == "dense") & (frame["model"] == model)
                      & (frame["dataset"] == dataset) & frame["seed"].isin(part["seed"])]
        if len(dense):
            axis.axhline(100 * dense["test"].mean(), color=COLOURS["dense"], linestyle="--",
                         label="dense")
        plain = part[part["method"] == "plain"]
        if len(plain):
            axis.axhline(100 * plain["test"].mean(), color=COLOURS["plain"], linestyle=":",
                         label="plain (no data)")
        for name in sorted(set(part["method"]) - {"plain"}, key=list(COMPRESSORS).index):
            means = (part[part["method"] == name].groupby("examples")["test"]
                     .agg(["mean", "std"]).reset_index())
            axis.errorbar(means["examples"], 100 * means["mean"],
                          yerr=100 * means["std"].fillna(0), marker="o",
                          color=COLOURS[name], label=name, capsize=3)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("calibration images")
        axis.set_ylabel("test accuracy (%)")
        axis.set_title(f"{model_name(model)} {dataset_name(dataset)}, {ratio:g}x "
                       f"({_seeds(part)})")
    legend_outside(figure, axes[0])
    return figure


def readable_calibration(sweep: pd.DataFrame) -> pd.DataFrame:
    """The calibration sweep for a reader: per model, dataset, ratio and compressor, the
    test accuracy at each number of calibration images (mean over seeds)."""
    if sweep.empty:
        return sweep
    table = sweep.assign(test=100 * sweep["test"]).pivot_table(
        index=["model", "dataset", "ratio", "method"], columns="examples", values="test",
        aggfunc="mean")
    table.columns = ["no data" if examples == 0 else f"{examples:,} images"
                     for examples in table.columns]
    table = table.map(lambda value: "" if pd.isna(value) else f"{value:.2f}%").reset_index()
    order = {name: index for index, name in enumerate(COMPRESSORS)}
    table = table.sort_values(["model", "dataset", "ratio", "method"],
                              key=lambda column: column.map(order) if column.name == "method"
                              else column).reset_index(drop=True)
    table["model"] = table["model"].map(model_name)
    table["dataset"] = table["dataset"].map(dataset_name)
    table["ratio"] = table["ratio"].map(_size)
    return table.rename(columns={"ratio": "size", "method": "compressor"})


def _size(ratio) -> str:
    return f"{ratio:g}x"


def readable_no_training(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`no_training_table` for a reader: accuracies in percent, the drop in signed
    points, seconds to one decimal."""
    return pd.DataFrame({
        "model": table["model"].map(model_name), "dataset": table["dataset"].map(dataset_name),
        "budget": table["ratio"].map(_size),
        "compression": table["compression"].map(lambda value: f"{value:.1f}x"),
        "compressor": table["method"], "seeds": table["seeds"],
        "validation": table["val"].map(lambda value: f"{100 * value:.2f}%"),
        "test": [accuracy_text(mean, std) for mean, std in zip(table["test"],
                                                               table["test_std"])],
        "test - dense": table["drop"].map(lambda value: f"{value:+.2f}"),
        "seconds": table["seconds"].map(lambda value: f"{value:.1f}")})


def readable_trained(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`trained_table` for a reader: each accuracy with its drop from dense, each
    verdict with its adjusted p-value."""
    if table.empty:
        return table
    out = pd.DataFrame({
        "model": table["model"].map(model_name), "dataset": table["dataset"].map(dataset_name),
        "size": table["ratio"].map(_size),
        "images N": table["examples"].map(lambda value: f"{value:,}"),
        "steps S": table["steps"].map(lambda value: f"{value:,}")})
    for kind in TRAINED_KINDS:
        out[kind] = [f"{text} ({drop:+.2f})" for text, drop
                     in zip(table[kind], table[f"{kind} drop (pp)"])]
    for baseline in BASELINES:
        out[f"fine-tuned against {baseline}"] = [
            f"{verdict} (p = {p:.3f})" if pd.notna(p) else verdict for verdict, p
            in zip(table[f"against {baseline}"], table[f"adjusted p ({baseline})"])]
    return out


def readable_tests(tests: pd.DataFrame) -> pd.DataFrame:
    """:func:`page_tests` for a reader: one row per comparison, means in percent, the
    difference in points, both p-values and the verdict."""
    if tests.empty:
        return tests
    return pd.DataFrame({
        "question": tests["question"], "model": tests["model"].map(model_name),
        "dataset": tests["dataset"].map(dataset_name), "size": tests["ratio"].map(_size),
        "images N": tests["examples"].map(lambda value: f"{value:,}"),
        "steps S": tests["steps"].map(lambda value: f"{value:,}"),
        "first": [f"{label} {100 * mean:.2f}%" for label, mean
                  in zip(tests["first label"], tests["first mean"])],
        "second": [f"{label} {100 * mean:.2f}%" for label, mean
                   in zip(tests["second label"], tests["second mean"])],
        "difference (points)": tests["difference (pp)"].map(lambda value: f"{value:+.2f}"),
        "seeds": tests["first seeds"],
        "p": tests["p"].map(lambda value: f"{value:.3f}"),
        "adjusted p": tests["adjusted p"].map(lambda value: f"{value:.3f}"),
        "verdict": tests["verdict"]})
