"""The report's prose, computed from the results: the summary on the landing page and the
conclusions of the report page. Every number in these sentences comes from the result
files (through :func:`svdnet.experiments.report.load_results`), so a changed result
changes the sentence; nothing is typed by hand.

Each function takes the frame of ``load_results`` and returns Markdown (``""`` when the
results it needs are not there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from svdnet.experiments.formatting import (
    accuracy_text,
    compression_text,
    dataset_name,
    dataset_order,
    points,
    size_text,
)
from svdnet.experiments.options import METHOD_OPTIONS
from svdnet.experiments.report import (
    SVD_METHODS,
    accuracy_table,
    best_at_least,
    build_time_table,
    comparisons,
    energy_rank_range,
    is_svd,
    keeps_pace,
    losing_from,
    main_epochs,
    reference_table,
    small_comparison,
    smallest_within,
    statistics_note,
    verdict_counts,
)


def _datasets(frame: pd.DataFrame) -> list[str]:
    return dataset_order(frame["dataset"]) if len(frame) else []


def _point_s(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _dense(frame: pd.DataFrame, dataset: str) -> tuple[float, float]:
    """Mean and std over seeds of the dense network's test accuracy on ``dataset``."""
    runs = frame.loc[(frame["dataset"] == dataset) & (frame["method"] == "dense"),
                     "test accuracy"]
    return (runs.mean(), runs.std()) if len(runs) else (np.nan, np.nan)


def _ranked(frame: pd.DataFrame, dataset: str, method: str) -> pd.DataFrame:
    """The uniform-rank rows of one method on one dataset, by rank."""
    table = accuracy_table(frame)
    return table[(table["dataset"] == dataset) & (table["method"] == method)].sort_values("rank")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _span(values, fmt="{:.1f}") -> str:
    low, high = min(values), max(values)
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else \
        f"{fmt.format(low)} to {fmt.format(high)}"


PHRASES = {"better": "better than", "worse": "worse than",
           "no significant difference": "not significantly different from",
           "not tested": "not tested against"}
"""A verdict of :func:`svdnet.experiments.report.significance` as the words between
the two configurations it compares."""


def _adjusted(row) -> str:
    return f"adjusted p {row['adjusted p']:.2g}" if pd.notna(row["adjusted p"]) else "not tested"


def _compressions(rows: pd.DataFrame) -> str:
    return _span(rows["size compression"], "{:.0f}") + "x"


def against_small(frame: pd.DataFrame) -> str:
    """Every SVD configuration against the plain network trained small at the same size
    (:func:`svdnet.experiments.report.small_comparison`): per dataset, how many are
    better, not significantly different or worse, which are better, and from which
    compression on every configuration is worse."""
    every = comparisons(frame)
    table = small_comparison(frame)
    clauses = []
    for dataset in _datasets(table):
        part = table[table["dataset"] == dataset]
        counts = verdict_counts(part)
        pieces = []
        better = part[part["verdict"] == "better"]
        if len(better):
            pieces.append(f"better at {len(better)} (" + "; ".join(
                f"`{row['method']}` {row['configuration']}, "
                f"{accuracy_text(row['svdnet'], row['svdnet std'])} against "
                f"{accuracy_text(row['small'], row['small std'])}, {_adjusted(row)}"
                for _, row in better.iterrows()) + ")")
        else:
            pieces.append("better at none")
        same = part[part["verdict"] == "no significant difference"]
        if len(same):
            pieces.append(f"not significantly different at {len(same)} "
                          f"({_compressions(same)} fewer parameters)")
        worse = part[part["verdict"] == "worse"]
        if len(worse):
            pieces.append(f"worse at {len(worse)} ({_compressions(worse)} fewer parameters, "
                          f"by {_span(-worse['difference (pp)'])} points)")
        if counts["not tested"]:
            pieces.append(f"not tested at {counts['not tested']} (fewer than 2 seeds)")
        clause = (f"on {dataset_name(dataset)}, of {len(part)} configurations at "
                  f"{part['size'].nunique()} sizes, svdnet is " + _join(pieces))
        threshold = losing_from(part)
        if threshold is not None:
            clause += (f"; every configuration is worse at every size from "
                       f"{threshold:.0f}x fewer parameters on")
        clauses.append(clause)
    if not clauses:
        return ""
    return ("**Against a plain network trained small** (each SVD configuration, with its "
            "options, against the same depth narrowed to the same parameter count and "
            "trained with the same recipe, output layer and teacher; "
            + statistics_note(every) + "): " + "; ".join(clauses) + ".")


