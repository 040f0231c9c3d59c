"""How the report writes numbers for readers: accuracies in percent, sizes, compact ranks,
dataset and method names, the long table of every result, and tables as HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd

DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
"""Readable dataset names; any other dataset is shown as named."""


def dataset_order(datasets) -> list[str]:
    """``datasets`` without repeats, those of :data:`DATASET_NAMES` first in its order,
    then the others alphabetically."""
    order = list(DATASET_NAMES)
    return sorted(set(datasets), key=lambda name: (
        order.index(name) if name in order else len(order), name))


MODEL_NAMES = {"mlp": "MLP", "cnn": "CNN", "vit": "ViT"}
"""Readable model names; any other model is shown in capitals."""


def model_name(model: str) -> str:
    """``"vit"`` -> ``"ViT"``; unknown names in capitals."""
    return MODEL_NAMES.get(model, model.upper())


def dataset_name(dataset: str) -> str:
    """``"fashion_mnist"`` -> ``"Fashion-MNIST"``; unknown names are returned as given."""
    return DATASET_NAMES.get(dataset, dataset)


def percent(value: float, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.97734`` -> ``"97.73%"``; ``NaN`` -> ``""``."""
    return "" if pd.isna(value) else f"{100 * value:.{digits}f}%"


def accuracy_text(mean: float, std: float = np.nan, digits: int = 2) -> str:
    """Mean accuracy over seeds with its standard deviation, in percent:
    ``"97.74 ± 0.09%"``, or ``"97.74%"`` when there is one seed (``std`` is ``NaN``)."""
    if pd.isna(mean):
        return ""
    if pd.isna(std):
        return percent(mean, digits)
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f}%"


def points(difference: float) -> str:
    """A difference of two accuracies (fractions) in signed percentage points:
    ``-0.0028`` -> ``"-0.28 points"``."""
    return f"{100 * difference:+.2f} points"


def compression_text(ratio: float) -> str:
    """``23.27`` -> ``"23.3x"``; ``NaN`` -> ``""``."""
    return "" if pd.isna(ratio) else f"{ratio:.1f}x"


def mean_range_text(mean: float, low: float, high: float, fmt: str = "{:,.0f}",
                    suffix: str = "") -> str:
    """A mean over seeds with its range when the seeds differ: ``"53.2x (51.4-56.1x)"``,
    or the value alone (``"43.4x"``) when they agree at this precision.

    Args:
        mean, low, high: The mean, minimum and maximum over seeds.
        fmt: The format of each number. Defaults to ``"{:,.0f}"``.
        suffix: Written after each number (``"x"``). Defaults to none.
    """
    text = fmt.format(mean) + suffix
    if fmt.format(low) == fmt.format(high):
        return text
    return f"{text} ({fmt.format(low)}{suffix}-{fmt.format(high)}{suffix})"


def size_text(choice: str, value: float) -> str:
    """How a run chose its size: ``("rank", 20)`` -> ``"rank 20"``, ``("budget", 1e5)`` ->
    ``"budget 100,000"``, ``("energy", 0.5)`` -> ``"energy 50%"``, dense -> ``"dense"``."""
    if choice == "rank":
        return f"rank {value:g}"
    if choice == "budget":
        return f"budget {value:,.0f}"
    if choice == "energy":
        return f"energy {value:.0%}"
    return choice


def ranks_text(chosen_ranks, width: float = np.nan) -> str:
    """The ranks of a factorized model, hidden layers first, then the output layer:
    ``{"hidden_1": 10, ..., "output": None}`` -> ``"10-10-10-10-10 / out dense"``. A plain
    narrowed network (``width`` given) reads ``"width 87"``; no ranks read ``""``.

    Args:
        chosen_ranks: Layer name to rank (``None``: the layer stays dense), as in a
            result's ``chosen_ranks``; the layer named ``"output"`` is shown last.
        width: The hidden width of a ``small`` network. Defaults to ``NaN``.
    """
    if not pd.isna(width):
        return f"width {int(width)}"
    if not isinstance(chosen_ranks, dict) or not chosen_ranks:
        return ""

    def one(rank):
        return "dense" if rank is None else str(int(rank))

    hidden = [one(rank) for name, rank in chosen_ranks.items() if name != "output"]
    text = "-".join(hidden)
    if "output" in chosen_ranks:
        text += f" / out {one(chosen_ranks['output'])}"
    return text


