"""Collecting sweep results into tables for the report: accuracy by method and rank,
parameter counts, the Pareto front, times and provenance."""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd

from svdnet.rank_selection import rank_request
from svdnet.results import CorruptResultError, read_json
from svdnet.validation import check_choice

ON_CORRUPT = ("raise", "skip")


def load_results(results_dir: str, on_corrupt: str = "raise") -> tuple[pd.DataFrame, list]:
    """Reads every result file of a sweep into one row per run.

    Args:
        results_dir: Folder of ``*.json`` result files. Quick-mode results and JSON
            files that are not sweep results (no ``run``) are ignored.
        on_corrupt: ``"raise"`` stops at the first corrupt or truncated file with a
            :class:`svdnet.results.CorruptResultError` naming it; ``"skip"`` leaves such
            files out and returns their errors. Defaults to ``"raise"``.

    Returns:
        ``(frame, problems)``: one row per run with columns ``dataset``, ``method``,
        ``choice`` (``dense``, ``rank``, ``energy``, ``budget`` or ``per_layer``),
        ``value`` (the rank, energy or budget), ``rank`` (``NaN`` unless one rank),
        ``chosen ranks``, ``seed``, ``epochs``, ``test accuracy``,
        ``test loss``, ``parameters``, ``factorised parameters``, ``compression``,
        ``train s``, ``svd s``, ``wall s``, ``commit``, ``file``; and the messages of
        the files skipped.

    Raises:
        FileNotFoundError: when ``results_dir`` is not a folder.
        CorruptResultError: for a corrupt file when ``on_corrupt="raise"``.
    """
    check_choice("on_corrupt", on_corrupt, ON_CORRUPT)
    if not os.path.isdir(results_dir):
        raise FileNotFoundError(
            f"Results folder {results_dir!r} does not exist; run the sweep first "
            "(python -m svdnet.grid)."
        )
    rows, problems = [], []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        try:
            payload = read_json(path)
            if "run" not in payload:
                continue  # another kind of result (for example a deployment benchmark)
            row = _row(payload, path)
        except CorruptResultError as error:
            if on_corrupt == "raise":
                raise
            problems.append(str(error))
            continue
        if not payload.get("quick"):
            rows.append(row)
    columns = ["dataset", "method", "choice", "value", "rank", "chosen ranks", "seed", "epochs",
               "test accuracy", "test loss",
               "parameters", "factorised parameters", "compression", "train s", "svd s",
               "wall s", "commit", "file"]
    return pd.DataFrame(rows, columns=columns), problems


def _row(payload: dict, path: str) -> dict:
    try:
        config, run = payload["config"], payload["run"]
        choice, value = _choice(config)
        return {
            "dataset": config["dataset"],
            "method": config["method"],
            "choice": choice,
            "value": value,
            "rank": config["rank"] if choice == "rank" else np.nan,
            "chosen ranks": run.get("chosen_ranks"),
            "seed": config["seed"],
            "epochs": config["epochs"],
            "test accuracy": run["test_accuracy"],
            "test loss": run["test_loss"],
            "parameters": run["params"]["dense"],
            "factorised parameters": run["params"]["factorised"],
            "compression": run["params"]["ratio"],
            "train s": run["train_seconds"],
            "svd s": run["svd_seconds"],
            "wall s": payload.get("wall_seconds", np.nan),
            "commit": payload.get("provenance", {}).get("commit"),
            "file": os.path.basename(path),
        }
    except KeyError as error:
        raise CorruptResultError(
            f"Result file {path!r} lacks the field {error}; it was not written by this "
            "version of svdnet's sweep. Delete it and rerun that run."
        ) from error
    except (TypeError, ValueError) as error:
        raise CorruptResultError(
            f"Result file {path!r} holds an invalid value: {error} It was not written by "
            "this version of svdnet's sweep. Delete it and rerun that run."
        ) from error


def _choice(config: dict) -> tuple[str, float]:
    """How a run chose its ranks: ``("dense", nan)``, ``("rank", k)``, ``("energy", x)``,
    ``("budget", n)`` or ``("per_layer", nan)``, as :func:`rank_request` decides it.
    Results written before energy and budget existed count as a rank choice."""
    if config["method"] == "dense":
        return "dense", np.nan
    request = rank_request(rank=config["rank"], energy=config.get("energy"),
                           budget=config.get("budget"))
    value = {"rank": request.rank, "energy": request.energy, "budget": request.budget,
             "per_layer": np.nan}[request.kind]
    return request.kind, float(value)


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
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "reports", "grid", "results")