def at_reference_rank(frame: pd.DataFrame, rank: int = 20) -> str:
    """Each method at the reference rank against the dense network, per dataset."""
    table = reference_table(accuracy_table(frame), rank=rank)
    clauses, compression = [], None
    for dataset in _datasets(table):
        part = table[table["dataset"] == dataset]
        dense = part[part["method"] == "dense"]
        others = part[part["method"] != "dense"].sort_values("accuracy", ascending=False)
        if dense.empty or others.empty:
            continue
        svd = others[is_svd(others["method"])]
        if len(svd):
            compression = svd["compression"].iloc[0]
        items = []
        for _, row in others.iterrows():
            size = (f", {compression_text(row['compression'])}"
                    if not is_svd(pd.Series([row["method"]])).iloc[0] else "")
            items.append(f"`{row['method']}` {accuracy_text(row['accuracy'], row['std'])} "
                         f"({row['vs dense (pp)']:+.2f}{size})")
        clauses.append(f"on {dataset_name(dataset)} (dense "
                       f"{accuracy_text(dense['accuracy'].iloc[0], dense['std'].iloc[0])}): "
                       + ", ".join(items))
    if not clauses:
        return ""
    lead = f"**At the reference rank {rank}**"
    if compression is not None:
        lead += f" ({compression_text(compression)} fewer parameters)"
    return lead + ", points against dense in brackets, " + "; ".join(clauses) + "."


def truncating_once(frame: pd.DataFrame, tolerance: float = 1.0) -> str:
    """How far truncating the trained dense network once (``posthoc``) holds: the lowest
    rank from which it stays within ``tolerance`` points of dense and what it gives below;
    then, from the tests of :func:`svdnet.experiments.report.comparisons`, at which ranks
    the methods that train with the factorization are better than it, and at which
    none is."""
    clauses = []
    tests = comparisons(frame)
    tests = tests[tests["question"] == "trained against posthoc"]
    for dataset in _datasets(frame):
        posthoc = _ranked(frame, dataset, "posthoc")
        dense, _ = _dense(frame, dataset)
        if posthoc.empty or np.isnan(dense):
            continue
        close = posthoc["mean"] >= dense - tolerance / 100
        holding = posthoc[close[::-1].cummin()[::-1]]  # every rank from here up is close
        below = posthoc[~posthoc.index.isin(holding.index)]
        held = (f"down to rank {holding['rank'].iloc[0]}" if len(holding)
                else "at no rank")
        clause = (f"on {dataset_name(dataset)} it stays within {_point_s(tolerance)} of dense "
                  f"{held}")
        if len(below):
            clause += ", then falls: " + ", ".join(
                f"rank {row['rank']} {accuracy_text(row['mean'], row['std'], 1)}"
                for _, row in below.sort_values("rank", ascending=False).iterrows())
        part = tests[tests["dataset"] == dataset]
        if len(part):
            ranks = part.groupby("value")["verdict"].agg(set)
            better = [f"{value:g}" for value, verdicts in ranks.items() if "better" in verdicts]
            none = [f"{value:g}" for value, verdicts in ranks.items() if "better" not in verdicts]
            worse = part[part["verdict"] == "worse"]
            clause += ("; a method that trains with the factorization is better than it at "
                       + (f"rank{'s' if len(better) > 1 else ''} {_join(better)}" if better
                          else "no rank"))
            if none:
                clause += (f", none is at rank{'s' if len(none) > 1 else ''} {_join(none)}")
            clause += (f" ({verdict_counts(part)['better']} of {len(part)} comparisons better, "
                       f"{len(worse)} worse)")
        clauses.append(clause)
    if not clauses:
        return ""
    return ("**Compress while training, not after, at small ranks.** Truncating the trained "
            "dense network once (`posthoc`), and `projection`, `finetune` and `lowrank` "
            "tested against it at each rank (the same tests and correction as above): "
            + "; ".join(clauses) + ".")


