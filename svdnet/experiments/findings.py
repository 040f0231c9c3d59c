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

from svdnet.experiments.config import base_method
from svdnet.experiments.formatting import (
    accuracy_text,
    compression_text,
    dataset_name,
    dataset_order,
    percent,
    points,
    size_text,
)
from svdnet.experiments.report import (
    SVD_METHODS,
    accuracy_table,
    best_at_least,
    build_time_table,
    choice_table,
    compare,
    energy_rank_range,
    is_svd,
    main_epochs,
    reference_table,
    small_comparison,
    smallest_within,
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


def _losing_from(part: pd.DataFrame):
    """The lowest compression from which ``small`` wins at every larger size of one
    dataset's rows of :func:`small_comparison`, or ``None`` when it does not win at the
    largest."""
    part = part.sort_values("compression", ascending=False)
    tail = part["verdict"].eq("small").cummin()
    return part.loc[tail, "compression"].min() if tail.any() else None


def against_small(frame: pd.DataFrame) -> str:
    """Where svdnet's best method beats, ties with or loses to the plain network trained
    small at the same size (see :func:`svdnet.experiments.report.small_comparison`), and
    from which compression on it loses at every size."""
    table = small_comparison(frame)
    clauses = []
    for dataset in _datasets(table):
        part = table[table["dataset"] == dataset].sort_values("compression")
        lost = part[part["verdict"] == "small"]
        won = part[part["verdict"] == "svdnet"]
        tied = part[part["verdict"] == "tie"]
        clause = f"on {dataset_name(dataset)} ({len(part)} sizes) svdnet's best method"
        pieces = []
        if len(lost):
            losing_from = _losing_from(part)
            text = (f"loses at {len(lost)} ({_span(lost['compression'], '{:.0f}')}x fewer "
                    f"parameters, by {_span(-lost['difference (pp)'])} points)")
            if losing_from is not None:
                text += f", at every size from {losing_from:.0f}x on"
            pieces.append(text)
        if len(tied):
            pieces.append(f"ties at {len(tied)} ({_span(tied['compression'], '{:.0f}')}x)")
        if len(won):
            pieces.append("wins at " + ", ".join(
                f"{row['size']} ({row['compression']:.0f}x: `{row['best method']}` "
                f"{percent(row['svdnet'])} against {percent(row['small'])})"
                for _, row in won.iterrows()))
        else:
            pieces.append("wins at none")
        clauses.append(clause + " " + _join(pieces))
    if not clauses:
        return ""
    return ("**Against a plain network trained small** (the same depth, narrowed to the "
            "same parameter count, same recipe; a difference counts only beyond the sum of "
            "the two standard deviations over seeds): " + "; ".join(clauses) + ".")


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
    rank from which it stays within ``tolerance`` points of dense, what it gives below,
    and whether the methods that train with the factorisation beat it there."""
    clauses, beaten, below_total = [], 0, 0
    table = accuracy_table(frame)
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
        clauses.append(clause)
        for _, row in below.iterrows():
            trained = table[(table["dataset"] == dataset) & (table["rank"] == row["rank"])
                            & table["method"].isin(["projection", "finetune", "lowrank"])]
            below_total += 1
            beaten += int(len(trained) > 0 and trained["mean"].max() > row["mean"])
    if not clauses:
        return ""
    text = ("**Compress while training, not after.** Truncating the trained dense network "
            "once (`posthoc`): " + "; ".join(clauses) + ".")
    if below_total:
        text += (f" At {beaten} of those {below_total} ranks a method that trains with the "
                 "factorisation (`projection`, `finetune` or `lowrank`) does better at the "
                 "same size.")
    return text


def best_method_by_rank(frame: pd.DataFrame) -> str:
    """Which of the four SVD methods (without options, which :func:`variants` compares)
    has the highest mean accuracy at each uniform rank, and at which ranks its lead over
    the next exceeds the seeds' spread."""
    table = accuracy_table(frame)
    clauses = []
    for dataset in _datasets(frame):
        part = table[(table["dataset"] == dataset) & table["method"].isin(SVD_METHODS)]
        winners, clear = {}, []
        for rank, at_rank in part.groupby("rank"):
            ordered = at_rank.sort_values("mean", ascending=False)
            best = ordered.iloc[0]
            winners.setdefault(best["method"], []).append(str(rank))
            if len(ordered) > 1:
                runner_up = ordered.iloc[1]
                if compare(best, runner_up) == 1:
                    clear.append(f"{rank} (`{best['method']}`, "
                                 f"{points(best['mean'] - runner_up['mean'])} over "
                                 f"`{runner_up['method']}`)")
        if not winners:
            continue
        ordered = sorted(winners.items(), key=lambda item: -len(item[1]))
        clause = f"on {dataset_name(dataset)} " + "; ".join(
            f"`{method}` at rank{'s' if len(ranks) > 1 else ''} {', '.join(ranks)}"
            for method, ranks in ordered)
        clause += (f" (a lead beyond the seeds' spread only at rank {_join(clear)})"
                   if clear else " (no lead beyond the seeds' spread)")
        clauses.append(clause)
    if not clauses:
        return ""
    return "**The best SVD method at each rank** (mean over seeds): " + "; ".join(clauses) + "."


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


def budget_against_uniform(frame: pd.DataFrame, method: str = "finetune") -> str:
    """Budget-chosen ranks against one rank for every layer at the nearest size, with
    both models' real parameter counts (the uniform model's output layer is factorised
    at small ranks, so the two sizes can differ)."""
    clauses, wins, total = [], 0, 0
    for dataset in _datasets(frame):
        part = choice_table(frame, dataset)
        part = part[part["method"] == method]
        uniform = part[part["choice"] == "rank"]
        items = []
        for _, budget in part[part["choice"] == "budget"].sort_values("parameters").iterrows():
            if uniform.empty:
                break
            match = uniform.iloc[(uniform["parameters"] - budget["parameters"]).abs().argmin()]
            verdict = {1: "beats", -1: "loses to", 0: "ties with"}[compare(budget, match)]
            total += 1
            wins += verdict == "beats"
            larger = budget["parameters"] / match["parameters"] - 1
            size = ("the same size" if abs(larger) < 0.005 else
                    f"{match['parameters']:,.0f} parameters, the budget model "
                    f"{abs(larger):.0%} {'larger' if larger > 0 else 'smaller'}")
            items.append(f"{budget['parameters']:,.0f} parameters "
                         f"{accuracy_text(budget['mean'], budget['std'])} {verdict} "
                         f"rank {match['value']:g} ({size}) "
                         f"{accuracy_text(match['mean'], match['std'])}")
        if items:
            clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    if not clauses:
        return ""
    return (f"**Ranks chosen within a parameter budget against one rank** (`{method}`; "
            f"beyond the seeds' spread it is ahead at {wins} of {total}): "
            + "; ".join(clauses) + ".")


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


def build_cost(frame: pd.DataFrame) -> str:
    """What the runs behind the report cost in wall time, per method."""
    cost = build_time_table(frame)
    if cost.empty:
        return ""
    cost = cost.set_index("method")
    total = cost.loc["total"]
    return (f"**What the build cost**: {total['wall h']:.1f} hours of wall time for "
            f"{int(total['runs'])} runs (summed as recorded; each dense training counted "
            "once): " + ", ".join(f"`{method}` {row['wall h']:.1f} h ({int(row['runs'])} runs)"
                                  for method, row in cost.drop(index="total").iterrows()) + ".")


def conclusions(frame: pd.DataFrame, reference_rank: int = 20, tolerance: float = 0.5,
                minimum: float = 50.0) -> list[str]:
    """The report's conclusions, one Markdown paragraph each, in reading order.

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
        reference_rank: The rank compared method by method. Defaults to 20.
        tolerance: Accuracy loss in percentage points still "close to dense". Defaults
            to 0.5.
        minimum: The compression goal, in times fewer parameters. Defaults to 50.
    """
    paragraphs = [against_small(frame), variants(frame),
                  compression_goal(frame, minimum, tolerance),
                  at_reference_rank(frame, reference_rank), truncating_once(frame),
                  best_method_by_rank(frame), training_accuracy_trap(frame),
                  high_ranks(frame), budget_against_uniform(frame), budget_options(frame),
                  ceiling(frame), energy_thresholds(frame),
                  build_cost(frame)]
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
        counts = table["verdict"].value_counts()
        sentences.append(
            f"Against a plain network of the same size trained from scratch, svdnet's best "
            f"method wins at {counts.get('svdnet', 0)} of {len(table)} dataset-size pairs, "
            f"ties at {counts.get('tie', 0)} and loses at {counts.get('small', 0)}"
            + ".")
        losing = [f"{threshold:.0f}x or more on {dataset_name(dataset)}"
                  for dataset in _datasets(table)
                  if (threshold := _losing_from(table[table["dataset"] == dataset])) is not None]
        if losing:
            sentences[-1] += (" It loses at every size compressed " + _join(losing)
                              + ": there, train the small network instead.")
    return sentences


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
                ["factorised parameters", "method"])
            items.append(f"rank {rank} " + ", ".join(
                f"`{row['method']}` {accuracy_text(row['mean'], row['std'])} "
                f"({row['factorised parameters']:,.0f} parameters)" for _, row in rows.iterrows()))
        if items:
            clauses.append(f"on {dataset_name(dataset)}: " + "; ".join(items))
    if not clauses:
        return ""
    return ("**Options of the methods at one rank** (`+denseout`: the output layer kept "
            "dense; `+kd`: distilled from the dense network of the same seed; `+fd`: "
            "Frobenius decay; `+anneal`: the rank lowered over the first epochs), against the "
            "method alone: " + "; ".join(clauses) + ".")


