"""How far a result moves between sittings: the same configuration and seed run twice.

Runs done again (under a new execution rule, from one clean commit) are written to a
folder beside the grid's ``results`` (:data:`RERUNS`, with ``--out`` pointing at it)
rather than over the results the report's tables use, until a whole set is done again;
then :func:`adopt_reruns` moves them into ``results`` and the results they replace into
:data:`EARLIER`. The report pairs each result with the earlier one of the same file name
to state how far numbers move between sittings, next to how far they move between seeds.

    python -m svdnet.experiments.reproducibility adopt GRID_DIR PATTERN
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd

from svdnet.experiments.config import full_config, identity
from svdnet.experiments.execution import follows_rule
from svdnet.experiments.results import read_json

RERUNS = "reruns"
"""Folder beside a grid's ``results`` (a grid output folder of its own: ``RERUNS/results``)
holding runs done again, paired by file name with the results they repeat."""


EARLIER = "earlier"
"""Folder beside a grid's ``results`` (``EARLIER/results``) holding the results that runs done
again replaced (:func:`adopt_reruns`), paired by file name with them."""


def adopt_reruns(grid_dir: str, pattern: str = "*.json") -> list[str]:
    """Makes the reruns matching ``pattern`` the grid's results: each result they repeat moves
    to ``EARLIER/results`` (kept for the sitting comparison), each rerun into ``results``.

    Only a rerun that follows the execution rule and repeats an existing result is adopted;
    nothing is moved over a file already in ``EARLIER/results`` (a result superseded twice
    keeps its first sitting there, and its second is dropped with the rerun taking its place
    in ``results``).

    Args:
        grid_dir: The grid output folder holding ``results`` and :data:`RERUNS`.
        pattern: Glob of the rerun file names to adopt. Defaults to every one.

    Returns:
        The adopted file names, sorted.

    Raises:
        FileNotFoundError: naming the folder when ``grid_dir/results`` or the reruns'
            folder is missing.
        ValueError: naming the files when a matching rerun does not follow the rule or
            repeats no result (nothing is moved then).
    """
    results = os.path.join(grid_dir, "results")
    reruns = os.path.join(grid_dir, RERUNS, "results")
    earlier = os.path.join(grid_dir, EARLIER, "results")
    for folder in (results, reruns):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"No result folder at {folder!r}.")
    names = sorted(os.path.basename(path) for path in glob.glob(os.path.join(reruns, pattern)))
    if not names:
        raise ValueError(f"No rerun in {reruns!r} matches {pattern!r}.")
    unruled = [name for name in names
               if not follows_rule(read_json(os.path.join(reruns, name)).get("execution"))]
    orphans = [name for name in names if not os.path.exists(os.path.join(results, name))
               or _identity(os.path.join(results, name))
               != _identity(os.path.join(reruns, name))]
    if unruled or orphans:
        raise ValueError(f"Not adopted, nothing moved: reruns that do not follow the execution "
                         f"rule {unruled}, reruns that repeat no result (none of that name, or "
                         f"one of another configuration) {orphans}.")
    os.makedirs(earlier, exist_ok=True)
    for name in names:
        kept = os.path.join(earlier, name)
        if os.path.exists(kept):
            os.remove(os.path.join(results, name))
        else:
            os.replace(os.path.join(results, name), kept)
        os.replace(os.path.join(reruns, name), os.path.join(results, name))
    return names


def _identity(path: str, without=(), payload: dict | None = None) -> str:
    """The identity of the run in result file ``path`` (read unless its ``payload`` is
    given): its config, never its name.

    Raises:
        ValueError: naming the file when it holds no config, or one that is not a run's.
    """
    try:
        return identity((payload or read_json(path))["config"], without)
    except (KeyError, TypeError) as error:
        raise ValueError(f"Result file {path!r} holds no run configuration ({error}).") from error


def _by_identity(folder: str) -> dict[str, tuple[str, dict]]:
    """Identity (:func:`svdnet.experiments.config.identity`) to ``(path, payload)``, for
    every result file of ``folder``, each read once."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        payload = read_json(path)
        runs[_identity(path, payload=payload)] = (path, payload)
    return runs


def _row(payload: dict) -> dict:
    provenance = payload.get("provenance", {})
    return {"accuracy": payload["run"]["test_accuracy"],
            "commit": (provenance.get("commit") or "unknown")[:10]
            + ("+dirty" if str(provenance.get("commit", "")).endswith("+dirty") else ""),
            "rule": follows_rule(payload.get("execution"))}


