"""Seaborn figures of training runs and singular value spectra."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from svdnet.experiments.literature import MNIST_NOTE
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


SHORT_SPECTRUM = 50
"""Spectra of at most this many values are drawn with a marker at each value."""


def spectrum_plot(spectra: dict[str, dict[str, np.ndarray]], rank: int | None = None):
    """Plots each layer's singular values against their index (log-log), one panel per layer.

    Args:
        spectra: Series label to layer name to singular values, for example
            ``{"before truncation": ..., "after truncation": ...}``.
        rank: Draw a vertical line at this rank. Defaults to ``None``.

    Returns:
        The seaborn ``FacetGrid``.
    """
    frame = spectra_frame(spectra)
    # A short spectrum (a rank-1 lowrank model has one value per layer) is a line of one
    # point, which draws nothing: mark its points.
    short = frame.groupby(["series", "layer"]).size().max() <= SHORT_SPECTRUM
    grid = sns.relplot(
        data=frame, x="index", y="singular value", hue="series",
        col="layer", col_wrap=3, kind="line", height=2.8, aspect=1.2,
        facet_kws={"sharey": False, "sharex": False}, **({"marker": "o"} if short else {}),
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
"""The order of the core methods in the figures."""

_COLOURBLIND = sns.color_palette("colorblind", 10).as_hex()
_MORE = sns.color_palette("tab20", 20).as_hex()

PALETTE = {
    "dense": "#7f7f7f",
    "projection": _COLOURBLIND[0], "posthoc": _COLOURBLIND[1], "finetune": _COLOURBLIND[2],
    "lowrank": _COLOURBLIND[3], "small": _COLOURBLIND[4],
    "projection+anneal": _MORE[1], "finetune+accuracy": _MORE[5],
    "finetune+cosine": _MORE[4], "finetune+denseout+kd": _MORE[16],
    "lowrank+denseout": _MORE[7], "lowrank+denseout+kd": _MORE[10], "lowrank+fd": _MORE[11],
    "lowrank+30ep": _MORE[6], "small+denseout": _MORE[18], "small+denseout+kd": "#1b9e77",
    "small+30ep": _MORE[8],
}
"""The one colour of each method label in every figure of the reports: the core methods
colour-blind-safe (``small`` pink), the methods with options of the grid each a colour of
its own. A label not listed gets :func:`colour`'s fallback."""


def colour(method: str) -> str:
    """The colour of a method label: :data:`PALETTE`'s, or for a label it does not list a
    colour of seaborn's ``husl`` palette fixed by the label's characters (the same in every
    figure and every build)."""
    if method in PALETTE:
        return PALETTE[method]
    index = sum(ord(character) for character in method) % 24
    return sns.color_palette("husl", 24).as_hex()[index]


def method_colours(methods) -> dict:
    """:func:`colour` of each method label, as a dict (a seaborn ``palette``)."""
    return {method: colour(method) for method in methods}


def method_order(methods) -> list[str]:
    """The method labels present, those of :data:`METHOD_ORDER` first, then their
    variants (``"lowrank+kd"``) alphabetically."""
    present = set(methods)
    return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))


def legend_outside(figure, axes, columns: int = 1):
    """One legend for all panels of ``figure``, to the right of them (never over the
    data): each label once, the panels' own legends removed.

    Args:
        figure: The matplotlib ``Figure``.
        axes: Its panels (any iterable of ``Axes``).
        columns: Legend columns. Defaults to 1.

    Returns:
        The ``Legend``.
    """
    entries = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
        if axis.get_legend() is not None:
            axis.get_legend().remove()
    legend = figure.legend(list(entries.values()), list(entries.keys()), loc="center left",
                           bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False, ncol=columns)
    figure.tight_layout()
    return legend


def size_label(published=()) -> str:
    """The size axis' label: our runs count the parameters of the exported model; the
    published points, what their :attr:`~svdnet.experiments.literature.Published.counts`
    says, named on a second line (short enough for a panel) when some count something
    else.

    Args:
        published: The :class:`svdnet.experiments.literature.Published` points drawn on
            the axis. Defaults to none.
    """
    other = sorted({point.counts for point in published} - {"parameters"})
    return ("parameters of the exported model, log scale"
            + (f"\n(published points: {' or '.join(['parameters', *other])})"
               if other else ""))


