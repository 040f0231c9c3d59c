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