def budget_options(frame: pd.DataFrame, method: str = "finetune") -> str:
    """``method``'s options at each parameter budget (``+accuracy``: the budget shared by
    measured accuracy; ``+cosine``: a cosine learning rate) against the method alone at
    the same budget, with the seeds' spread as the bar for a difference."""
    clauses = []
    for dataset in _datasets(frame):
        part = choice_table(frame, dataset)
        part = part[(part["choice"] == "budget") & (part["method"].map(base_method) == method)]
        items = []
        for value, at_budget in part.groupby("value"):
            alone = at_budget[at_budget["method"] == method]
            if alone.empty:
                continue
            alone = alone.iloc[0]
            for _, option in at_budget[at_budget["method"] != method].iterrows():
                difference = option["mean"] - alone["mean"]
                verdict = {1: "better", -1: "worse",
                           0: "no different beyond the seeds' spread"}[compare(option, alone)]
                items.append(f"budget {value:,.0f}: `{option['method']}` "
                             f"{accuracy_text(option['mean'], option['std'])} "
                             f"({option['parameters']:,.0f} parameters) against "
                             f"{accuracy_text(alone['mean'], alone['std'])} "
                             f"({alone['parameters']:,.0f}): {verdict} ({points(difference)})")
        if items:
            clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    if not clauses:
        return ""
    return (f"**`{method}`'s options at a parameter budget** (`+accuracy`: the budget shared "
            "by each layer's measured accuracy on held-out training examples instead of its "
            "spectral energy; `+cosine`: the factor epochs' learning rate decays along a "
            "cosine), against the method alone: " + "; ".join(clauses) + ".")


