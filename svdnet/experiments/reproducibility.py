"""How far a result moves between sittings: the same configuration and seed run twice.

Runs done again (under a new execution rule, from one clean commit) are written to a
folder beside the grid's ``results`` (:data:`RERUNS`, with ``--out`` pointing at it)
rather than over the results the report's tables use, until a whole set is done again;
the report pairs each rerun with the earlier result of the same file name to state how
far numbers move between sittings, next to how far they move between seeds.
"""

from __future__ import annotations

import glob
import os
import re

import numpy as np
import pandas as pd

from svdnet.experiments.execution import follows_rule
from svdnet.experiments.results import read_json

RERUNS = "reruns"
"""Folder beside a grid's ``results`` (a grid output folder of its own: ``RERUNS/results``)
holding runs done again, paired by file name with the results they repeat."""


def _row(payload: dict) -> dict:
    provenance = payload.get("provenance", {})
    return {"accuracy": payload["run"]["test_accuracy"],
            "commit": (provenance.get("commit") or "unknown")[:10]
            + ("+dirty" if str(provenance.get("commit", "")).endswith("+dirty") else ""),
            "rule": follows_rule(payload.get("execution"))}


def sitting_differences(results_dir: str, reruns_dir: str) -> pd.DataFrame:
    """Every run present in both folders (the same file name: the same configuration and
    seed), with both sittings' test accuracy.

    Args:
        results_dir: The folder of the earlier result files (the report's).
        reruns_dir: The folder of the runs done again (:data:`RERUNS`).

    Returns:
        One row per run, sorted by name: ``name``, ``dataset``, ``method``, ``seed``,
        ``earlier``, ``now`` (test accuracy), ``difference (pp)`` (now - earlier, in
        percentage points), ``earlier commit``, ``now commit``, ``now follows rule``.
        Empty (with these columns) when no run is in both.

    Raises:
        FileNotFoundError: naming ``results_dir`` or ``reruns_dir`` when it is not a
            folder.
    """
    for folder in (results_dir, reruns_dir):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"No result folder at {folder!r}.")
    rows = []
    for path in sorted(glob.glob(os.path.join(reruns_dir, "*.json"))):
        name = os.path.basename(path)
        previous = os.path.join(results_dir, name)
        if not os.path.exists(previous):
            continue
        earlier, now = read_json(previous), read_json(path)
        before, after = _row(earlier), _row(now)
        config = now["config"]
        rows.append({"name": name, "dataset": config["dataset"], "method": config["method"],
                     "seed": config["seed"], "earlier": before["accuracy"],
                     "now": after["accuracy"],
                     "difference (pp)": 100 * (after["accuracy"] - before["accuracy"]),
                     "earlier commit": before["commit"], "now commit": after["commit"],
                     "now follows rule": after["rule"]})
    columns = ["name", "dataset", "method", "seed", "earlier", "now", "difference (pp)",
               "earlier commit", "now commit", "now follows rule"]
    return pd.DataFrame(rows, columns=columns)


_SEED = r"-seed\d+\.json$"


def sitting_summary(differences: pd.DataFrame, results_dir: str) -> dict:
    """The size of the moves in :func:`sitting_differences`, in percentage points, and
    the spread between seeds of the same configurations in ``results_dir``.

    Args:
        differences: The table of :func:`sitting_differences`.
        results_dir: The folder of the earlier results, where every seed of each
            configuration is.

    Returns:
        ``{"runs": n, "mean absolute": ..., "largest": ..., "mean": ..., "std": ...,
        "seed std": ...}`` (``None`` values for no run): ``mean`` is the mean signed move
        (a systematic shift), ``std`` its standard deviation over runs (the scatter), and
        ``seed std`` the standard deviation between the seeds of each configuration in
        ``results_dir``, averaged over those with two seeds or more (what the scatter
        compares with).
    """
    moves = differences["difference (pp)"]
    if moves.empty:
        return {"runs": 0, "mean absolute": None, "largest": None, "mean": None, "std": None,
                "seed std": None}
    configurations = set(differences["name"].str.replace(_SEED, "", regex=True))
    accuracies = {}
    for path in glob.glob(os.path.join(results_dir, "*.json")):
        configuration = re.sub(_SEED, "", os.path.basename(path))
        if configuration in configurations:
            accuracies.setdefault(configuration, []).append(
                read_json(path)["run"]["test_accuracy"])
    spreads = [100 * float(np.std(values, ddof=1)) for values in accuracies.values()
               if len(values) > 1]
    return {"runs": int(len(moves)), "mean absolute": float(moves.abs().mean()),
            "largest": float(moves.abs().max()), "mean": float(moves.mean()),
            "std": float(moves.std(ddof=1)) if len(moves) > 1 else 0.0,
            "seed std": float(np.mean(spreads)) if spreads else None}

