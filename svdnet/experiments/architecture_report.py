"""Tables, figures and generated sentences of the CNN's and vision transformer's runs
of the grid (:mod:`svdnet.experiments.grid` with ``--architectures cnn,vit``)."""

from __future__ import annotations

import glob
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from svdnet.experiments.architectures import build_architecture
from svdnet.experiments.config import METHODS, full_config
from svdnet.experiments.formatting import (
    accuracy_text,
    compression_text,
    dataset_name,
    model_name,
    points,
)
from svdnet.experiments.plots import legend_outside, method_colours, method_order
from svdnet.experiments.report import load_results, significance, statistics_note
from svdnet.experiments.results import CorruptResultError, read_result
from svdnet.layers import kernel_layer_map

ARCHITECTURES = ("cnn", "vit")
"""The models of this page; the MLP's runs are the report's."""


def model_title(architecture: str, dataset: str) -> str:
    """``("cnn", "fashion_mnist")`` -> ``"CNN on Fashion-MNIST"``: one panel, table block
    and paragraph of the page."""
    return f"{model_name(architecture)} on {dataset_name(dataset)}"


def load_architecture_results(results_dir: str) -> pd.DataFrame:
    """One row per CNN or ViT run of the grid's ``results_dir`` (empty when there is
    none), read by :func:`svdnet.experiments.report.load_results`: the same result files,
    check and "finished" rule as the MLP's runs.

    Returns:
        The frame of ``load_results`` with ``parameters`` the exported model's count,
        ``dense parameters`` the dense model's and ``model`` the
        :func:`model_title` of the run's architecture and dataset.

    Raises:
        CorruptResultError: naming a file that
            :func:`svdnet.experiments.results.result_row` cannot read.
    """
    frame = load_results(results_dir, architectures=ARCHITECTURES)[0]
    frame = frame.rename(columns={"parameters": "dense parameters",  # one label at a time
                                  "factorized parameters": "parameters"})
    frame["model"] = [model_title(a, d) for a, d in zip(frame["architecture"], frame["dataset"])]
    return frame