def ceiling(frame: pd.DataFrame) -> str:
    """Runs with a longer training budget than the main comparison's, against the same
    method and size trained for the main budget: how much more training buys."""
    main = main_epochs(frame)
    longer = frame[frame["epochs"] != main] if len(frame) else frame
    clauses = []
    for dataset in _datasets(longer):
        every = choice_table(frame, dataset)
        items = []
        for _, row in every[every["method"].str.contains(r"\+\d+ep$")].iterrows():
            plain = row["method"].rsplit("+", 1)[0]
            same = every[(every["method"] == plain) & (every["choice"] == row["choice"])
                         & (every["value"] == row["value"])]
            text = (f"`{row['method']}` {size_text(row['choice'], row['value'])} "
                    f"{accuracy_text(row['mean'], row['std'])} "
                    f"({row['parameters']:,.0f} parameters)")
            if len(same):
                text += (f" against {accuracy_text(same['mean'].iloc[0], same['std'].iloc[0])} "
                         f"with {main} epochs ({points(row['mean'] - same['mean'].iloc[0])})")
            items.append(text)
        if items:
            clauses.append(f"on {dataset_name(dataset)}, " + "; ".join(items))
    if not clauses:
        return ""
    return ("**A longer training budget** (the ceiling; every other number here is for "
            f"{main} epochs): " + "; ".join(clauses) + ".")