def sitting_differences(results_dir: str, reruns_dir: str) -> pd.DataFrame:
    """Every run present in both folders (the same full configuration, seed included, read
    from the files, whatever their names), with both sittings' test accuracy.

    Args:
        results_dir: The folder of the earlier result files (the report's).
        reruns_dir: The folder of the runs done again (:data:`RERUNS`).

    Returns:
        One row per run, sorted by the rerun's file: ``name`` (its file name),
        ``configuration`` (the identity without the seed, shared by a configuration's
        seeds), ``dataset``, ``method``, ``seed``,
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
    rows, earlier_runs = [], _by_identity(results_dir)
    for key, (path, now) in sorted(_by_identity(reruns_dir).items(),
                                   key=lambda item: item[1][0]):
        if key not in earlier_runs:
            continue
        earlier = earlier_runs[key][1]
        before, after = _row(earlier), _row(now)
        config = now["config"]
        rows.append({"name": os.path.basename(path),
                     "configuration": identity(config, without=("seed",)),
                     "dataset": config["dataset"], "method": config["method"],
                     "seed": config["seed"], "earlier": before["accuracy"],
                     "now": after["accuracy"],
                     "difference (pp)": 100 * (after["accuracy"] - before["accuracy"]),
                     "earlier commit": before["commit"], "now commit": after["commit"],
                     "now follows rule": after["rule"]})
    columns = ["name", "configuration", "dataset", "method", "seed", "earlier", "now",
               "difference (pp)",
               "earlier commit", "now commit", "now follows rule"]
    return pd.DataFrame(rows, columns=columns)


def same_network_pairs(results_dir: str) -> pd.DataFrame:
    """Runs of one network under two configurations: each run with the output layer kept
    dense (``output_layer="dense"``, no teacher) beside the run of the same configuration
    and seed with ``output_layer="auto"``, when both exported the same parameter count: at
    those ranks the output layer stays dense either way (its factors would not be
    smaller), so the two trained the same network and, under one execution rule, must give
    the same accuracy whatever commit or sitting each came from. Runs are matched by the
    configs in their files, not by their names.

    Args:
        results_dir: A folder of result files.

    Returns:
        One row per pair: ``name`` (the file of the run with the output layer kept dense),
        ``accuracy``, ``twin accuracy``, ``commit``, ``twin commit``, ``both follow
        rule``, ``identical``.
    """
    runs, rows = _by_identity(results_dir), []
    for path, ours in sorted(runs.values(), key=lambda run: run[0]):
        config = full_config(ours["config"])
        twin = identity({**config, "output_layer": "auto"})
        if config["output_layer"] != "dense" or config["distill"] or twin not in runs:
            continue
        theirs = runs[twin][1]
        if ours["run"]["params"]["factorized"] != theirs["run"]["params"]["factorized"]:
            continue
        first, second = _row(ours), _row(theirs)
        rows.append({"name": os.path.basename(path), "accuracy": first["accuracy"],
                     "twin accuracy": second["accuracy"], "commit": first["commit"],
                     "twin commit": second["commit"],
                     "both follow rule": first["rule"] and second["rule"],
                     "identical": first["accuracy"] == second["accuracy"]})
    return pd.DataFrame(rows, columns=["name", "accuracy", "twin accuracy", "commit",
                                       "twin commit", "both follow rule", "identical"])


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
    configurations = set(differences["configuration"])
    accuracies = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        configuration = _identity(path, without=("seed",))
        if configuration in configurations:
            accuracies.setdefault(configuration, []).append(
                read_json(path)["run"]["test_accuracy"])
    spreads = [100 * float(np.std(values, ddof=1)) for values in accuracies.values()
               if len(values) > 1]
    return {"runs": int(len(moves)), "mean absolute": float(moves.abs().mean()),
            "largest": float(moves.abs().max()), "mean": float(moves.mean()),
            "std": float(moves.std(ddof=1)) if len(moves) > 1 else 0.0,
            "seed std": float(np.mean(spreads)) if spreads else None}



if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "adopt":
        sys.exit("usage: python -m svdnet.experiments.reproducibility adopt GRID_DIR PATTERN")
    try:
        adopted = adopt_reruns(sys.argv[2], sys.argv[3])
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"adopted {len(adopted)} rerun(s) into {os.path.join(sys.argv[2], 'results')}")
