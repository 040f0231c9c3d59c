"""Collecting sweep results into tables for the report: accuracy by method and rank,
parameter counts, the Pareto front, times and provenance."""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd

from svdnet.experiments.config import base_method
from svdnet.experiments.formatting import (
    accuracy_text,
    dataset_name,
    dataset_order,
    percent,
    size_text,
)
from svdnet.experiments.paths import GRID_RESULTS
from svdnet.experiments.results import (
    CorruptResultError,
    check_not_duplicate,
    read_json,
    result_row,
)
from svdnet.validation import check_choice

ON_CORRUPT = ("raise", "skip")


def load_results(results_dir: str, on_corrupt: str = "raise") -> tuple[pd.DataFrame, list]:
    """Reads every result file of a sweep into one row per run.

    Args:
        results_dir: Folder of ``*.json`` result files. Quick-mode results and JSON
            files of another kind (no ``run``, such as a deployment benchmark) are
            ignored; a sweep result that
            :func:`svdnet.experiments.results.result_row` cannot read is corrupt (the
            runner, which uses the same function, runs it again), and so is a file
            holding a value :func:`svdnet.experiments.results.check_result` refuses
            (an accuracy of 97.5, ``null``, a ratio of -1). A second file with the
            configuration of one read before (a stray copy under another name) is a
            :class:`svdnet.experiments.results.DuplicateResultError` naming both files.
        on_corrupt: ``"raise"`` stops at the first corrupt, invalid or duplicate file
            with a :class:`svdnet.experiments.results.CorruptResultError` naming it (the
            field, value and what is allowed for an invalid value); ``"skip"`` leaves
            such files out (a duplicate: the later one in name order) and returns their
            errors. Defaults to ``"raise"``.

    Returns:
        ``(frame, problems)``: one row per run with columns ``dataset``, ``method``,
        ``choice`` (``dense``, ``rank``, ``energy``, ``budget`` or ``per_layer``),
        ``value`` (the rank, energy or budget), ``rank`` (``NaN`` unless one rank),
        ``chosen ranks``, ``seed``, ``epochs``, ``finetune epochs``, ``test accuracy``,
        ``test loss``, ``train accuracy`` (the last epoch's, as Keras reported it during
        training), ``parameters``, ``factorised parameters``, ``compression``,
        ``width`` (of a ``small`` network), ``train s``, ``svd s``, ``wall s``,
        ``commit``, ``file``; and the messages of the files skipped.

    Raises:
        FileNotFoundError: when ``results_dir`` is not a folder.
        CorruptResultError: for a corrupt, invalid or duplicate file when
            ``on_corrupt="raise"``.
    """
    check_choice("on_corrupt", on_corrupt, ON_CORRUPT)
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(
            f"Results folder {results_dir!r} does not exist; run the sweep first "
            "(python -m svdnet.experiments.grid)."
        )
    rows, problems, seen = [], [], {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        try:
            payload = read_json(path)
            if "run" not in payload:
                continue  # another kind of result (for example a deployment benchmark)
            row = result_row(payload, path)
            if not payload.get("quick"):
                check_not_duplicate(payload, path, seen)
        except CorruptResultError as error:
            if on_corrupt == "raise":
                raise
            problems.append(str(error))
            continue
        if not payload.get("quick"):
            rows.append(row)
    columns = ["dataset", "method", "choice", "value", "rank", "chosen ranks", "seed", "epochs",
               "finetune epochs", "test accuracy", "test loss", "train accuracy",
               "parameters", "factorised parameters", "compression", "width", "train s",
               "svd s", "wall s", "commit", "file"]
    return label_budgets(pd.DataFrame(rows, columns=columns)), problems


def main_epochs(frame: pd.DataFrame):
    """The main training budget of a set of results: the epochs of most dense runs (of
    most runs when there is no dense one), or ``None`` for no results."""
    if frame.empty:
        return None
    dense = frame.loc[frame["method"] == "dense", "epochs"]
    return int((dense if len(dense) else frame["epochs"]).mode().min())


def label_budgets(frame: pd.DataFrame) -> pd.DataFrame:
    """Marks the runs of another training budget than :func:`main_epochs` in their method
    label (``"small+30ep"``), so that no table averages them with the main comparison's."""
    main = main_epochs(frame)
    if main is None:
        return frame
    other = frame["epochs"] != main
    frame = frame.copy()
    frame.loc[other, "method"] = (frame.loc[other, "method"] + "+"
                                  + frame.loc[other, "epochs"].astype(int).astype(str) + "ep")
    return frame


def accuracy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy by dataset, method and uniform rank over seeds: mean, std, count.

    Only dense runs and runs with one rank for every layer are included (see
    :func:`selection_table` for energy and budget choices).

    Returns:
        One row per (dataset, method, rank) with ``mean``, ``std`` (``NaN`` for a
        single seed), ``seeds``, ``factorised parameters`` and ``compression``; dense
        rows have rank 0.
    """
    keys = ["dataset", "method", "rank"]
    frame = frame[frame["choice"].isin(["dense", "rank"])]
    grouped = frame.fillna({"rank": 0}).groupby(keys)
    table = grouped.agg(
        mean=("test accuracy", "mean"),
        std=("test accuracy", "std"),
        seeds=("seed", "nunique"),
        **{"factorised parameters": ("factorised parameters", "first"),
           "compression": ("compression", "first")},
    ).reset_index()
    table["rank"] = table["rank"].astype(int)
    return table


def pareto_front(table: pd.DataFrame, x: str = "factorised parameters",
                 y: str = "mean") -> pd.Series:
    """Marks the rows no other row beats: none has fewer (or as few) parameters and a
    higher accuracy.

    Args:
        table: Rows of one dataset, for example from :func:`accuracy_table`.
        x: Column to minimise. Defaults to ``"factorised parameters"``.
        y: Column to maximise. Defaults to ``"mean"``.

    Returns:
        A boolean Series aligned with ``table``.
    """
    front = pd.Series(False, index=table.index)
    best = -np.inf
    for index in table.sort_values([x, y], ascending=[True, False]).index:
        if table.at[index, y] > best:
            front[index] = True
            best = table.at[index, y]
    return front


def reference_table(table: pd.DataFrame, rank: int = 20) -> pd.DataFrame:
    """Each method at ``rank`` next to the dense baseline, per dataset.

    Returns:
        Rows per (dataset, method) with the mean accuracy, its std, the seeds, the
        change against dense in percentage points, and the compression.
    """
    rows = []
    for dataset, part in table.groupby("dataset"):
        dense = part[part["method"] == "dense"]
        dense_mean = float(dense["mean"].iloc[0]) if len(dense) else np.nan
        chosen = pd.concat([dense, part[(part["method"] != "dense") & (part["rank"] == rank)]])
        for _, row in chosen.iterrows():
            rows.append({
                "dataset": dataset,
                "method": row["method"],
                "rank": "-" if row["method"] == "dense" else int(row["rank"]),
                "accuracy": row["mean"],
                "std": row["std"],
                "seeds": row["seeds"],
                "vs dense (pp)": 100 * (row["mean"] - dense_mean),
                "parameters": row["factorised parameters"],
                "compression": row["compression"],
            })
    return pd.DataFrame(rows)


def best_within(table: pd.DataFrame, dataset: str, points: float = 0.5) -> pd.DataFrame:
    """The compressed rows of ``dataset`` whose mean accuracy is at most ``points``
    percentage points below the dense mean, most compressed first."""
    part = table[table["dataset"] == dataset]
    dense = part.loc[part["method"] == "dense", "mean"]
    if dense.empty:
        return part.iloc[0:0]
    close = part[(part["method"] != "dense") & (part["mean"] >= dense.iloc[0] - points / 100)]
    return close.sort_values("compression", ascending=False)


def headline(table: pd.DataFrame, reference_rank: int = 20, points: float = 0.5,
             frame: pd.DataFrame | None = None) -> list[str]:
    """The report's headline, one line each: per dataset the dense accuracy, each method
    at the reference rank against it (from :func:`reference_table`), and the most
    compressed model within ``points`` of dense (from :func:`best_within`).

    Args:
        table: The table of :func:`accuracy_table`.
        reference_rank: The rank compared method by method. Defaults to 20.
        points: Accuracy loss in percentage points still "close to dense". Defaults
            to 0.5.
        frame: The frame of :func:`load_results`: the most compressed model within
            ``points`` is then sought among every rank choice (rank, energy, budget) of
            the SVD methods, as the conclusions do. Defaults to ``None``: uniform ranks
            only.
    """
    lines = []
    reference = reference_table(table, rank=reference_rank)
    for dataset, part in table.groupby("dataset"):
        dense = part[part["method"] == "dense"]
        if dense.empty:
            continue
        lines.append(f"{dataset_name(dataset)}: dense "
                     f"{accuracy_text(dense['mean'].iloc[0], dense['std'].iloc[0])} "
                     f"({int(dense['seeds'].iloc[0])} seed(s))")
        rows = reference[(reference["dataset"] == dataset) & (reference["method"] != "dense")]
        for _, row in rows.sort_values("accuracy", ascending=False).iterrows():
            lines.append(f"  rank {reference_rank} {row['method']:<10} "
                         f"{accuracy_text(row['accuracy'], row['std'])} "
                         f"({row['vs dense (pp)']:+.2f} points, {row['compression']:.1f}x fewer "
                         f"parameters, {row['seeds']} seed(s))")
        if frame is None:
            close = best_within(table, dataset, points)
            if len(close):
                row = close.iloc[0]
                lines.append(f"  smallest within {points} points: {row['method']} rank "
                             f"{row['rank']}, {percent(row['mean'])}, {row['compression']:.1f}x fewer "
                             "parameters")
            continue
        row = smallest_within(frame, dataset, points)
        if row is not None:
            lines.append(f"  smallest within {points} points (by any rank choice): "
                         f"{row['method']} {size_text(row['choice'], row['value'])}, "
                         f"{accuracy_text(row['mean'], row['std'])}, "
                         f"{row['compression']:.1f}x fewer parameters")
    return lines


def choice_table(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every compressed configuration of ``dataset`` (method and rank, energy or budget)
    over seeds.

    Returns:
        One row per (method, choice, value): ``mean`` and ``std`` test accuracy,
        ``train mean`` (the last training epoch's accuracy), ``seeds``, ``parameters``
        (of the exported model) and ``compression``.
    """
    runs = frame[(frame["dataset"] == dataset) & (frame["method"] != "dense")]
    return (runs.groupby(["method", "choice", "value"])
            .agg(mean=("test accuracy", "mean"), std=("test accuracy", "std"),
                 **{"train mean": ("train accuracy", "mean")},
                 seeds=("seed", "nunique"), parameters=("factorised parameters", "first"),
                 compression=("compression", "first"))
            .reset_index())


def frontier_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every configuration of every dataset (dense, each method at each rank, energy or
    budget) with its place on the Pareto front, for the accuracy-against-size figure.

    Returns:
        :func:`choice_table`'s columns plus ``dataset`` and ``pareto`` (``True``: no
        configuration of the dataset, of the main training budget, has as few parameters
        and a higher mean accuracy; runs of a longer budget are never on it), dense rows
        included (``choice`` ``"dense"``).
    """
    parts = []
    for dataset in dataset_order(frame["dataset"]) if len(frame) else []:
        dense = frame[(frame["dataset"] == dataset) & (frame["method"] == "dense")]
        rows = choice_table(frame, dataset)
        if len(dense):
            rows = pd.concat([rows, pd.DataFrame([{
                "method": "dense", "choice": "dense", "value": np.nan,
                "mean": dense["test accuracy"].mean(), "std": dense["test accuracy"].std(),
                "train mean": dense["train accuracy"].mean(), "seeds": dense["seed"].nunique(),
                "parameters": dense["factorised parameters"].iloc[0], "compression": 1.0}])],
                ignore_index=True)
        rows.insert(0, "dataset", dataset)
        main = ~rows["method"].str.contains(r"\+\d+ep$")  # the main training budget only
        rows["pareto"] = False
        rows.loc[main, "pareto"] = pareto_front(rows[main], x="parameters")
        parts.append(rows)
    columns = ["dataset", "method", "choice", "value", "mean", "std", "train mean", "seeds",
               "parameters", "compression", "pareto"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def smallest_within(frame: pd.DataFrame, dataset: str, points: float = 0.5):
    """The most compressed configuration of an SVD method (by any rank choice: rank,
    energy or budget) whose mean test accuracy is at most ``points`` percentage points
    below the dense mean of ``dataset``: a row of :func:`choice_table`, or ``None``."""
    frame = main_budget(frame)
    dense = frame.loc[(frame["dataset"] == dataset) & (frame["method"] == "dense"),
                      "test accuracy"]
    every = choice_table(frame, dataset)
    every = every[is_svd(every["method"])]
    if dense.empty or every.empty:
        return None
    close = every[every["mean"] >= dense.mean() - points / 100]
    if close.empty:
        return None
    return close.sort_values("compression", ascending=False).iloc[0]


def best_at_least(frame: pd.DataFrame, dataset: str, minimum: float):
    """The most accurate configuration of an SVD method (any rank choice, any option)
    with at least ``minimum`` times fewer parameters than dense on ``dataset``: a row of
    :func:`choice_table`, or ``None``."""
    every = choice_table(main_budget(frame), dataset)
    big = every[is_svd(every["method"]) & (every["compression"] >= minimum)]
    return None if big.empty else big.sort_values("mean", ascending=False).iloc[0]


def compression_target(frame: pd.DataFrame, minimum: float = 50.0,
                       points: float = 0.5) -> list[str]:
    """Whether any configuration, by any rank choice, has at least ``minimum`` times
    fewer parameters than dense and a mean accuracy within ``points`` of it; per dataset,
    one line, then up to three that reach it (most compressed first) or else the most
    accurate one at that size.

    Args:
        frame: The frame of :func:`load_results`.
        minimum: The compression to reach. Defaults to 50.
        points: Accuracy loss in percentage points allowed. Defaults to 0.5.
    """
    lines = []
    for dataset in sorted(frame["dataset"].unique()):
        runs = frame[frame["dataset"] == dataset]
        dense_mean = runs.loc[runs["method"] == "dense", "test accuracy"].mean()
        grouped = choice_table(frame, dataset)
        big = grouped[grouped["compression"] >= minimum]
        reached = big[big["mean"] >= dense_mean - points / 100].sort_values(
            "compression", ascending=False)
        best = big.sort_values("mean", ascending=False).head(1)
        lines.append(f"{dataset_name(dataset)}: dense {percent(dense_mean)}; at >= {minimum:g}x: "
                     f"{len(reached)} "
                     f"configuration(s) within {points:g} points")
        shown = reached.head(3) if len(reached) else best
        for _, row in shown.iterrows():
            lines.append(f"  {row['method']} {size_text(row['choice'], row['value'])}: "
                         f"{accuracy_text(row['mean'], row['std'])} "
                         f"({100 * (row['mean'] - dense_mean):+.2f} points, "
                         f"{row['compression']:.1f}x, {row['seeds']} seed(s))")
    return lines


SVD_METHODS = ("projection", "posthoc", "finetune", "lowrank")
"""The methods that compress the trained (or initial) network with truncated SVD."""


def compare(first, second) -> int:
    """The rule for "a difference": ``1`` when ``first``'s mean accuracy is above
    ``second``'s by more than the seeds' spread (the sum of the two standard deviations,
    a single seed counting 0), ``-1`` when below by more, ``0`` otherwise (a tie).

    Args:
        first, second: Rows (or mappings) with ``mean`` and ``std``.
    """
    spread = np.nan_to_num(first["std"]) + np.nan_to_num(second["std"])
    difference = first["mean"] - second["mean"]
    return 1 if difference > spread else -1 if -difference > spread else 0


def main_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs of the main comparison: those trained for :func:`main_epochs` epochs."""
    return frame[frame["epochs"] == main_epochs(frame)]


