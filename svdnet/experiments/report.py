"""Collecting sweep results into tables for the report: accuracy by method and rank,
parameter counts, the Pareto front, times and provenance."""

from __future__ import annotations

import glob
import os
import re
import warnings

import numpy as np
import pandas as pd

from svdnet.experiments.config import ARCHITECTURES, base_method
from svdnet.experiments.formatting import (
    accuracy_text,
    dataset_name,
    dataset_order,
    mean_range_text,
    percent,
    size_text,
)
from svdnet.experiments.options import METHOD_OPTIONS
from svdnet.experiments.paths import GRID_RESULTS
from svdnet.experiments.results import (
    CorruptResultError,
    check_not_duplicate,
    check_one_recipe,
    read_json,
    result_row,
)
from svdnet.validation import check_choice

ON_CORRUPT = ("raise", "skip")


def load_results(results_dir: str, on_corrupt: str = "raise",
                 architectures=("mlp",)) -> tuple[pd.DataFrame, list]:
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
        architectures: The models whose runs to read (of
            :data:`svdnet.experiments.config.ARCHITECTURES`); the others' files are still
            checked, and left out. Defaults to ``("mlp",)``: the report's MLP (the CNN's
            and the ViT's runs have their own page).

    Returns:
        ``(frame, problems)``: one row per run with columns ``architecture``,
        ``dataset``, ``method``,
        ``choice`` (``dense``, ``rank``, ``energy``, ``budget`` or ``per_layer``),
        ``value`` (the rank, energy or budget), ``rank`` (``NaN`` unless one rank),
        ``chosen ranks``, ``seed``, ``epochs``, ``finetune epochs``, ``test accuracy``,
        ``test loss``, ``train accuracy`` (the last epoch's, as Keras reported it during
        training), ``parameters``, ``factorized parameters``, ``compression``,
        ``width`` (of a ``small`` network), ``train s``, ``svd s``, ``wall s``,
        ``macs`` and ``dense macs`` (per example, of the kernel layers), ``inference s``
        and ``dense inference s`` (the two models timed in turns), ``commit``,
        ``machine``, ``keras``, ``execution rule``, ``recipe`` (the settings a row does not show,
        :func:`svdnet.experiments.results.recipe`), ``file``; and the messages of the
        files skipped.

    Raises:
        FileNotFoundError: when ``results_dir`` is not a folder.
        CorruptResultError: for a corrupt, invalid or duplicate file when
            ``on_corrupt="raise"``.
        MixedRecipeError: when runs of one row (dataset, method, rank choice, epochs)
            differ in a setting the row does not show
            (:func:`svdnet.experiments.results.check_one_recipe`).
    """
    check_choice("on_corrupt", on_corrupt, ON_CORRUPT)
    if isinstance(architectures, str) or not isinstance(architectures, (list, tuple)) \
            or not architectures:
        raise ValueError("architectures must be a non-empty list or tuple of "
                         f"{', '.join(map(repr, ARCHITECTURES))}; received {architectures!r}.")
    for architecture in architectures:
        check_choice("architectures", architecture, ARCHITECTURES)
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
        if not payload.get("quick") and row["architecture"] in architectures:
            rows.append(row)
    columns = ["architecture", "dataset", "method", "choice", "value", "rank", "chosen ranks",
               "seed", "epochs", "finetune epochs", "test accuracy", "test loss",
               "train accuracy", "parameters", "factorized parameters", "compression", "width",
               "train s", "svd s", "wall s", "macs", "dense macs", "inference s",
               "dense inference s", "commit", "machine", "keras", "execution rule", "recipe",
               "file"]
    frame = pd.DataFrame(rows, columns=columns)
    # never one mean of runs that differ beyond what a row shows
    check_one_recipe(frame, ["architecture", "dataset", "method", "choice", "value", "epochs"])
    return label_budgets(frame), problems


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
        single seed), ``seeds``, ``factorized parameters`` and ``compression``; dense
        rows have rank 0.
    """
    keys = ["dataset", "method", "rank"]
    frame = frame[frame["choice"].isin(["dense", "rank"])]
    grouped = frame.fillna({"rank": 0}).groupby(keys)
    table = grouped.agg(
        mean=("test accuracy", "mean"),
        std=("test accuracy", "std"),
        seeds=("seed", "nunique"),
        **{"factorized parameters": ("factorized parameters", "first"),
           "compression": ("compression", "first")},
    ).reset_index()
    table["rank"] = table["rank"].astype(int)
    return table