def best_method_by_rank(frame: pd.DataFrame) -> str:
    """Which of the four SVD methods (without options, which :func:`variants` compares)
    has the highest mean accuracy at each uniform rank: a description, not a verdict
    (the methods are tested against ``posthoc`` in :func:`truncating_once` and against
    ``small`` in :func:`against_small`, not against each other)."""
    table = accuracy_table(frame)
    clauses = []
    for dataset in _datasets(frame):
        part = table[(table["dataset"] == dataset) & table["method"].isin(SVD_METHODS)]
        winners = {}
        for rank, at_rank in part.groupby("rank"):
            best = at_rank.sort_values("mean", ascending=False).iloc[0]
            winners.setdefault(best["method"], []).append(str(rank))
        if not winners:
            continue
        ordered = sorted(winners.items(), key=lambda item: -len(item[1]))
        clauses.append(f"on {dataset_name(dataset)} " + "; ".join(
            f"`{method}` at rank{'s' if len(ranks) > 1 else ''} {', '.join(ranks)}"
            for method, ranks in ordered))
    if not clauses:
        return ""
    return ("**The highest mean at each rank** among the four SVD methods (a description: "
            "they are not tested against each other): " + "; ".join(clauses) + ".")


def training_accuracy_trap(frame: pd.DataFrame, method: str = "projection",
                           tolerance: float = 1.0) -> str:
    """Where the accuracy Keras reports while training ``method`` hides what the exported
    model tests at: the ranks whose gap between the last epoch's training accuracy and
    the test accuracy exceeds the dense network's own gap by more than ``tolerance``
    points."""
    clauses = []
    for dataset in _datasets(frame):
        runs = frame[(frame["dataset"] == dataset) & (frame["method"] == method)
                     & (frame["choice"] == "rank")]
        dense = frame[(frame["dataset"] == dataset) & (frame["method"] == "dense")]
        if runs.empty or dense.empty or runs["train accuracy"].isna().all():
            continue
        dense_gap = (dense["train accuracy"] - dense["test accuracy"]).mean()
        hidden = []
        for rank, at_rank in runs.groupby("rank"):
            gap = (at_rank["train accuracy"] - at_rank["test accuracy"]).mean()
            if gap > dense_gap + tolerance / 100:
                hidden.append((rank, at_rank))
        if hidden:
            clause = f"on {dataset_name(dataset)}, " + "; ".join(
                f"rank {rank:g} trained at {_span(100 * at_rank['train accuracy'])}% and "
                f"tests at {accuracy_text(at_rank['test accuracy'].mean(), at_rank['test accuracy'].std(), 1)}"
                for rank, at_rank in hidden)
            above = runs[runs["rank"] > max(rank for rank, _ in hidden)]
            if len(above):
                clause += (f"; from rank {above['rank'].min():g} up the gap is within "
                           f"{_point_s(tolerance)} of the dense network's own "
                           f"({100 * dense_gap:.1f} points)")
        else:
            clause = (f"on {dataset_name(dataset)} no rank's gap exceeds the dense network's "
                      f"own ({100 * dense_gap:.1f} points) by more than {_point_s(tolerance)}")
        clauses.append(clause)
    if not clauses:
        return ""
    return (f"**`{method}`'s training accuracy can hide its test accuracy.** Keras measures "
            "it on the weights between projections, which regrow full rank within each "
            "epoch; the exported model is what the projection leaves: " + "; ".join(clauses) + ".")


def high_ranks(frame: pd.DataFrame, from_rank: int = 50) -> str:
    """How far below dense each SVD method stays at ranks ``from_rank`` and above."""
    clauses = []
    for dataset in _datasets(frame):
        dense, _ = _dense(frame, dataset)
        items = []
        for method in SVD_METHODS:
            rows = _ranked(frame, dataset, method)
            rows = rows[rows["rank"] >= from_rank]
            if len(rows) and not np.isnan(dense):
                items.append(f"`{method}` {_span(100 * (dense - rows['mean']), '{:.2f}')}")
        if items:
            clauses.append(f"on {dataset_name(dataset)} " + ", ".join(items))
    if not clauses:
        return ""
    return (f"**From rank {from_rank} up**, points below dense (a negative value is above "
            "it): " + "; ".join(clauses) + ".")


def _configuration(method, choice, value, parameters, mean, std) -> str:
    return (f"`{method}` {size_text(choice, value)} ({parameters:,.0f} parameters) "
            f"{accuracy_text(mean, std)}")