def is_svd(methods: pd.Series) -> pd.Series:
    """Which method labels (with their options, see
    :func:`svdnet.experiments.config.method_label`) are SVD methods."""
    return methods.map(base_method).isin(SVD_METHODS)


def is_small(methods: pd.Series) -> pd.Series:
    """Which method labels are the plain small network, with or without a teacher."""
    return methods.map(base_method) == "small"


def small_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """The best SVD method at each size against the plain network trained small.

    Only runs of the main training budget count (:func:`main_budget`). For every rank and
    budget that has ``small`` runs (a rank with the output layer kept
    dense is a size of its own: ``"rank 5, output dense"``), the SVD method (any variant, see
    :func:`svdnet.experiments.config.method_label`) with the highest mean test accuracy
    at the same rank or budget is set against the best variant of ``small`` (the same
    depth, narrowed to about the same parameter count, same training budget; with the
    same teacher where it was distilled). The
    verdict counts a difference only when it is larger than the seeds' spread (the sum
    of the two standard deviations): ``"svdnet"``, ``"small"`` or ``"tie"``.

    Args:
        frame: The frame of :func:`load_results`.

    Returns:
        One row per (dataset, choice, value): ``size`` (``"rank 20"``, ``"budget
        100,000"``), ``parameters`` and ``compression`` of the best SVD model, ``best
        method``, ``svdnet`` and ``svdnet std``, ``small`` and ``small std`` (mean test
        accuracies), ``small method`` (its variant), ``small parameters``, ``difference (pp)`` (svdnet minus small,
        percentage points), ``seeds`` (the fewer of the two) and ``verdict``; sorted by
        dataset and parameters.
    """
    columns = ["dataset", "choice", "value", "size", "parameters", "compression",
               "best method", "svdnet", "svdnet std", "small", "small std", "small method",
               "small parameters", "difference (pp)", "seeds", "verdict"]
    runs = main_budget(frame)
    runs = runs[runs["choice"].isin(["rank", "budget"])]
    runs = runs.assign(**{"output dense": runs["method"].str.contains("+denseout", regex=False)})
    grouped = runs.groupby(["dataset", "choice", "value", "output dense", "method"]).agg(
        mean=("test accuracy", "mean"), std=("test accuracy", "std"),
        seeds=("seed", "nunique"), parameters=("factorised parameters", "first"),
        compression=("compression", "first")).reset_index()
    rows = []
    for (dataset, choice, value, kept), part in grouped.groupby(
            ["dataset", "choice", "value", "output dense"]):
        small = part[is_small(part["method"])]
        svd = part[is_svd(part["method"])]
        if small.empty or svd.empty:
            continue
        small = small.sort_values("mean", ascending=False).iloc[0]  # its best variant
        best = svd.sort_values("mean", ascending=False).iloc[0]
        difference = best["mean"] - small["mean"]
        verdict = {1: "svdnet", -1: "small", 0: "tie"}[compare(best, small)]
        rows.append({
            "dataset": dataset, "choice": choice, "value": value,
            "size": (f"rank {value:g}" if choice == "rank" else f"budget {value:,.0f}")
                    + (", output dense" if kept and choice == "rank" else ""),
            "parameters": best["parameters"], "compression": best["compression"],
            "best method": best["method"], "svdnet": best["mean"], "svdnet std": best["std"],
            "small": small["mean"], "small std": small["std"], "small method": small["method"],
            "small parameters": small["parameters"], "difference (pp)": 100 * difference,
            "seeds": int(min(best["seeds"], small["seeds"])), "verdict": verdict,
        })
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["dataset", "parameters"]).reset_index(drop=True)