def architecture_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model, method and rank: accuracy (mean ± std over seeds), parameters, how many
    times fewer parameters and MACs per example than dense, and how many times faster
    inference ran (the median over seeds of the dense model's time over the compressed
    one's, each the best of 5 timed in turns on the same machine)."""
    rows = []
    if frame.empty:
        return pd.DataFrame()
    for (model, method, rank), part in frame.groupby(
            ["model", "method", frame["rank"].fillna(0)], sort=False):
        rows.append({
            "model": model, "method": method,
            "rank": "" if method == "dense" else f"{int(rank)}", "seeds": len(part),
            "mean": part["test accuracy"].mean(), "std": part["test accuracy"].std(),
            "parameters": int(part["parameters"].iloc[0]),
            "fewer parameters": part["dense parameters"].iloc[0] / part["parameters"].iloc[0],
            "fewer MACs": part["dense macs"].iloc[0] / part["macs"].iloc[0],
            "inference speed-up": float(np.median(part["dense inference s"]
                                                  / part["inference s"])),
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = {m: i for i, m in enumerate(method_order(table["method"]))}
    table["order"] = table["method"].map(order)
    return table.sort_values(["model", "parameters", "order"], ascending=[True, False, True]) \
        .drop(columns="order").reset_index(drop=True)


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`architecture_table` with its numbers as text, for the page."""
    return pd.DataFrame({
        "model": table["model"], "method": table["method"], "rank": table["rank"],
        "test accuracy": [accuracy_text(m, s) for m, s in zip(table["mean"], table["std"])],
        "seeds": table["seeds"], "parameters": table["parameters"].map("{:,}".format),
        "fewer parameters": table["fewer parameters"].map(compression_text),
        "fewer MACs": table["fewer MACs"].map(compression_text),
        "inference speed-up": table["inference speed-up"].map(lambda v: f"{v:.2f}x"),
    })


def layer_costs_table(results_dir: str, architecture: str, dataset: str, method: str,
                      rank: int, seed: int = 0) -> pd.DataFrame:
    """Per kernel layer of one run: parameters and MACs per example, dense and
    compressed, and the rank kept (from the run's result file, found by the config it
    holds, not by its name; of several, the first by file name)."""
    wanted = {"architecture": architecture, "dataset": dataset, "method": method,
              "rank": rank, "seed": seed}
    matches = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        try:
            payload = read_result(path)
        except CorruptResultError:
            continue  # not a readable result: load_architecture_results names it
        config = full_config(payload["config"])
        if {key: config.get(key) for key in wanted} == wanted and "dense_layers" in payload:
            matches[path] = payload
    if not matches:
        return pd.DataFrame()
    payload = matches[min(matches)]
    # result files store keys sorted; the table follows the model's own layer order
    order = list(kernel_layer_map(build_architecture(architecture)))
    keys = sorted(payload["dense_layers"],
                  key=lambda key: order.index(key) if key in order else len(order))
    rows = []
    for key in keys:
        dense = payload["dense_layers"][key]
        low = payload["layers"].get(key) or payload["layers"].get(key.split("/")[-1], {})
        rows.append({"layer": key, "type": dense["type"],
                     "compressed as": low.get("type", dense["type"]),
                     "rank": low.get("rank") or "full",
                     "parameters": f"{dense['parameters']:,}",
                     "compressed parameters": f"{low.get('parameters', dense['parameters']):,}",
                     "MACs": f"{dense['macs']:,}",
                     "compressed MACs": f"{low.get('macs', dense['macs']):,}"})
    return pd.DataFrame(rows)


def accuracy_figure(table: pd.DataFrame):
    """Test accuracy against parameters (log axis), one panel per model: each method at
    each rank with its seeds' spread, the dense model as a dashed line."""
    models = list(dict.fromkeys(table["model"]))
    figure, axes = plt.subplots(1, max(1, len(models)), figsize=(6.4 * max(1, len(models)), 4.2),
                                squeeze=False)
    methods = method_order(table.loc[table["method"] != "dense", "method"])
    colours = method_colours(methods)
    for axis, model in zip(axes[0], models):
        part = table[table["model"] == model]
        dense = part[part["method"] == "dense"]
        for method in methods:
            rows = part[part["method"] == method].sort_values("parameters")
            axis.errorbar(rows["parameters"], rows["mean"], yerr=rows["std"].fillna(0),
                          fmt="o-", color=colours[method], label=method, capsize=0,
                          linewidth=1, markersize=6)
        if len(dense):
            axis.axhline(dense["mean"].iloc[0], color="grey", linestyle="--", linewidth=1,
                         label="dense")
        axis.set_xscale("log")
        axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        axis.set_title(model, fontsize=10)
        axis.set_xlabel("parameters of the exported model (log scale)")
        axis.set_ylabel("test accuracy, mean over seeds")
        axis.grid(True, alpha=0.3)
    legend_outside(figure, axes[0])
    return figure


def architecture_comparisons(frame: pd.DataFrame) -> pd.DataFrame:
    """Every compressed method at each rank against ``small`` sized like it, per model,
    tested together by :func:`svdnet.experiments.report.significance` (Welch's t-test over
    seeds, Benjamini-Hochberg over all the comparisons of the page).

    Args:
        frame: The frame of :func:`load_architecture_results`.

    Returns:
        One row per comparison: ``architecture``, ``model``, ``method``, ``rank``,
        ``epochs``, ``first`` and ``second`` (the accuracies over seeds of the method and
        of ``small``), and the columns ``significance`` adds.
    """
    rows = []
    if frame.empty:
        return significance(pd.DataFrame(columns=["architecture", "model", "method", "rank",
                                                  "epochs", "first", "second"]))
    for (architecture, model, rank), part in frame[frame["rank"].notna()].groupby(
            ["architecture", "model", "rank"], sort=False):
        small = part[part["method"] == "small"]
        if small.empty:
            continue
        for method, runs in part[part["method"] != "small"].groupby("method", sort=False):
            rows.append({"architecture": architecture, "model": model, "method": method,
                         "rank": f"{int(rank)}",
                         "epochs": ", ".join(str(e) for e in sorted(runs["epochs"].unique())),
                         "first": runs.sort_values("seed")["test accuracy"].to_numpy(),
                         "second": small.sort_values("seed")["test accuracy"].to_numpy()})
    columns = ["architecture", "model", "method", "rank", "epochs", "first", "second"]
    return significance(pd.DataFrame(rows, columns=columns))


VERDICT_PHRASES = {"better": "better", "worse": "worse",
                   "no significant difference": "not significantly different",
                   "not tested": "not tested"}
"""A verdict of :func:`svdnet.experiments.report.significance` as a predicate."""


def architecture_findings(frame: pd.DataFrame) -> list[str]:
    """One paragraph per model: the dense accuracy and training budget; at each rank every
    compressed method against ``small`` of the same size (the verdicts of
    :func:`architecture_comparisons`), with the inference speed-up and the fewer MACs of
    the compressed models and of ``small``.

    Args:
        frame: The frame of :func:`load_architecture_results`.
    """
    table = architecture_table(frame)
    tests = architecture_comparisons(frame)
    sentences = []
    if table.empty:
        return sentences
    for model, part in table.groupby("model", sort=False):
        dense = part[part["method"] == "dense"]
        if dense.empty:
            continue
        top = dense.iloc[0]
        runs = frame[frame["model"] == model]
        epochs = sorted(runs["epochs"].unique())
        text = (f"{model}: dense {accuracy_text(top['mean'], top['std'])} with "
                f"{top['parameters']:,} parameters, every model trained for "
                f"{_join_numbers(epochs)} epoch{'s' if epochs != [1] else ''}, so these "
                "verdicts hold for that short budget only.")
        for rank, group in part[part["method"] != "dense"].groupby("rank", sort=False):
            small = group[group["method"] == "small"]
            compressed = group[group["method"] != "small"].sort_values("mean", ascending=False)
            if compressed.empty:
                continue
            at_rank = tests[(tests["model"] == model) & (tests["rank"] == rank)]
            text += (f" At rank {rank} ({compression_text(compressed['fewer parameters'].iloc[0])}"
                     f" fewer parameters, {compression_text(compressed['fewer MACs'].iloc[0])} "
                     "fewer MACs): " + ", ".join(
                         f"`{row['method']}` {accuracy_text(row['mean'], row['std'])} "
                         f"({points(row['mean'] - top['mean'])} against dense, inference "
                         f"{row['inference speed-up']:.2f}x as fast)"
                         for _, row in compressed.iterrows()) + ".")
            if len(small) and len(at_rank):
                small = small.iloc[0]
                verdicts = at_rank.groupby("verdict")["method"].agg(list)
                cheaper = []
                if small["inference speed-up"] > compressed["inference speed-up"].max():
                    cheaper.append("faster")
                if small["fewer MACs"] > compressed["fewer MACs"].max():
                    cheaper.append("needs fewer MACs")
                text += (f" `small` ({small['parameters']:,} parameters, "
                         f"{compression_text(small['fewer MACs'])} fewer MACs, inference "
                         f"{small['inference speed-up']:.2f}x as fast"
                         + (f": {' and '.join(cheaper)} than every compressed model here"
                            if cheaper else "")
                         + f") reaches {accuracy_text(small['mean'], small['std'])}; against "
                         "it, " + "; ".join(f"{', '.join(f'`{m}`' for m in methods)} "
                                            f"{'is' if len(methods) == 1 else 'are'} "
                                            f"{VERDICT_PHRASES[verdict]}"
                                            for verdict, methods in verdicts.items()) + ".")
        sentences.append(text)
    if len(tests):
        sentences.append(f"The verdicts: {statistics_note(tests, scope='this page makes')}.")
    return sentences


def missing_runs(frame: pd.DataFrame) -> list[str]:
    """One sentence per model whose grid is not complete: the methods and ranks with seeds
    that have no result, so that a reader knows which rows rest on fewer seeds or are
    absent. A model's grid is every method (:data:`svdnet.experiments.config.METHODS`, and
    any other label of the page's runs) at every rank and seed of its own runs (``dense`` at none; with no rank yet, each method once per seed).

    Args:
        frame: The frame of :func:`load_architecture_results`.

    Returns:
        ``"ViT on MNIST: 12 of 33 runs have no result yet: projection at ranks 3 and 6
        (seeds 0-2), ..."``, or ``"ViT: no run has a result yet."`` for a model of
        :data:`ARCHITECTURES` with none; nothing when every grid is complete.
    """
    ran = set(frame["architecture"]) if len(frame) else set()
    sentences = [f"{model_name(architecture)}: no run has a result yet."
                 for architecture in ARCHITECTURES if architecture not in ran]
    if frame.empty:
        return sentences
    methods = method_order(set(METHODS) | set(frame["method"]))
    for model, part in frame.groupby("model", sort=False):
        seeds = sorted(part["seed"].unique())
        ranks = sorted(int(rank) for rank in part["rank"].dropna().unique())
        have = {(m, None if pd.isna(r) else int(r), s)
                for m, r, s in zip(part["method"], part["rank"], part["seed"])}
        missing = {}
        for method in methods:
            # a model with no compressed run yet lacks the other methods at every rank
            for rank in [None] if method == "dense" or not ranks else ranks:
                lost = [seed for seed in seeds if (method, rank, seed) not in have]
                if lost:
                    missing.setdefault((method, tuple(lost)), []).append(rank)
        if not missing:
            continue
        planned = len(seeds) * (max(1, len(ranks)) * sum(m != "dense" for m in methods)
                                + ("dense" in methods))
        count = sum(len(lost) * len(at) for (_, lost), at in missing.items())
        sentences.append(
            f"{model}: {count} of {planned} runs have no result yet: " + "; ".join(
                f"`{method}`" + ("" if at == [None] else
                                 f" at rank{'s' if len(at) > 1 else ''} "
                                 f"{_join_numbers(at).replace(' or ', ' and ')}")
                + f" (seed{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))})"
                for (method, lost), at in missing.items())
            + ". Their rows are absent or rest on fewer seeds.")
    return sentences


def _join_numbers(values) -> str:
    values = [str(value) for value in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