def budget_against_uniform(frame: pd.DataFrame) -> str:
    """``finetune`` with budget-chosen ranks against ``finetune`` with one rank for every
    layer at the nearest size, with both models' real parameter counts (the uniform
    model's output layer is factorized at small ranks, so the two sizes can differ), from
    the tests of :func:`svdnet.experiments.report.comparisons`."""
    tests = comparisons(frame)
    tests = tests[tests["question"] == "budget against one rank"]
    clauses = []
    for dataset in _datasets(tests):
        items = []
        for _, row in tests[tests["dataset"] == dataset].iterrows():
            larger = row["first parameters"] / row["second parameters"] - 1
            size = ("the same size" if abs(larger) < 0.005 else
                    f"the budget model {abs(larger):.0%} {'larger' if larger > 0 else 'smaller'}")
            items.append(
                _configuration(row["method"], row["choice"], row["value"],
                               row["first parameters"], row["first mean"], row["first std"])
                + f" is {PHRASES[row['verdict']]} rank {row['against value']:g} "
                f"({row['second parameters']:,.0f} parameters, {size}) "
                f"{accuracy_text(row['second mean'], row['second std'])} "
                f"({points(row['first mean'] - row['second mean'])}, {_adjusted(row)})")
        clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    if not clauses:
        return ""
    return ("**Ranks chosen within a parameter budget against one rank** (`finetune`; "
            f"better at {verdict_counts(tests)['better']} of {len(tests)}, worse at "
            f"{verdict_counts(tests)['worse']}): " + "; ".join(clauses) + ".")


def energy_thresholds(frame: pd.DataFrame) -> str:
    """The ranks, sizes and accuracies that each energy threshold gave."""
    values = sorted(frame.loc[frame["choice"] == "energy", "value"].unique()) if len(frame) else []
    sentences = [energy_rank_range(frame, value) for value in values]
    sentences = [sentence for sentence in sentences if sentence]
    if not sentences:
        return ""
    return ("**Energy thresholds** (each kernel keeps a fraction of its squared singular "
            "values): " + "; ".join(sentences) + ".")


def compression_goal(frame: pd.DataFrame, minimum: float = 50.0,
                     tolerance: float = 0.5) -> str:
    """Whether an SVD method reaches ``minimum`` times fewer parameters within
    ``tolerance`` points of dense, by any rank choice; and the most compressed model that
    stays within ``tolerance`` points (:func:`svdnet.experiments.report.smallest_within`)."""
    clauses = []
    for dataset in _datasets(frame):
        dense, _ = _dense(frame, dataset)
        best = best_at_least(frame, dataset, minimum)
        if np.isnan(dense) or best is None:
            continue
        reached = best["mean"] >= dense - tolerance / 100
        clause = (f"on {dataset_name(dataset)} {'reached' if reached else 'missed'}: the best "
                  f"model with at least {minimum:g}x fewer parameters is `{best['method']}` "
                  f"{size_text(best['choice'], best['value'])}, "
                  f"{accuracy_text(best['mean'], best['std'])} "
                  f"({points(best['mean'] - dense)}, {compression_text(best['compression'])})")
        close = smallest_within(frame, dataset, tolerance)
        if close is not None:
            clause += (f"; the most compressed within {tolerance:g} points is `{close['method']}` "
                       f"{size_text(close['choice'], close['value'])}, "
                       f"{accuracy_text(close['mean'], close['std'])}, "
                       f"{compression_text(close['compression'])}")
        clauses.append(clause)
    if not clauses:
        return ""
    return (f"**The {minimum:g}x goal** (within {tolerance:g} points of dense, by any rank "
            "choice): " + "; ".join(clauses) + ".")


def build_cost(frame: pd.DataFrame, reused: pd.Series | None = None) -> str:
    """What the runs behind the report cost in wall time, per method, and with ``reused``
    (:func:`svdnet.experiments.report.reused_seconds`) the dense training that
    ``finetune``, ``posthoc`` and the distilled runs reused from the dense runs."""
    cost = build_time_table(frame, reused)
    if cost.empty:
        return ""
    cost = cost.set_index("method")
    total = cost.loc["total"]
    text = (f"**What the build cost**: {total['wall h']:.1f} hours of wall time for "
            f"{int(total['runs'])} runs (summed as recorded; each dense training counted "
            "once): " + ", ".join(f"`{method}` {row['wall h']:.1f} h ({int(row['runs'])} runs)"
                                  for method, row in cost.drop(index="total").iterrows()) + ".")
    if reused is not None:
        borrowed = cost.drop(index="total")
        borrowed = borrowed[borrowed["reused dense h"] > 0]
        if len(borrowed):
            text += (" Not in those times: the dense training some runs start from instead of "
                     "doing it (the dense epochs before `finetune` factorizes, all of them for "
                     "`posthoc`, the teacher of a `+kd` run), from the dense runs' stored epoch "
                     "times: " + ", ".join(
                         f"`{method}` {row['reused dense h']:.1f} h more "
                         f"({row['h if run alone']:.1f} h if run alone)"
                         for method, row in borrowed.iterrows()) + ".")
    return text