def small_sentences(frame: pd.DataFrame) -> list[str]:
    """What :func:`small_comparison` says, in one sentence per dataset: where the best SVD
    method beats the plain small network by more than the seeds' spread, where they tie,
    and where the small network wins."""
    table = small_comparison(frame)
    sentences = []
    for dataset, part in table.groupby("dataset"):
        def sizes(verdict):
            chosen = part[part["verdict"] == verdict]
            return ", ".join(f"{row['size']} ({row['compression']:.0f}x: {100 * row['svdnet']:.2f}% "
                             f"vs {100 * row['small']:.2f}%)" for _, row in chosen.iterrows())
        counts = part["verdict"].value_counts()
        parts = [f"{dataset}: of {len(part)} sizes, svdnet's best method beats the plain small "
                 f"network by more than the seeds' spread at {counts.get('svdnet', 0)}"]
        if counts.get("svdnet", 0):
            parts[-1] += f" [{sizes('svdnet')}]"
        parts.append(f"ties at {counts.get('tie', 0)}" + (f" [{sizes('tie')}]"
                                                          if counts.get("tie", 0) else ""))
        parts.append(f"and loses at {counts.get('small', 0)}" + (
            f" [{sizes('small')}]" if counts.get("small", 0) else ""))
        sentences.append("; ".join(parts) + ".")
    return sentences