def is_core(method: str) -> bool:
    """Whether a method label is a core method of :data:`METHOD_ORDER` (no options)."""
    return method in METHOD_ORDER


def options_or_small(method: str) -> bool:
    """Whether a method label is a method with options, or ``small`` (drawn beside them as
    the bar to clear): the options figure's choice for :func:`frontier_plot`."""
    return (not is_core(method) and method != "dense") or method == "small"


def frontier_plot(table: pd.DataFrame, published=(), below: float = 0.15,
                  methods=is_core, title: str = ""):
    """Test accuracy against parameter count (log axis), one panel per dataset: the chosen
    method labels at every rank choice, the dense baseline, the Pareto front of all the
    table's runs of the main budget, and published results marked as such, with what
    their size counts (their ``counts``, in the legend and the axis label) and, on
    MNIST, :data:`~svdnet.experiments.literature.MNIST_NOTE` in the legend. Every method
    has its :func:`colour`; the legend is outside the panels.

    Args:
        table: The table of :func:`svdnet.experiments.report.frontier_table`.
        published: :class:`svdnet.experiments.literature.Published` results, drawn on
            the panel of their dataset in black, each with its own marker and named in
            the legend as published. Defaults to none.
        below: Accuracies more than this (a fraction) below dense are left off the
            panel, and their number is given in its title. Defaults to 0.15.
        methods: Which method labels to draw: a predicate on the label. Defaults to
            :func:`is_core` (the core methods, ``small`` among them).
        title: The figure's title. Defaults to none.

    Returns:
        The matplotlib ``Figure``.
    """
    from svdnet.experiments.formatting import dataset_name

    datasets = list(dict.fromkeys(table["dataset"]))
    drawn = method_order(m for m in table["method"] if m != "dense" and methods(m))
    figure, axes = plt.subplots(1, max(1, len(datasets)),
                                figsize=(5.6 * max(1, len(datasets)), 4.4), squeeze=False)
    markers = {"rank": "o", "budget": "^", "energy": "s"}
    for axis, dataset in zip(axes[0], datasets):
        part = table[table["dataset"] == dataset]
        dense = part[part["method"] == "dense"]
        top = dense["mean"].iloc[0] if len(dense) else part["mean"].max()
        shown = part[(part["mean"] >= top - below) & part["method"].isin(drawn)]
        for method in [m for m in drawn if m in set(shown["method"])]:
            for choice, marker in markers.items():
                rows = shown[(shown["method"] == method) & (shown["choice"] == choice)]
                if len(rows):
                    axis.errorbar(rows["parameters"], rows["mean"], yerr=rows["std"].fillna(0),
                                  fmt=marker, color=colour(method), markersize=6, alpha=0.85,
                                  elinewidth=0.8, capsize=0,
                                  label=f"{method} ({choice})" if choice != "rank" else method)
        front = part[part["pareto"] & (part["mean"] >= top - below)].sort_values("parameters")
        axis.plot(front["parameters"], front["mean"], color="black", linewidth=1,
                  label="Pareto front (all our runs)", zorder=1)
        if len(dense):
            axis.axhline(top, color="grey", linestyle="--", linewidth=1, label="dense")
        points = [p for p in published if p.dataset == dataset]
        for point, marker in zip(points, "*PXD"):
            axis.scatter(point.parameters, point.accuracy, marker=marker, s=110, color="black",
                         zorder=4, label=f"published: {point.label} ({point.counts})")
        if points and dataset == "mnist":
            # in the legend, outside the panel: never over the data
            axis.plot([], [], linestyle="none", label="\n".join(_wrap(MNIST_NOTE, 60)))
        axis.set_xscale("log")
        axis.set_ylim(top - below, min(1.0, top + 0.02))
        axis.yaxis.set_major_formatter(lambda value, _: f"{100 * value:.0f}%")
        hidden = int(((part["mean"] < top - below) & part["method"].isin(drawn)).sum())
        axis.set_title(dataset_name(dataset)
                       + (f" ({hidden} configuration{'s' if hidden > 1 else ''} below "
                          f"{100 * (top - below):.0f}% not shown)"
                          if hidden else ""), fontsize=10)
        axis.set_xlabel(size_label(points))
        axis.set_ylabel("test accuracy, mean over seeds")
        axis.grid(True, which="major", alpha=0.3)
    if title:
        figure.suptitle(title, fontsize=11)
    legend_outside(figure, axes[0])
    return figure


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)