def conclusions(frame: pd.DataFrame, reference_rank: int = 20, tolerance: float = 0.5,
                minimum: float = 50.0, reused: pd.Series | None = None) -> list[str]:
    """The report's conclusions, one Markdown paragraph each, in reading order.

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
        reference_rank: The rank compared method by method. Defaults to 20.
        tolerance: Accuracy loss in percentage points still "close to dense". Defaults
            to 0.5.
        minimum: The compression goal, in times fewer parameters. Defaults to 50.
        reused: The dense training seconds each run reused
            (:func:`svdnet.experiments.report.reused_seconds`), for the build's cost.
            Defaults to ``None``: the cost leaves them out and does not state them.
    """
    paragraphs = [against_small(frame), variants(frame),
                  compression_goal(frame, minimum, tolerance),
                  at_reference_rank(frame, reference_rank), truncating_once(frame),
                  best_method_by_rank(frame), training_accuracy_trap(frame),
                  high_ranks(frame), budget_against_uniform(frame), budget_options(frame),
                  data_aware(frame), ceiling(frame), energy_thresholds(frame),
                  build_cost(frame, reused)]
    return [paragraph for paragraph in paragraphs if paragraph]


def summary(frame: pd.DataFrame, tolerance: float = 0.5, minimum: float = 50.0) -> list[str]:
    """A few sentences for the landing page: the dense accuracy, the most compressed model
    close to it, the compression goal, and the verdict against the plain small network.

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
        tolerance: Accuracy loss in percentage points still "close to dense". Defaults
            to 0.5.
        minimum: The compression goal, in times fewer parameters. Defaults to 50.
    """
    sentences = []
    datasets = _datasets(frame)
    dense = [f"{accuracy_text(*_dense(frame, dataset))} on {dataset_name(dataset)}"
             for dataset in datasets if not np.isnan(_dense(frame, dataset)[0])]
    if dense:
        seeds = frame.loc[frame["method"] == "dense", "seed"].nunique()
        sentences.append(f"The dense network reaches {_join(dense)} (mean ± std over "
                         f"{seeds} seed{'s' if seeds > 1 else ''}).")
    close = []
    for dataset in datasets:
        row = smallest_within(frame, dataset, tolerance)
        if row is not None:
            close.append(f"{compression_text(row['compression'])} fewer parameters on "
                         f"{dataset_name(dataset)} (`{row['method']}`, "
                         f"{size_text(row['choice'], row['value'])}: "
                         f"{accuracy_text(row['mean'], row['std'])})")
    if close:
        sentences.append(f"svdnet compresses it within {tolerance:g} points of dense down to "
                         + _join(close) + ".")
    goal = []
    for dataset in datasets:
        best = best_at_least(frame, dataset, minimum)
        if best is not None:
            goal.append(f"{accuracy_text(best['mean'], best['std'])} on {dataset_name(dataset)} "
                        f"({points(best['mean'] - _dense(frame, dataset)[0])})")
    if goal:
        sentences.append(f"At {minimum:g}x fewer parameters its best is {_join(goal)}.")
    table = small_comparison(frame)
    if len(table):
        counts = verdict_counts(table)
        seeds = sorted(set(table["seeds"]))
        sentences.append(
            f"Against a plain network of the same size trained from scratch, each svdnet "
            f"configuration (method, options and size) tested on its own "
            f"({statistics_note(comparisons(frame))}): better at {counts['better']} of "
            f"{len(table)} configurations, not significantly different at "
            f"{counts['no significant difference']} and worse at {counts['worse']}"
            + (f", not tested at {counts['not tested']}" if counts["not tested"] else "")
            + f"; the accuracies are means ± standard deviations over {_join([str(n) for n in seeds])} "
            "seeds, whose spread is in the table below.")
        losing = [f"{threshold:.0f}x or more on {dataset_name(dataset)}"
                  for dataset in _datasets(table)
                  if (threshold := losing_from(table[table["dataset"] == dataset])) is not None]
        if losing:
            sentences[-1] += (" Every configuration is worse at every size compressed "
                              + _join(losing) + ": there, train the small network instead.")
    return sentences