def output_layer_sentence(ranks, input_dim: int = 784, num_classes: int = 10,
                          depth: int = 5, width: int = 1024) -> str:
    """Where the output layer is factorised, drawn from :func:`svdnet.factorization_plan`
    on the reference MLP at each of ``ranks``."""
    from svdnet import factorization_plan
    from svdnet.cost import break_even_rank
    from svdnet.experiments.model import build_mlp

    model = build_mlp(input_dim=input_dim, num_classes=num_classes, depth=depth, width=width)
    factorised = [rank for rank in sorted(ranks)
                  if {item.name: item.rank for item in
                      factorization_plan(model, rank=int(rank))}["output"] is not None]
    kept = [rank for rank in sorted(ranks) if rank not in factorised]
    shape = f"{width} x {num_classes}"
    if not factorised:
        return (f"The output layer ({shape}) is never factorised at these ranks: its factors "
                f"would not be smaller than the kernel (break-even rank "
                f"{break_even_rank(width, num_classes)}).")
    return (f"The output layer ({shape}) is factorised only below its break-even rank "
            f"({break_even_rank(width, num_classes)} is the largest rank whose factors are "
            f"smaller): here at rank{'s' if len(factorised) > 1 else ''} "
            f"{', '.join(str(int(r)) for r in factorised)}, which also caps how many classes "
            "the network can tell apart"
            + (f"; at {', '.join(str(int(r)) for r in kept)} it stays dense." if kept else "."))


