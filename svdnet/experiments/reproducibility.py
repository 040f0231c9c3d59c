"""How far a result moves between sittings: the same configuration and seed run twice.

When runs are done again (a new execution rule, code that changed), the earlier result
files are not deleted: they move to a folder beside ``results`` (:data:`SUPERSEDED`),
where the report reads them only to state how far the numbers moved, next to how far
they move between seeds.
"""

from __future__ import annotations

import glob
import os

import pandas as pd

from svdnet.experiments.execution import follows_rule
from svdnet.experiments.results import read_json

SUPERSEDED = "superseded"
"""Folder beside a grid's ``results`` holding the result files that later runs of the same
configuration and seed replaced."""


def _row(payload: dict) -> dict:
    provenance = payload.get("provenance", {})
    return {"accuracy": payload["run"]["test_accuracy"],
            "commit": (provenance.get("commit") or "unknown")[:10]
            + ("+dirty" if str(provenance.get("commit", "")).endswith("+dirty") else ""),
            "rule": follows_rule(payload.get("execution"))}


def sitting_differences(results_dir: str, superseded_dir: str) -> pd.DataFrame:
    """Every run present in both folders (the same file name: the same configuration and
    seed), with both sittings' test accuracy.

    Args:
        results_dir: The folder of the current result files.
        superseded_dir: The folder of the earlier ones (:data:`SUPERSEDED`).

    Returns:
        One row per run, sorted by name: ``name``, ``dataset``, ``method``, ``seed``,
        ``earlier``, ``now`` (test accuracy), ``difference (pp)`` (now - earlier, in
        percentage points), ``earlier commit``, ``now commit``, ``now follows rule``.
        Empty (with these columns) when no run is in both.

    Raises:
        FileNotFoundError: naming ``superseded_dir`` or ``results_dir`` when it is not a
            folder.
    """
    for folder in (results_dir, superseded_dir):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"No result folder at {folder!r}.")
    rows = []
    for path in sorted(glob.glob(os.path.join(superseded_dir, "*.json"))):
        name = os.path.basename(path)
        current = os.path.join(results_dir, name)
        if not os.path.exists(current):
            continue
        earlier, now = read_json(path), read_json(current)
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


def sitting_summary(differences: pd.DataFrame) -> dict:
    """The size of the moves in :func:`sitting_differences`, in percentage points.

    Returns:
        ``{"runs": n, "mean absolute": ..., "largest": ..., "mean": ..., "std": ...,
        "seed std": ...}`` (``None`` values for no run): ``mean`` is the mean signed move
        (a systematic shift), ``std`` its standard deviation over runs (the scatter), and
        ``seed std`` the current runs' standard deviation between seeds, averaged over
        the configurations with two seeds or more (what the scatter compares with).
    """
    moves = differences["difference (pp)"]
    if moves.empty:
        return {"runs": 0, "mean absolute": None, "largest": None, "mean": None, "std": None,
                "seed std": None}
    configuration = differences["name"].str.replace(r"-seed\d+\.json$", "", regex=True)
    seed_std = (100 * differences.groupby(configuration)["now"].std(ddof=1)).dropna()
    return {"runs": int(len(moves)), "mean absolute": float(moves.abs().mean()),
            "largest": float(moves.abs().max()), "mean": float(moves.mean()),
            "std": float(moves.std(ddof=1)) if len(moves) > 1 else 0.0,
            "seed std": float(seed_std.mean()) if len(seed_std) else None}


def runs_under_rule(results_dir: str, files) -> int:
    """How many of the result files ``files`` (names in ``results_dir``) record an
    execution that follows the rule (:func:`svdnet.experiments.execution.follows_rule`)."""
    return sum(follows_rule(read_json(os.path.join(results_dir, name)).get("execution"))
               for name in files)