def practice(frame: pd.DataFrame, tolerance: float = 0.5) -> list[str]:
    """The practitioner's paragraphs of the landing page: which method keeps pace with
    ``small`` down to which size (:func:`svdnet.experiments.report.keeps_pace`); then when
    to train ``small`` instead, how svdnet fares against it over all sizes
    (:func:`svdnet.experiments.report.small_comparison`) and down to which size ``small``
    itself stays within ``tolerance`` points of dense
    (:func:`svdnet.experiments.report.smallest_within`).

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
        tolerance: Percentage points: how far below ``small`` a method still keeps pace
            with it, and how far below dense ``small`` still counts as close. Defaults to
            0.5.

    Returns:
        Two Markdown paragraphs, or none when no configuration was set against ``small``.
    """
    table = small_comparison(frame)
    if table.empty:
        return []
    pace = keeps_pace(frame, tolerance)
    reach = pace.groupby("method", sort=False)["limit"].agg(["max", "min"]).fillna(0)
    items = [f"`{method}` " + _limits(pace[pace["method"] == method])
             for method in sorted(reach.index, key=lambda m: (-reach.at[m, "max"],
                                                              -reach.at[m, "min"]))]
    verdicts = set(pace["verdict"].dropna())
    which = ("**Which method at which size.** A method keeps pace with `small`, the plain "
             "network trained at the same size, down to a size when there and at every "
             f"larger size the test does not find it worse and its mean is at most "
             f"{_point_s(tolerance)} below `small`'s: " + "; ".join(items) + "."
             + (f" At each of these limits the test's verdict is {verdicts.pop()}."
                if len(verdicts) == 1 else ""))
    counts = verdict_counts(table)
    seeds = _join([str(n) for n in sorted(set(table["seeds"]))])
    instead = ("**When to train `small` instead.** Beyond those sizes"
               + (". No svdnet configuration is better than it at any size"
                  if not counts["better"] else "")
               + f": of svdnet's {len(table)} configurations set against `small`, "
               f"{counts['better'] or 'none'} {'is' if counts['better'] <= 1 else 'are'} "
               f"better, {counts['no significant difference']} not significantly different "
               f"and {counts['worse']} worse"
               + (f", {counts['not tested']} not tested" if counts["not tested"] else "")
               + f" (Welch's t-test over {seeds} seeds a side, Benjamini-Hochberg-corrected; "
               "so few seeds detect only large gaps)")
    losing = [f"{threshold:.0f}x up on {dataset_name(dataset)}" for dataset in _datasets(table)
              if (threshold := losing_from(table[table["dataset"] == dataset])) is not None]
    if losing:
        instead += "; every configuration is worse at every size from " + _join(losing)
    close = []
    for dataset in _datasets(table):
        row = smallest_within(frame, dataset, tolerance, methods=("small",))
        dense, _ = _dense(frame, dataset)
        close.append(f"at no size on {dataset_name(dataset)}" if row is None else
                     f"down to {compression_text(row['compression'])} on "
                     f"{dataset_name(dataset)} ({accuracy_text(row['mean'], row['std'])}, "
                     f"{points(row['mean'] - dense)})")
    instead += (f". `small` itself stays within {_point_s(tolerance)} of dense "
                + _join(close) + ".")
    return [which, instead]


def _limits(rows: pd.DataFrame) -> str:
    """One method's rows of :func:`svdnet.experiments.report.keeps_pace` in words: down to
    which size it keeps pace on each dataset, with the configuration there and its
    difference to ``small`` (the verdict too where the limits' verdicts differ)."""
    verdicts = rows["verdict"].dropna().nunique() > 1

    def detail(row):
        return (f"{row['configuration']}, {row['difference (pp)']:+.2f} points"
                + (f", {row['verdict']}" if verdicts else ""))

    held, never = rows[rows["limit"].notna()], rows[rows["limit"].isna()]
    names = [dataset_name(dataset) for dataset in never["dataset"]]
    if held.empty:
        return "at no size"
    if held["limit"].round(1).nunique() == 1:
        pieces = [f"down to {compression_text(held['limit'].iloc[0])} on "
                  + _join([dataset_name(d) for d in held["dataset"]]) + " ("
                  + "; ".join(f"{dataset_name(row['dataset'])} {detail(row)}"
                              if len(held) > 1 else detail(row)
                              for _, row in held.iterrows()) + ")"]
    else:
        pieces = [f"down to {compression_text(row['limit'])} on "
                  f"{dataset_name(row['dataset'])} ({detail(row)})"
                  for _, row in held.iterrows()]
    return _join(pieces + ([f"at no size on {_join(names)}"] if names else []))