def energy_rank_range(frame: pd.DataFrame, energy: float) -> str:
    """The ranks that an energy threshold chose, over layers, seeds and datasets, with
    the size and accuracy they gave, as a sentence (``""`` when no run used it)."""
    runs = frame[(frame["choice"] == "energy") & (frame["value"] == energy)]
    def chosen(output: bool) -> list:
        return [rank for ranks in runs["chosen ranks"] if isinstance(ranks, dict)
                for name, rank in ranks.items()
                if rank is not None and (name == "output") == output]

    hidden, output = chosen(False), chosen(True)
    if not hidden and not output:
        return ""
    parts = []
    for dataset in dataset_order(runs["dataset"]):
        part = runs[runs["dataset"] == dataset]
        parts.append(f"{dataset_name(dataset)} {part['compression'].mean():.2f}x fewer parameters, "
                     f"{accuracy_text(part['test accuracy'].mean(), part['test accuracy'].std())}")
    spans = []
    if hidden:
        spans.append(f"ranks {min(hidden)}-{max(hidden)} for the hidden layers")
    if output:
        spans.append(f"{min(output)}-{max(output)} for the output layer")
    return (f"keeping {energy:.0%} of each kernel's energy chose {' and '.join(spans)} "
            f"({'; '.join(parts)})")