def pareto_front(table: pd.DataFrame, x: str = "factorized parameters",
                 y: str = "mean") -> pd.Series:
    """Marks the rows no other row beats: none has fewer (or as few) parameters and a
    higher accuracy.

    Args:
        table: Rows of one dataset, for example from :func:`accuracy_table`.
        x: Column to minimise. Defaults to ``"factorized parameters"``.
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
                "parameters": row["factorized parameters"],
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
        (of the exported model, the mean over seeds: a budget shared by measured accuracy
        gives each seed its own ranks) with ``parameters min`` and ``parameters max``, and
        ``compression`` (the mean) with ``compression min`` and ``compression max``.
    """
    runs = frame[(frame["dataset"] == dataset) & (frame["method"] != "dense")]
    return (runs.groupby(["method", "choice", "value"])
            .agg(mean=("test accuracy", "mean"), std=("test accuracy", "std"),
                 **{"train mean": ("train accuracy", "mean")},
                 seeds=("seed", "nunique"), parameters=("factorized parameters", "mean"),
                 **{"parameters min": ("factorized parameters", "min"),
                    "parameters max": ("factorized parameters", "max")},
                 compression=("compression", "mean"),
                 **{"compression min": ("compression", "min"),
                    "compression max": ("compression", "max")})
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
                "parameters": dense["factorized parameters"].iloc[0], "compression": 1.0}])],
                ignore_index=True)
        rows.insert(0, "dataset", dataset)
        main = ~rows["method"].str.contains(r"\+\d+ep$")  # the main training budget only
        rows["pareto"] = False
        rows.loc[main, "pareto"] = pareto_front(rows[main], x="parameters")
        parts.append(rows)
    columns = ["dataset", "method", "choice", "value", "mean", "std", "train mean", "seeds",
               "parameters", "parameters min", "parameters max", "compression",
               "compression min", "compression max", "pareto"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def smallest_within(frame: pd.DataFrame, dataset: str, points: float = 0.5, methods=None):
    """The most compressed configuration (by any rank choice: rank, energy or budget) whose
    mean test accuracy is at most ``points`` percentage points below the dense mean of
    ``dataset``.

    Args:
        frame: The frame of :func:`load_results`.
        dataset: The dataset.
        points: Accuracy loss in percentage points still "close to dense". Defaults
            to 0.5.
        methods: The method labels to search (``("small",)`` for the plain small
            network). Defaults to ``None``: every SVD method, with any options.

    Returns:
        A row of :func:`choice_table`, or ``None``.
    """
    frame = main_budget(frame)
    dense = frame.loc[(frame["dataset"] == dataset) & (frame["method"] == "dense"),
                      "test accuracy"]
    every = choice_table(frame, dataset)
    every = every[is_svd(every["method"]) if methods is None
                  else every["method"].isin(list(methods))]
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


SVD_METHODS = ("projection", "posthoc", "finetune", "lowrank")
"""The methods that compress the trained (or initial) network with truncated SVD."""

ALPHA = 0.05
"""The significance level of every verdict the report states, applied to the
Benjamini-Hochberg adjusted p-values of :func:`significance`."""

VERDICTS = ("better", "worse", "no significant difference", "not tested")
"""The verdicts of :func:`significance`, from the first sample's side."""


def welch_p(first, second) -> float:
    """The two-sided p-value of Welch's t-test (``scipy.stats.ttest_ind`` with
    ``equal_var=False``) of two samples, such as one configuration's test accuracies over
    seeds against another's.

    Args:
        first, second: The two samples (any sequence of numbers).

    Returns:
        The p-value; ``NaN`` when either sample has fewer than 2 values (no test is
        possible). When both samples have no spread at all (identical runs), the test is
        undefined; the p-value is then 1 for equal means and 0 for different ones.
    """
    from scipy import stats

    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(first) < 2 or len(second) < 2:
        return np.nan
    if np.ptp(first) == 0 and np.ptp(second) == 0:
        return 1.0 if first[0] == second[0] else 0.0
    with warnings.catch_warnings():  # nearly identical accuracies: scipy warns, the p stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(first, second, equal_var=False).pvalue)


def significance(table: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Tests every row's two samples and corrects for the number of rows: the one place
    where the report, its findings and the landing page get a verdict.

    Each row is tested with :func:`welch_p`; the p-values of all rows that could be
    tested are then adjusted together with the Benjamini-Hochberg procedure
    (``scipy.stats.false_discovery_control``), so ``table`` should hold every comparison
    the page states. The verdict is ``"better"`` or ``"worse"`` (the first sample's mean
    against the second's) when the adjusted p-value is below ``alpha``, ``"no significant
    difference"`` otherwise, and ``"not tested"`` for a sample of fewer than 2 values.

    Args:
        table: One row per comparison with ``first`` and ``second``, each a sequence of
            values (test accuracies over seeds); other columns are kept.
        alpha: The significance level. Defaults to :data:`ALPHA`.

    Returns:
        ``table`` with ``first mean``, ``first std``, ``first seeds``, ``second mean``,
        ``second std``, ``second seeds``, ``difference (pp)`` (first minus second, in
        percentage points), ``p``, ``adjusted p`` and ``verdict`` added.
    """
    from scipy import stats

    table = table.copy()
    for side in ("first", "second"):
        samples = [np.asarray(values, dtype=float) for values in table[side]]
        table[f"{side} mean"] = [values.mean() if len(values) else np.nan for values in samples]
        table[f"{side} std"] = [values.std(ddof=1) if len(values) > 1 else np.nan
                                for values in samples]
        table[f"{side} seeds"] = [len(values) for values in samples]
    table["difference (pp)"] = 100 * (table["first mean"] - table["second mean"])
    table["p"] = [welch_p(a, b) for a, b in zip(table["first"], table["second"])]
    tested = table["p"].notna()
    table["adjusted p"] = np.nan
    if tested.any():
        table.loc[tested, "adjusted p"] = stats.false_discovery_control(
            table.loc[tested, "p"].to_numpy(), method="bh")
    significant = table["adjusted p"] < alpha
    table["verdict"] = np.where(~tested, "not tested", np.where(
        ~significant, "no significant difference",
        np.where(table["difference (pp)"] > 0, "better", "worse")))
    return table


def main_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs of the main comparison: those trained for :func:`main_epochs` epochs."""
    return frame[frame["epochs"] == main_epochs(frame)]


def is_svd(methods: pd.Series) -> pd.Series:
    """Which method labels (with their options, see
    :func:`svdnet.experiments.options.method_label`) are SVD methods."""
    return methods.map(base_method).isin(SVD_METHODS)


def is_small(methods: pd.Series) -> pd.Series:
    """Which method labels are the plain small network, with or without a teacher."""
    return methods.map(base_method) == "small"


SMALL_OPTIONS = ("+denseout", "+kd")
"""The options a ``small`` network shares with the SVD method it is set against: the same
output layer kept dense, the same teacher."""


def matching_small(method: str) -> str:
    """The ``small`` label an SVD method is set against: ``"small"`` with the method's
    options of :data:`SMALL_OPTIONS` (``"lowrank+denseout+kd"`` ->
    ``"small+denseout+kd"``; ``"finetune+accuracy"`` -> ``"small"``).

    Args:
        method: A method label of :func:`svdnet.experiments.options.method_label`.
    """
    options = ["+" + option for option in method.split("+")[1:]]
    return "small" + "".join(option for option in SMALL_OPTIONS if option in options)


def _configurations(frame: pd.DataFrame) -> dict:
    """(dataset, method, choice, value) -> that configuration's runs (``NaN`` value for
    dense)."""
    keys = frame.assign(value=frame["value"].fillna(-1))
    return {(d, m, c, (np.nan if v == -1 else v)): part
            for (d, m, c, v), part in keys.groupby(["dataset", "method", "choice", "value"])}


def _side(runs: pd.DataFrame, prefix: str) -> dict:
    """The accuracies and sizes of one configuration's runs, keyed for a comparison row."""
    parameters = runs["factorized parameters"]
    return {prefix: runs.sort_values("seed")["test accuracy"].to_numpy(),
            f"{prefix} parameters": parameters.mean(),
            f"{prefix} parameters min": parameters.min(),
            f"{prefix} parameters max": parameters.max(),
            f"{prefix} compression": runs["compression"].mean(),
            f"{prefix} compression min": runs["compression"].min(),
            f"{prefix} compression max": runs["compression"].max()}


def _row(question: str, key, runs, other_key, other_runs) -> dict:
    dataset, method, choice, value = key
    return {"question": question, "dataset": dataset, "method": method, "choice": choice,
            "value": value, "against": other_key[1], "against choice": other_key[2],
            "against value": other_key[3], **_side(runs, "first"),
            **_side(other_runs, "second")}


QUESTIONS = ("against small", "trained against posthoc", "budget against one rank",
             "budget options", "data-aware against weight SVD", "longer budget")
"""The comparisons the report tests (:func:`comparisons`), in the order it states them:

- ``against small``: every SVD configuration of the main budget (a rank or a parameter
  budget, with any options) against the plain network trained small at that rank or
  budget (:func:`matching_small`);
- ``trained against posthoc``: ``projection``, ``finetune`` and ``lowrank`` against
  ``posthoc`` at each rank;
- ``budget against one rank``: ``finetune`` with budget-chosen ranks against ``finetune``
  with one rank at the nearest size;
- ``budget options``: ``finetune``'s options at a budget against ``finetune`` alone;
- ``data-aware against weight SVD``: a method with data-aware truncation (the label word
  of the ``calibration`` option) against the same label without it, at the same rank or
  budget;
- ``longer budget``: a run of a longer budget against the same method and size trained
  for the main budget."""


CALIBRATED_WORD = next(option.label for option in METHOD_OPTIONS
                       if option.name == "calibration")
"""The method-label word of a data-aware truncation (``projection+calib``)."""


def comparisons(frame: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Every comparison the report states (:data:`QUESTIONS`), tested together by
    :func:`significance`: the p-values are corrected for all of them at once, so the
    report, its findings and the landing page give each the same verdict.

    Each configuration is compared on its own: no "best variant" is picked first (the
    results have no validation split to pick it on).

    Args:
        frame: The frame of :func:`load_results`.
        alpha: The significance level. Defaults to :data:`ALPHA`.

    Returns:
        One row per comparison: ``question``, ``dataset``, the first configuration
        (``method``, ``choice``, ``value``) and the one it is set against (``against``,
        ``against choice``, ``against value``), per side (``first``, ``second``) the
        accuracies over seeds and the mean, minimum and maximum ``parameters`` and
        ``compression`` over seeds, and the columns :func:`significance` adds.
    """
    configs = _configurations(frame) if len(frame) else {}
    main = main_epochs(frame)
    rows = []
    for key, runs in configs.items():
        dataset, method, choice, value = key
        if runs["epochs"].iloc[0] != main:
            plain = (dataset, method.rsplit("+", 1)[0], choice, value)
            if plain in configs:
                rows.append(_row("longer budget", key, runs, plain, configs[plain]))
            continue
        if base_method(method) not in SVD_METHODS or choice not in ("rank", "budget"):
            continue
        small = (dataset, matching_small(method), choice, value)
        if small in configs:
            rows.append(_row("against small", key, runs, small, configs[small]))
        if choice == "rank" and method in ("projection", "finetune", "lowrank"):
            posthoc = (dataset, "posthoc", choice, value)
            if posthoc in configs:
                rows.append(_row("trained against posthoc", key, runs, posthoc,
                                 configs[posthoc]))
        if choice == "budget" and method == "finetune":
            uniform = [(k, r) for k, r in configs.items()
                       if k[0] == dataset and k[1] == method and k[2] == "rank"]
            if uniform:
                size = runs["factorized parameters"].mean()
                near = min(uniform, key=lambda item: abs(
                    item[1]["factorized parameters"].mean() - size))
                rows.append(_row("budget against one rank", key, runs, *near))
        words = method.split("+")
        if CALIBRATED_WORD in words[1:]:
            weights = (dataset, "+".join(w for w in words if w != CALIBRATED_WORD), choice,
                       value)
            if weights in configs:
                rows.append(_row("data-aware against weight SVD", key, runs, weights,
                                 configs[weights]))
        if (choice == "budget" and base_method(method) == "finetune" and method != "finetune"
                and CALIBRATED_WORD not in words):  # data-aware runs: their own question
            alone = (dataset, "finetune", choice, value)
            if alone in configs:
                rows.append(_row("budget options", key, runs, alone, configs[alone]))
    columns = ["question", "dataset", "method", "choice", "value", "against", "against choice",
               "against value", "first", "second"]
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)
    table = significance(table, alpha)
    if table.empty:
        return table
    order = {question: i for i, question in enumerate(QUESTIONS)}
    return (table.assign(order=table["question"].map(order))
            .sort_values(["order", "dataset", "first parameters", "method"])
            .drop(columns="order").reset_index(drop=True))


def small_comparison(frame: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Every SVD configuration against the plain network trained small at the same size,
    from :func:`comparisons` (so tested with Welch's t-test over seeds and corrected with
    Benjamini-Hochberg for every comparison of the report).

    Only runs of the main training budget count (:func:`main_budget`). A configuration
    (an SVD method with its options, at a rank or a parameter budget) is set against
    ``small`` at the same rank or budget with the same output layer and teacher
    (:func:`matching_small`). Configurations whose ``small`` networks have the same
    parameter count (rank 10 and the budget of rank 10's size, for example) share one
    ``size``.

    Args:
        frame: The frame of :func:`load_results`.
        alpha: The significance level. Defaults to :data:`ALPHA`.

    Returns:
        One row per comparison, sorted by dataset, size (largest compression first) and
        method: ``dataset``, ``size`` (the small network's parameter count),
        ``size compression`` (the dense network's parameters over it), ``configuration``
        (``"rank 20"``, ``"budget 100,000"``), ``method``, ``parameters``,
        ``parameters min``, ``parameters max``, ``compression``, ``compression min``,
        ``compression max`` (over seeds: a budget chosen by accuracy differs by seed),
        ``svdnet``, ``svdnet std``, ``small``, ``small std``, ``small method``,
        ``small parameters``, ``seeds`` (the fewer of the two sides),
        ``difference (pp)``, ``p``, ``adjusted p`` and ``verdict`` (``"better"``: the SVD
        configuration is more accurate; ``"worse"``; ``"no significant difference"``;
        ``"not tested"``).
    """
    table = comparisons(frame, alpha)
    table = table[table["question"] == "against small"]
    columns = ["dataset", "size", "size compression", "configuration", "method", "parameters",
               "parameters min", "parameters max", "compression", "compression min",
               "compression max", "svdnet", "svdnet std", "small", "small std",
               "small method", "small parameters", "seeds", "difference (pp)", "p",
               "adjusted p", "verdict"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    renamed = {"first mean": "svdnet", "first std": "svdnet std", "second mean": "small",
               "second std": "small std", "against": "small method",
               "second parameters": "small parameters"}
    renamed.update({f"first {name}": name for name in (
        "parameters", "parameters min", "parameters max", "compression", "compression min",
        "compression max")})
    table = table.rename(columns=renamed)
    table["size"] = table["small parameters"].round().astype(int)
    table["size compression"] = table["second compression"]
    table["configuration"] = [size_text(c, v) for c, v in zip(table["choice"], table["value"])]
    table["seeds"] = np.minimum(table["first seeds"], table["second seeds"])
    return (table.sort_values(["dataset", "size", "parameters", "method"])[columns]
            .reset_index(drop=True))


KEEPS_PACE = ("better", "no significant difference")
"""The verdicts against ``small`` under which a configuration can keep pace with it
(:func:`keeps_pace`)."""


def keeps_pace(frame: pd.DataFrame, tolerance: float = 0.5, methods=SVD_METHODS,
               alpha: float = ALPHA) -> pd.DataFrame:
    """Down to which size each method keeps pace with the plain network trained small,
    from the tests of :func:`small_comparison`: the practitioner's choice of method by
    size.

    A method keeps pace at a size when one of its configurations there (a rank or a
    budget) is not worse than ``small`` by the test (a verdict of :data:`KEEPS_PACE`) and
    its mean is at most ``tolerance`` points below ``small``'s. Its limit is the most
    compressed size down to which it keeps pace at every size it was tested at, from the
    least compressed on.

    Args:
        frame: The frame of :func:`load_results`.
        tolerance: How many percentage points below ``small``'s mean still keep pace.
            Defaults to 0.5.
        methods: The method labels to judge. Defaults to :data:`SVD_METHODS` (the core
            methods, without options).
        alpha: The significance level. Defaults to :data:`ALPHA`.

    Returns:
        One row per dataset and method tested against ``small``, by dataset and in the
        order of ``methods``: ``dataset``, ``method``, ``sizes`` (how many sizes it was
        tested at), ``limit`` (the ``size compression`` of its limit, ``NaN`` when it does
        not keep pace at its least compressed size) and, from the configuration that keeps
        pace at the limit (the highest mean where several do), ``configuration``,
        ``svdnet``, ``svdnet std``, ``small``, ``small std``, ``difference (pp)``,
        ``adjusted p`` and ``verdict``.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be at least 0 points; received {tolerance!r}.")
    table = small_comparison(frame, alpha)
    table = table.assign(keeps=table["verdict"].isin(KEEPS_PACE)
                         & (table["difference (pp)"] >= -tolerance))
    at_limit = ["configuration", "svdnet", "svdnet std", "small", "small std",
                "difference (pp)", "adjusted p", "verdict"]
    rows = []
    for dataset in dataset_order(table["dataset"]):
        for method in methods:
            part = table[(table["dataset"] == dataset) & (table["method"] == method)]
            if part.empty:
                continue
            sizes = (part.groupby("size")
                     .agg(compression=("size compression", "first"), keeps=("keeps", "any"))
                     .sort_values("compression"))
            held = sizes["keeps"].cummin()
            row = {"dataset": dataset, "method": method, "sizes": len(sizes),
                   "limit": np.nan, **dict.fromkeys(at_limit, np.nan)}
            if held.any():
                size = sizes.index[held][-1]
                best = part[(part["size"] == size) & part["keeps"]].sort_values(
                    "svdnet", ascending=False).iloc[0]
                row.update(limit=sizes.at[size, "compression"],
                           **{column: best[column] for column in at_limit})
            rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "method", "sizes", "limit", *at_limit])


def readable_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`small_comparison` with its numbers as text, for the report: accuracies as
    mean ± std over seeds, sizes as the mean with the seeds' range, p-values.

    Args:
        table: The table of :func:`small_comparison`.
    """
    return pd.DataFrame({
        "dataset": table["dataset"].map(dataset_name),
        "size": table["size"].map("{:,}".format),
        "configuration": table["configuration"], "method": table["method"],
        "parameters": [mean_range_text(m, lo, hi) for m, lo, hi in zip(
            table["parameters"], table["parameters min"], table["parameters max"])],
        "compression": [mean_range_text(m, lo, hi, "{:.1f}", "x") for m, lo, hi in zip(
            table["compression"], table["compression min"], table["compression max"])],
        "svdnet": [accuracy_text(m, s) for m, s in zip(table["svdnet"], table["svdnet std"])],
        "small": [accuracy_text(m, s) for m, s in zip(table["small"], table["small std"])],
        "small method": table["small method"],
        "small parameters": table["small parameters"].map("{:,.0f}".format),
        "seeds": table["seeds"], "difference (pp)": table["difference (pp)"].map("{:+.2f}".format),
        "p": table["p"].map("{:.2g}".format), "adjusted p": table["adjusted p"].map("{:.2g}".format),
        "verdict": table["verdict"]})


def readable_tests(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`comparisons` with its numbers as text, for the report: one row per tested
    comparison, the first configuration against the second.

    Args:
        table: The table of :func:`comparisons`.
    """
    def side(method, choice, value, mean, std, seeds):
        return [f"{m} {size_text(c, v)}: {accuracy_text(a, s)} ({n} seeds)"
                for m, c, v, a, s, n in zip(method, choice, value, mean, std, seeds)]

    return pd.DataFrame({
        "question": table["question"], "dataset": table["dataset"].map(dataset_name),
        "first": side(table["method"], table["choice"], table["value"], table["first mean"],
                      table["first std"], table["first seeds"]),
        "second": side(table["against"], table["against choice"], table["against value"],
                       table["second mean"], table["second std"], table["second seeds"]),
        "difference (pp)": table["difference (pp)"].map("{:+.2f}".format),
        "p": table["p"].map("{:.2g}".format), "adjusted p": table["adjusted p"].map("{:.2g}".format),
        "verdict": table["verdict"]})


def verdict_counts(table: pd.DataFrame) -> dict:
    """How many rows of a :func:`significance` table have each of :data:`VERDICTS`."""
    counts = table["verdict"].value_counts() if len(table) else {}
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}


def losing_from(part: pd.DataFrame):
    """The smallest ``size compression`` from which every configuration of one dataset's
    :func:`small_comparison` rows is ``"worse"`` than ``small`` at every larger
    compression too, or ``None`` when some configuration at the most compressed size is
    not worse.

    Args:
        part: One dataset's rows of :func:`small_comparison`.
    """
    sizes = (part.groupby("size")
             .agg(compression=("size compression", "first"),
                  worse=("verdict", lambda verdicts: bool((verdicts == "worse").all())))
             .sort_values("compression", ascending=False))
    tail = sizes["worse"].cummin()
    return sizes.loc[tail, "compression"].min() if tail.any() else None


def statistics_note(table: pd.DataFrame, alpha: float = ALPHA,
                    scope: str = "the report makes") -> str:
    """How the verdicts were reached, for the pages: the test, the seeds, the correction
    and the number of comparisons it covered.

    Args:
        table: The table of :func:`significance` whose p-values were corrected together
            (for the report, :func:`comparisons`).
        alpha: The significance level. Defaults to :data:`ALPHA`.
        scope: Which comparisons ``table`` holds, after "all N comparisons". Defaults to
            ``"the report makes"``.
    """
    if table.empty:
        return ""
    seeds = sorted(set(table["first seeds"]) | set(table["second seeds"]))
    seeds_text = (f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}")
    return (f"Welch's t-test over {seeds_text} seeds per side, two-sided, with "
            f"Benjamini-Hochberg's correction over all {len(table)} comparisons {scope}; a "
            f"difference counts at an adjusted p below {alpha:g}")


def output_layer_sentence(ranks, input_dim: int = 784, num_classes: int = 10,
                          depth: int = 5, width: int = 1024) -> str:
    """Where the output layer is factorized, drawn from :func:`svdnet.factorization_plan`
    on the reference MLP at each of ``ranks``."""
    from svdnet import factorization_plan
    from svdnet.cost import break_even_rank
    from svdnet.experiments.model import build_mlp

    model = build_mlp(input_dim=input_dim, num_classes=num_classes, depth=depth, width=width)
    factorized = [rank for rank in sorted(ranks)
                  if {item.name: item.rank for item in
                      factorization_plan(model, rank=int(rank))}["output"] is not None]
    kept = [rank for rank in sorted(ranks) if rank not in factorized]
    shape = f"{width} x {num_classes}"
    if not factorized:
        return (f"The output layer ({shape}) is never factorized at these ranks: its factors "
                f"would not be smaller than the kernel (break-even rank "
                f"{break_even_rank(width, num_classes)}).")
    return (f"The output layer ({shape}) is factorized only below its break-even rank "
            f"({break_even_rank(width, num_classes)} is the largest rank whose factors are "
            f"smaller): here at rank{'s' if len(factorized) > 1 else ''} "
            f"{', '.join(str(int(r)) for r in factorized)}, where the layer's logits then span at "
            "most that many directions, which limits what the network can learn, not how "
            "many classes it can output"
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
        seeds, the exported model's parameters and compression (means over seeds: an
        energy threshold can choose other ranks for another seed) and the chosen ranks of
        the first seed, sorted by dataset and parameters.
    """
    part = frame[(frame["method"] == method) & frame["choice"].isin(["rank", "energy", "budget"])]
    if part.empty:
        return pd.DataFrame(columns=["dataset", "choice", "value", "mean", "std", "seeds",
                                     "factorized parameters", "compression", "chosen ranks"])
    table = part.groupby(["dataset", "choice", "value"]).agg(
        mean=("test accuracy", "mean"),
        std=("test accuracy", "std"),
        seeds=("seed", "nunique"),
        **{"factorized parameters": ("factorized parameters", "mean"),
           "compression": ("compression", "mean"),
           "chosen ranks": ("chosen ranks", "first")},
    ).reset_index()
    return table.sort_values(["dataset", "factorized parameters"]).reset_index(drop=True)


def time_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Median training, SVD and wall seconds per run, by dataset, method and rank
    (uniform-rank and dense runs)."""
    frame = frame[frame["choice"].isin(["dense", "rank"])]
    return (frame.fillna({"rank": 0})
            .groupby(["dataset", "method", "rank"])[["train s", "svd s", "wall s"]]
            .median().reset_index().astype({"rank": int}))


def reused_seconds(results_dir: str, frame: pd.DataFrame) -> pd.Series:
    """The dense training each run reused instead of doing it itself, in seconds, from the
    stored timings of the dense run it names: the dense epochs before the factorization
    (``finetune``: all but its ``finetune epochs``; ``posthoc``: all of them; the epochs
    are those the weights file named by the result's ``dense_source`` was saved after) and the teacher's whole training (a distilled run, through
    its ``teacher_source``). A run that reused nothing counts 0; a named dense run whose
    result is missing counts ``NaN``.

    Args:
        results_dir: The folder of the result files of ``frame``.
        frame: The frame of :func:`load_results`.

    Returns:
        A Series aligned with ``frame``.
    """
    epochs_pattern = re.compile(r"-e(\d+)-")
    dense_epochs = {}  # dense result name with its epochs masked -> seconds per epoch
    for name in frame.loc[frame["method"] == "dense", "file"]:
        run = read_json(os.path.join(results_dir, name))["run"]
        dense_epochs[epochs_pattern.sub("-e*-", name.removesuffix(".json"), count=1)] = (
            run.get("epoch_seconds") or [run["train_seconds"]])

    def dense(source):
        # "mnist-dense-5x1024-e8-b128-seed0.weights.h5": the weights the 10-epoch dense
        # run saved after its 8th epoch, so the first 8 epochs of that run's time.
        stem = os.path.basename(source).removesuffix(".weights.h5")
        epochs = epochs_pattern.search(stem)
        seconds = dense_epochs.get(epochs_pattern.sub("-e*-", stem, count=1))
        if seconds is None:
            return np.nan
        return float(np.sum(seconds[: int(epochs.group(1))] if epochs else seconds))

    values = []
    for name in frame["file"]:
        payload = read_json(os.path.join(results_dir, name))
        values.append(sum(dense(payload[key]) for key in ("dense_source", "teacher_source")
                          if payload.get(key)))
    return pd.Series(values, index=frame.index, dtype=float)


def build_time_table(frame: pd.DataFrame, reused: pd.Series | None = None) -> pd.DataFrame:
    """What the runs behind the report cost: runs and summed wall time per method.

    Every run's ``wall s`` is summed as recorded, whatever commit made it; a run that reused
    a cached dense training (``posthoc``, ``finetune``) or a trained teacher (``+kd``)
    counts only its own time in ``wall h``, and the dense training is counted once, in the
    ``dense`` row. Papermill's per-notebook start-up is not in any run's time.

    Args:
        frame: The frame of ``load_results``.
        reused: The dense training seconds each run reused (:func:`reused_seconds`),
            aligned with ``frame``: the table then adds ``reused dense h`` and ``h if run
            alone`` (its own wall time plus what it reused, what the method costs without
            a cache). Defaults to ``None``: not shown.

    Returns:
        One row per method (``runs``, ``wall h``, ``median wall min``, and with
        ``reused`` the two columns above), slowest method first, then a ``total`` row;
        runs without a recorded wall time count in ``runs`` but not in the times.
    """
    columns = ["method", "runs", "wall h", "median wall min"]
    if reused is not None:
        columns += ["reused dense h", "h if run alone"]
        frame = frame.assign(reused=reused)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    aggregations = {"runs": ("wall s", "size"), "total": ("wall s", "sum"),
                    "median": ("wall s", "median")}
    if reused is not None:
        aggregations["reused"] = ("reused", "sum")
    table = frame.groupby("method").agg(**aggregations).reset_index()
    table["wall h"] = table.pop("total") / 3600
    table["median wall min"] = table.pop("median") / 60
    total = {"method": "total", "runs": int(table["runs"].sum()),
             "wall h": table["wall h"].sum(), "median wall min": frame["wall s"].median() / 60}
    if reused is not None:
        table["reused dense h"] = table.pop("reused") / 3600
        table["h if run alone"] = table["wall h"] + table["reused dense h"]
        total["reused dense h"] = table["reused dense h"].sum()
        total["h if run alone"] = table["h if run alone"].sum()
    table = table.sort_values("wall h", ascending=False)
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)[columns]


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
