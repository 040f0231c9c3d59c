"""Seaborn figures of training runs and singular value spectra."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from svdnet.svd import energy_curve


def history_frame(histories: dict[str, dict]) -> pd.DataFrame:
    """Returns per-epoch metrics of several runs in long form.

    Args:
        histories: Run label to ``History.history`` dict.

    Returns:
        Columns ``run``, ``epoch`` (1-based), ``metric`` and ``value``.
    """
    rows = []
    for label, history in histories.items():
        for metric, values in history.items():
            for epoch, value in enumerate(values, start=1):
                rows.append({"run": label, "epoch": epoch, "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=["run", "epoch", "metric", "value"])


def learning_curves(histories: dict[str, dict], metrics=("loss", "accuracy", "test_accuracy")):
    """Plots the given metrics per epoch, one panel per metric, one line per run.

    Args:
        histories: Run label to ``History.history`` dict.
        metrics: Metrics to show, where present. Defaults to training loss, training
            accuracy and test accuracy (after each epoch's projection).

    Returns:
        The seaborn ``FacetGrid``.
    """
    frame = history_frame(histories)
    frame = frame[frame["metric"].isin(metrics)]
    grid = sns.relplot(
        data=frame, x="epoch", y="value", hue="run", col="metric", kind="line",
        marker="o", facet_kws={"sharey": False}, height=3.2, aspect=1.1,
    )
    grid.set_titles("{col_name}")
    return grid


def spectra_frame(spectra: dict[str, dict[str, np.ndarray]], floor: float = 1e-6) -> pd.DataFrame:
    """Returns singular values in long form, dropping numerically zero ones.

    Args:
        spectra: Series label (for example ``"before"``) to layer name to singular values.
        floor: Values below ``floor`` times the layer's largest value are dropped (they
            are rounding noise of a truncated kernel). Defaults to 1e-6.

    Returns:
        Columns ``series``, ``layer``, ``index`` (1-based) and ``singular value``.
    """
    rows = []
    for series, layers in spectra.items():
        for layer, values in (layers or {}).items():
            values = np.asarray(values, dtype=float)
            if values.size == 0:
                continue
            keep = values > floor * values.max()
            for index in np.flatnonzero(keep):
                rows.append({"series": series, "layer": layer, "index": int(index) + 1,
                             "singular value": float(values[index])})
    return pd.DataFrame(rows, columns=["series", "layer", "index", "singular value"])


def spectrum_plot(spectra: dict[str, dict[str, np.ndarray]], rank: int | None = None):
    """Plots each layer's singular values against their index (log-log), one panel per layer.

    Args:
        spectra: Series label to layer name to singular values, for example
            ``{"before truncation": ..., "after truncation": ...}``.
        rank: Draw a vertical line at this rank. Defaults to ``None``.

    Returns:
        The seaborn ``FacetGrid``.
    """
    grid = sns.relplot(
        data=spectra_frame(spectra), x="index", y="singular value", hue="series",
        col="layer", col_wrap=3, kind="line", height=2.8, aspect=1.2,
        facet_kws={"sharey": False, "sharex": False},
    )
    # Log-log: the k kept values sit in the first decade, where a linear index axis of
    # 1,000 values would hide them under the curve before truncation.
    grid.set(xscale="log", yscale="log")
    grid.set_titles("{col_name}")
    if rank is not None:
        for axis in grid.axes.flat:
            axis.axvline(rank, color="grey", linestyle="--", linewidth=1)
    return grid


def energy_plot(spectra: dict[str, np.ndarray], rank: int | None = None):
    """Plots, per layer, the fraction of spectral energy kept against the rank.

    Args:
        spectra: Layer name to singular values.
        rank: Draw a vertical line at this rank. Defaults to ``None``.

    Returns:
        The matplotlib ``Axes``.
    """
    rows = [
        {"layer": layer, "rank": k, "energy kept": value}
        for layer, values in spectra.items()
        for k, value in enumerate(energy_curve(values), start=1)
    ]
    _, axis = plt.subplots(figsize=(6.5, 3.8))
    sns.lineplot(data=pd.DataFrame(rows), x="rank", y="energy kept", hue="layer", ax=axis)
    axis.set_xscale("log")
    if rank is not None:
        axis.axvline(rank, color="grey", linestyle="--", linewidth=1)
    return axis


METHOD_ORDER = ("projection", "posthoc", "finetune", "lowrank", "small")
"""The order, and so the colours, of methods in the figures."""


def method_order(methods) -> list[str]:
    """The method labels present, those of :data:`METHOD_ORDER` first, then their
    variants (``"lowrank+kd"``) alphabetically."""
    present = set(methods)
    return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))


def frontier_plot(table: pd.DataFrame, published=(), below: float = 0.15):
    """Test accuracy against parameter count (log axis), one panel per dataset: every
    method and rank choice, the plain small network, the dense baseline, the Pareto front,
    and published results marked as such. Methods with options (``"lowrank+kd"``) are
    drawn hollow, in a shade of their method's colour (:func:`method_colours`).

    Args:
        table: The table of :func:`svdnet.experiments.report.frontier_table`.
        published: :class:`svdnet.experiments.literature.Published` results, drawn on
            the panel of their dataset in black, each with its own marker and named in
            the legend as published. Defaults to none.
        below: Accuracies more than this (a fraction) below dense are left off the
            panel, and their number is given in its title. Defaults to 0.15.

    Returns:
        The matplotlib ``Figure``.
    """
    from svdnet.experiments.formatting import dataset_name

    datasets = list(dict.fromkeys(table["dataset"]))
    methods = method_order(table.loc[table["method"] != "dense", "method"])
    colours, hollow = method_colours(methods), {m for m in methods if "+" in m}
    figure, axes = plt.subplots(1, max(1, len(datasets)),
                                figsize=(6.6 * max(1, len(datasets)), 4.6), squeeze=False)
    markers = {"rank": "o", "budget": "^", "energy": "s"}
    for axis, dataset in zip(axes[0], datasets):
        part = table[table["dataset"] == dataset]
        dense = part[part["method"] == "dense"]
        top = dense["mean"].iloc[0] if len(dense) else part["mean"].max()
        shown = part[part["mean"] >= top - below]
        for method in [m for m in methods if m in set(shown["method"])]:
            for choice, marker in markers.items():
                rows = shown[(shown["method"] == method) & (shown["choice"] == choice)]
                if len(rows):
                    axis.errorbar(rows["parameters"], rows["mean"], yerr=rows["std"].fillna(0),
                                  fmt=marker, color=colours[method], markersize=6, alpha=0.85,
                                  elinewidth=0.8, capsize=0,
                                  markerfacecolor="none" if method in hollow else colours[method],
                                  label=f"{method} ({choice})" if choice != "rank" else method)
        front = shown[shown["pareto"]].sort_values("parameters")
        axis.plot(front["parameters"], front["mean"], color="black", linewidth=1,
                  label="Pareto front (our runs)", zorder=1)
        if len(dense):
            axis.axhline(top, color="grey", linestyle="--", linewidth=1, label="dense")
        for point, marker in zip((p for p in published if p.dataset == dataset), "*PXD"):
            axis.scatter(point.parameters, point.accuracy, marker=marker, s=110, color="black",
                         zorder=4, label=f"published: {point.label}")
        axis.set_xscale("log")
        axis.set_ylim(top - below, min(1.0, top + 0.02))
        axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        hidden = int((part["mean"] < top - below).sum())
        axis.set_title(dataset_name(dataset)
                       + (f" ({hidden} configurations below {100 * (top - below):.0f}% not shown)"
                          if hidden else ""), fontsize=10)
        axis.set_xlabel("parameters of the exported model (log scale)")
        axis.set_ylabel("test accuracy, mean over seeds")
        axis.grid(True, which="major", alpha=0.3)
    entries = {}
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    legend_inches = 0.16 * -(-len(entries) // 4) + 0.2  # four columns of 8-point text
    figure.set_figheight(4.6 + legend_inches)
    figure.legend(list(entries.values()), list(entries.keys()), loc="lower center", ncol=4,
                  fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, legend_inches / figure.get_figheight(), 1, 1))
    return figure


def method_colours(methods) -> dict:
    """A colour per method label: the methods of :data:`METHOD_ORDER` always get the
    same colour-blind-safe colours (``small`` pink), and a method with options
    (``"lowrank+kd"``) a darker or lighter shade of its method's colour."""
    base = dict(zip(METHOD_ORDER, sns.color_palette("colorblind", len(METHOD_ORDER))))
    shades = ("dark", "muted", "pastel", "deep")
    colours, seen = {}, {}
    for method in methods:
        root = method.split("+")[0]
        index = METHOD_ORDER.index(root) if root in METHOD_ORDER else len(METHOD_ORDER)
        if method == root and root in base:
            colours[method] = base[root]
            continue
        count = seen.get(root, 0)
        seen[root] = count + 1
        colours[method] = sns.color_palette(shades[count % len(shades)], 10)[
            (index + 3 * (count // len(shades))) % 10]
    return colours