def readable_results(frame: pd.DataFrame) -> pd.DataFrame:
    """Every result of :func:`svdnet.experiments.report.load_results` with readable
    columns, for the page and the CSV of all results: dataset and size by name, accuracy
    in percent, ranks as compact text, the commit shortened to 10 characters.

    Returns:
        Columns ``model``, ``dataset``, ``method``, ``size``, ``seed``,
        ``test accuracy %``, ``train accuracy %``, ``parameters``, ``compression``,
        ``ranks`` (a narrowed CNN's or ViT's width multiplier: ``"width x0.3"``),
        ``train s``, ``svd s``, ``commit``, ``file``; sorted by model, dataset, method,
        parameters and seed.
    """
    columns = ["model", "dataset", "method", "size", "seed", "test accuracy %",
               "train accuracy %", "parameters", "compression", "ranks", "train s", "svd s",
               "commit", "file"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    architectures = (frame["architecture"] if "architecture" in frame
                     else pd.Series("mlp", index=frame.index))
    table = pd.DataFrame({
        "model": architectures.map(model_name),
        "dataset": frame["dataset"].map(dataset_name),
        "method": frame["method"],
        "size": [size_text(choice, value) for choice, value in zip(frame["choice"], frame["value"])],
        "seed": frame["seed"].astype(int),
        "test accuracy %": (100 * frame["test accuracy"]).round(2),
        "train accuracy %": (100 * frame["train accuracy"].astype(float)).round(2),
        "parameters": frame["factorized parameters"].astype(int),
        "compression": frame["compression"].round(1),
        "ranks": [ranks_text(ranks, width) if architecture == "mlp" or pd.isna(width)
                  else f"width x{width:g}" for ranks, width, architecture
                  in zip(frame["chosen ranks"], frame["width"], architectures)],
        "train s": frame["train s"].round(1),
        "svd s": frame["svd s"].round(2),
        "commit": frame["commit"].fillna("").str[:10],
        "file": frame["file"],
    })
    order = {dataset_name(name): index
             for index, name in enumerate(dataset_order(frame["dataset"]))}
    models = {model_name(name): index for index, name in enumerate(MODEL_NAMES)}
    orders = {"dataset": order, "model": models}
    table = table.sort_values(["model", "dataset", "method", "parameters", "seed"],
                              ascending=[True, True, True, False, True],
                              key=lambda column: column.map(orders[column.name])
                              if column.name in orders else column)
    return table.reset_index(drop=True)[columns]


def table_html(data: pd.DataFrame, formats: dict | str | None = None,
               index: bool = False) -> str:
    """A table as plain HTML for a page: formatted, with no style, class or id per cell
    (the page's CSS styles every table; pandas' Styler writes an id and classes into each
    cell, which made up a third of the report page's bytes).

    Args:
        data: The table.
        formats: Column name to format string or function (pandas' ``Styler.format``;
            columns the table does not have are skipped), or one format string for every
            cell. Defaults to ``None``: pandas' default format.
        index: Whether to show the index column. Defaults to ``False``.

    Returns:
        The ``<table>`` element, without an id; missing values are shown empty.
    """
    if not isinstance(formats, str):
        formats = {column: fmt for column, fmt in (formats or {}).items()
                   if column in data.columns}
    styler = data.style.format(formats, na_rep="")
    if not index:
        styler = styler.hide(axis="index")
    return styler.to_html(exclude_styles=True)


def reader_table(data: pd.DataFrame, formats: dict | str | None = None, index: bool = False):
    """:func:`table_html` for a notebook's output (``display(reader_table(...))``).

    Args:
        data: The table.
        formats: As :func:`table_html`'s. Defaults to ``None``.
        index: Whether to show the index column. Defaults to ``False``.
    """
    from IPython.display import HTML

    return HTML(table_html(data, formats, index))