def selection_table(frame: pd.DataFrame, method: str = "finetune") -> pd.DataFrame:
    """Uniform ranks next to energy- and budget-chosen ranks, for one method.

    Returns:
        One row per (dataset, choice, value) with the mean test accuracy, its std, the
        seeds, the exported model's parameters, the compression and the chosen ranks of
        the first seed, sorted by dataset and parameters.
    """
    part = frame[(frame["method"] == method) & frame["choice"].isin(["rank", "energy", "budget"])]
    if part.empty:
        return pd.DataFrame(columns=["dataset", "choice", "value", "mean", "std", "seeds",
                                     "factorised parameters", "compression", "chosen ranks"])
    table = part.groupby(["dataset", "choice", "value"]).agg(
        mean=("test accuracy", "mean"),
        std=("test accuracy", "std"),
        seeds=("seed", "nunique"),
        **{"factorised parameters": ("factorised parameters", "first"),
           "compression": ("compression", "first"),
           "chosen ranks": ("chosen ranks", "first")},
    ).reset_index()
    return table.sort_values(["dataset", "factorised parameters"]).reset_index(drop=True)


def time_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Median training, SVD and wall seconds per run, by dataset, method and rank
    (uniform-rank and dense runs)."""
    frame = frame[frame["choice"].isin(["dense", "rank"])]
    return (frame.fillna({"rank": 0})
            .groupby(["dataset", "method", "rank"])[["train s", "svd s", "wall s"]]
            .median().reset_index().astype({"rank": int}))


def build_time_table(frame: pd.DataFrame) -> pd.DataFrame:
    """What the runs behind the report cost: runs and summed wall time per method.

    Every run's ``wall s`` is summed as recorded, whatever commit made it; a run that reused
    a cached dense training (``posthoc``, ``finetune``) counts only its own time, and the
    dense training is counted once, in the ``dense`` row. Papermill's per-notebook start-up
    is not in any run's time.

    Args:
        frame: The frame of ``load_results``.

    Returns:
        One row per method (``runs``, ``wall h``, ``median wall min``), slowest method
        first, then a ``total`` row; runs without a recorded wall time count in ``runs``
        but not in the times.
    """
    columns = ["method", "runs", "wall h", "median wall min"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    table = (frame.groupby("method")["wall s"]
             .agg(runs="size", total="sum", median="median").reset_index())
    table["wall h"] = table.pop("total") / 3600
    table["median wall min"] = table.pop("median") / 60
    table = table.sort_values("wall h", ascending=False)
    total = pd.DataFrame([{"method": "total", "runs": int(table["runs"].sum()),
                           "wall h": table["wall h"].sum(),
                           "median wall min": frame["wall s"].median() / 60}])
    return pd.concat([table, total], ignore_index=True)[columns]


def dense_spectra(results_dir: str, dataset: str, seed: int = 0) -> dict:
    """Singular values of the trained dense layers, from the dense run's result file.

    Returns:
        Layer name to singular values, or ``{}`` when that run has no result.
    """
    for path in sorted(glob.glob(os.path.join(results_dir, f"{dataset}-dense-*seed{seed}.json"))):
        payload = read_json(path)
        if not payload.get("quick"):
            return {name: np.asarray(values) for name, values in payload["spectra"]["after"].items()}
    return {}


def provenance_summary(results_dir: str, frame: pd.DataFrame) -> dict:
    """The commits, machines and library versions the results came from."""
    commits = sorted(set(frame["commit"].dropna()))
    machines, versions = set(), set()
    for name in frame["file"]:
        info = read_json(os.path.join(results_dir, name)).get("provenance", {})
        machine = info.get("machine", {})
        machines.add(f"{machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores, "
                     f"{machine.get('memory_gib', '?')} GiB, {machine.get('system', '?')} "
                     f"{machine.get('architecture', '')}, GPUs: {machine.get('gpus') or 'none'}")
        versions.add(", ".join(f"{k} {v}" for k, v in sorted(info.get("versions", {}).items())))
    return {"commits": commits, "machines": sorted(machines), "versions": sorted(versions)}


def default_results_dir() -> str:
    """The project's sweep results folder, ``reports/grid/results`` beside the package."""
    return GRID_RESULTS