def definitions(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """One line of definition for each method, size and option of the results, as
    ``(term, text)`` Markdown pairs, for the landing page. The epochs it names come from
    the results.

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
    """
    main = main_epochs(frame)
    tuned = frame.loc[(frame["method"] == "finetune") & (frame["epochs"] == main),
                      "finetune epochs"].dropna() if len(frame) else pd.Series(dtype=float)
    split = (f"for {main - int(tuned.mode().min())} epochs, truncates it, then trains the "
             f"factors for {int(tuned.mode().min())}" if len(tuned) and main else
             "for most of the epochs, truncates it, then trains the factors for the rest")
    terms = [
        ("`dense`", "the uncompressed network, the reference"
         + (f"; every run trains for {main} epochs in all" if main else "")),
        ("`projection`", ("trains the full network and replaces every kernel by its "
                          "truncated SVD at the end of each epoch")),
        ("`posthoc`", "trains dense, then truncates every kernel's SVD once, no retraining"),
        ("`finetune`", f"trains dense {split}"),
        ("`lowrank`", ("trains the factors from the start (initialised as the truncated SVD "
                       "of the dense initialisation)")),
        ("`small`", ("no SVD: the same depth narrowed to the compressed model's parameter "
                     "count, trained from scratch like `dense`")),
        ("rank k", "every layer factorized with its top k singular vectors"),
        ("budget", ("a parameter count for the whole network; each layer's rank is chosen "
                    "to fit it, shared by spectral energy")),
        ("Nx", "the dense network's parameters over the exported model's"),
    ]
    terms += [(f"`+{word}`", text) for option in METHOD_OPTIONS
              for word, text in option.definitions]  # each option's, from its table entry
    longer = sorted(int(e) for e in frame["epochs"].dropna().unique() if e != main) \
        if len(frame) else []
    terms += [(f"`+{epochs}ep`", f"trained for {epochs} epochs instead of {main}")
              for epochs in longer]
    return terms


def setup(frame: pd.DataFrame) -> str:
    """The training budget behind the results: the dense network's size, the epochs of a
    run, the split of ``finetune``'s epochs, the seeds and the number of runs."""
    if frame.empty:
        return ""
    epochs = sorted(int(value) for value in frame["epochs"].dropna().unique())
    seeds = sorted(int(value) for value in frame["seed"].unique())
    main = main_epochs(frame)
    longer = [str(e) for e in epochs if e != main]
    text = (f"{len(frame)} runs. The dense network has {frame['parameters'].iloc[0]:,.0f} "
            f"parameters; every run trains for {main} epochs in all"
            + (f" ({_join(longer)} for the runs marked +{longer[0]}ep)" if longer else "")
            + f" (seeds {', '.join(str(s) for s in seeds)})")
    tuned = frame.loc[frame["method"] == "finetune", ["epochs", "finetune epochs"]].dropna()
    if len(tuned):
        pairs = sorted({(int(e) - int(f), int(f)) for e, f in tuned.itertuples(index=False)})
        text += "; `finetune` trains " + _join(
            [f"dense for {dense} epochs, then the factors for {factors}"
             for dense, factors in pairs])
    return text + "."


def variants(frame: pd.DataFrame) -> str:
    """Each method's options (output layer kept dense, distillation, Frobenius decay)
    against the method alone, at the ranks where an option ran: mean accuracy and size."""
    clauses = []
    table = accuracy_table(frame)
    if table.empty:
        return ""
    table = table.assign(base=table["method"].str.split("+").str[0])
    for dataset in _datasets(frame):
        part = table[table["dataset"] == dataset]
        varied = part[part["method"] != part["base"]]
        items = []
        for (rank, base), _ in varied.groupby(["rank", "base"]):
            rows = part[(part["rank"] == rank) & (part["base"] == base)].sort_values(
                ["factorized parameters", "method"])
            items.append(f"rank {rank} " + ", ".join(
                f"`{row['method']}` {accuracy_text(row['mean'], row['std'])} "
                f"({row['factorized parameters']:,.0f} parameters)" for _, row in rows.iterrows()))
        if items:
            clauses.append(f"on {dataset_name(dataset)}: " + "; ".join(items))
    if not clauses:
        return ""
    shown = {word for method in table["method"] for word in method.split("+")[1:]}
    defined = "; ".join(f"`+{word}`: {text}" for option in METHOD_OPTIONS
                        for word, text in option.definitions if word in shown)
    return ("**Options of the methods at one rank**" + (f" ({defined})" if defined else "")
            + ", against the method alone: " + "; ".join(clauses) + ".")


def budget_options(frame: pd.DataFrame) -> str:
    """``finetune``'s options at each parameter budget (``+accuracy``: the budget shared by
    measured accuracy; ``+cosine``: a cosine learning rate) against ``finetune`` alone at
    the same budget, from the tests of :func:`svdnet.experiments.report.comparisons`."""
    tests = comparisons(frame)
    tests = tests[tests["question"] == "budget options"]
    clauses = []
    for dataset in _datasets(tests):
        items = [f"budget {row['value']:,.0f}: `{row['method']}` "
                 f"{accuracy_text(row['first mean'], row['first std'])} "
                 f"({row['first parameters']:,.0f} parameters) is {PHRASES[row['verdict']]} "
                 f"`finetune` {accuracy_text(row['second mean'], row['second std'])} "
                 f"({row['second parameters']:,.0f}; "
                 f"{points(row['first mean'] - row['second mean'])}, {_adjusted(row)})"
                 for _, row in tests[tests["dataset"] == dataset].iterrows()]
        clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    if not clauses:
        return ""
    return ("**`finetune`'s options at a parameter budget** (`+accuracy`: the budget shared "
            "by each layer's measured accuracy instead of its spectral energy; `+cosine`: the factor epochs' learning rate decays along a "
            "cosine; better at " f"{verdict_counts(tests)['better']} of {len(tests)}, worse "
            f"at {verdict_counts(tests)['worse']}): " + "; ".join(clauses) + ".")


def _tested_clauses(tests: pd.DataFrame, against) -> list[str]:
    """One clause per dataset of ``tests`` (rows of
    :func:`svdnet.experiments.report.comparisons`): each configuration, its verdict against
    ``against(row)`` (the other side's name), that side's accuracy, the difference and the
    adjusted p-value."""
    clauses = []
    for dataset in _datasets(tests):
        items = [_configuration(row["method"], row["choice"], row["value"],
                                row["first parameters"], row["first mean"], row["first std"])
                 + f" is {PHRASES[row['verdict']]} {against(row)} "
                 f"{accuracy_text(row['second mean'], row['second std'])} "
                 f"({points(row['first mean'] - row['second mean'])}, {_adjusted(row)})"
                 for _, row in tests[tests["dataset"] == dataset].iterrows()]
        clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    return clauses


def data_aware(frame: pd.DataFrame) -> str:
    """Each method's data-aware truncation (``+calib``: the SVD fitted to the layers'
    outputs on training examples) against the same method and size with the weights' SVD,
    from the tests of :func:`svdnet.experiments.report.comparisons`."""
    tests = comparisons(frame)
    tests = tests[tests["question"] == "data-aware against weight SVD"]
    clauses = _tested_clauses(tests, lambda row: f"`{row['against']}`")
    if not clauses:
        return ""
    counts = verdict_counts(tests)
    return ("**Data-aware truncation** (`+calib`: each kernel truncated to keep its layer's "
            "outputs on training examples closest, against the weights' SVD at the same "
            f"rank or budget; better at {counts['better']} of {len(tests)}, worse at "
            f"{counts['worse']}): " + "; ".join(clauses) + ".")


def ceiling(frame: pd.DataFrame) -> str:
    """Runs with a longer training budget than the main comparison's, against the same
    method and size trained for the main budget: how much more training buys, from the
    tests of :func:`svdnet.experiments.report.comparisons`."""
    tests = comparisons(frame)
    tests = tests[tests["question"] == "longer budget"]
    main = main_epochs(frame)
    clauses = _tested_clauses(tests, lambda row: f"{main} epochs'")
    if not clauses:
        return ""
    return ("**A longer training budget** (the ceiling; every other number here is for "
            f"{main} epochs): " + "; ".join(clauses) + ".")
