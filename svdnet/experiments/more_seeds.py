"""More seeds where a verdict against the small network is close: the runs of both sides of
every comparison of an SVD configuration with ``small`` whose mean accuracies lie within
:data:`CLOSE_POINTS` (1 point by default), at the seeds asked for.

    python -m svdnet.experiments.more_seeds --seeds 3,4 --dry-run   # what would run
    python -m svdnet.experiments.more_seeds --seeds 3,4 --workers 2

Three seeds cannot tell apart two means half a point apart (:mod:`svdnet.experiments.report`
tests each comparison with Welch's t-test); more seeds for those comparisons can. Each new
run repeats the configuration of its comparison's committed seed-0 run (read from its result
file, so options, budgets and output layer are the same) with another seed, through the
grid's runner (:func:`svdnet.experiments.grid.run_groups`): the same execution rule, the
same result files, resumable the same way. Their executed notebooks are deleted, not
rendered: as for the CNN's and the ViT's runs, pages for them would take more room than
``reports/`` has. The report reads their results with the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from svdnet.experiments.config import CHOICES, RunConfig
from svdnet.experiments.grid import Group, comma_list
from svdnet.experiments.results import is_finished, read_json, result_name

CLOSE_POINTS = 1.0
"""How close (points of mean test accuracy) a comparison with ``small`` must be for its
configurations to get more seeds (:func:`close_configurations`)."""


def close_configurations(frame, results_dir: str, points: float = CLOSE_POINTS,
                         without_seeds=()) -> list[RunConfig]:
    """The configurations of both sides of every comparison of an SVD configuration with
    ``small`` (:func:`svdnet.experiments.report.comparisons`, question ``against small``)
    whose mean test accuracies differ by less than ``points``, each once, as the run
    configuration of its lowest seed.

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.
        results_dir: The folder ``frame`` was read from (each configuration is read from
            its result file there).
        points: The largest difference, in points of accuracy, counted as close; > 0.
            Defaults to :data:`CLOSE_POINTS`.
        without_seeds: Seeds whose runs play no part in the choice: the seeds being
            added, so that a rerun after an interruption chooses what the first run chose
            (their results would move the means). Defaults to ``()``.

    Raises:
        ValueError: naming ``points`` when it is not a number > 0.
    """
    from svdnet.experiments.report import _configurations, comparisons
    from svdnet.validation import check_number

    check_number("points", points, minimum=0, include_minimum=False)
    frame = frame[~frame["seed"].isin(list(without_seeds))] if len(frame) else frame
    if frame.empty:
        return []
    table = comparisons(frame)
    table = table[table["question"] == "against small"]
    close = table[(100 * (table["first mean"] - table["second mean"])).abs() < points]
    configs = _configurations(frame)
    keys = []
    for row in close.to_dict("records"):
        for key in ((row["dataset"], row["method"], row["choice"], row["value"]),
                    (row["dataset"], row["against"], row["against choice"],
                     row["against value"])):
            if key not in keys:
                keys.append(key)
    found = []
    for key in keys:
        runs = configs[key].sort_values("seed")
        path = os.path.join(results_dir, runs["file"].iloc[0])
        try:
            found.append(RunConfig(**read_json(path)["config"]))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: its configuration cannot be run again: {error}") from error
    return found


def seed_groups(configs, seeds, results_dir: str) -> tuple[list[Group], int]:
    """The runs of ``configs`` at each of ``seeds`` whose result is not in ``results_dir``
    yet, in groups as the grid makes them (one notebook execution per configuration that
    differs only in its rank, energy or budget), the dense runs that ``posthoc`` and
    ``finetune`` start from first. (A distilled configuration trains its teacher inside its
    own notebook, as in the grid; none is close on the committed results.)

    Args:
        configs: Run configurations (:func:`close_configurations`).
        seeds: Seeds to run each at; integers >= 0, distinct, at least one.
        results_dir: Folder of the result files.

    Returns:
        ``(groups, done)``: the groups to run, and how many runs are finished already.

    Raises:
        ValueError: naming ``seeds`` when it is empty, repeats a seed or holds a bad one.
    """
    from svdnet.validation import check_int

    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must list distinct seeds; received {list(seeds)!r}.")
    for seed in seeds:
        check_int("seeds", seed, minimum=0)
    runs = []
    for config in configs:
        if config.method in ("posthoc", "finetune"):  # their dense model, trained once,
            # configured as the grid's dense runs are (the default choice, not the twin's)
            twin = config.dense_twin().replace(**dict.fromkeys(CHOICES))
            if twin not in runs:
                runs.append(twin)
        if config not in runs:
            runs.append(config)
    cells, done = {}, 0
    for seed in seeds:
        for config in runs:
            run = config.replace(seed=seed)
            if is_finished(os.path.join(results_dir, result_name(run))):
                done += 1
                continue
            shared = {key: value for key, value in dataclasses.asdict(run).items()
                      if key not in CHOICES}
            key = json.dumps(shared, sort_keys=True, default=str)
            if run not in cells.setdefault(key, []):
                cells[key].append(run)
    groups = []
    for todo in cells.values():
        def left(kind):
            return tuple(getattr(run, kind) for run in todo if getattr(run, kind) is not None)
        dense = todo[0].method == "dense"
        groups.append(Group(todo[0], () if dense else left("rank"),
                            () if dense else left("energy"), () if dense else left("budget")))
    groups.sort(key=lambda group: group.config.method != "dense")  # dense first, stable
    return groups, done


def main(argv=None) -> int:
    from svdnet.experiments.grid import add_runner_flags, check_writable, run_groups
    from svdnet.experiments.report import load_results

    parser = argparse.ArgumentParser(
        prog="python -m svdnet.experiments.more_seeds", allow_abbrev=False,
        description="Run more seeds of both sides of every close comparison with the small "
                    "network (its configurations read from the committed results); rerun to "
                    "resume.")
    parser.add_argument("--seeds", type=comma_list(int), required=True,
                        help="seeds to add, e.g. 3,4")
    parser.add_argument("--points", type=float, default=CLOSE_POINTS,
                        help="a comparison is close when its means differ by less than this "
                             f"many points (default: {CLOSE_POINTS:g})")
    add_runner_flags(parser, "the grid's folder: results read from and written to "
                             "<out>/results (default: reports/grid)")
    args = parser.parse_args(argv)
    results_dir = os.path.join(args.out, "results")
    try:
        frame, _ = load_results(results_dir)  # a corrupt file stops it, naming the file
        configs = close_configurations(frame, results_dir, args.points, args.seeds)
        groups, done = seed_groups(configs, args.seeds, results_dir)
        if not args.dry_run:
            check_writable(args.out)
    except (TypeError, ValueError, OSError) as error:  # CorruptResultError is a ValueError
        parser.error(str(error))
    print(f"{len(configs)} configuration(s) in comparisons within {args.points:g} points of "
          f"small; {done} run(s) finished, {sum(group.size for group in groups)} to do in "
          f"{len(groups)} notebook(s)")
    if args.dry_run:
        for group in groups:
            print(f"  {group.name}")
        return 0
    client = None
    if args.workers and groups:
        from svdnet.experiments import cluster

        client = cluster.local_client(args.workers)
    try:
        outcome = run_groups(groups, done, args.out, client=client)
    finally:
        if client is not None:
            client.close()
        for group in groups:  # no pages: see the module docstring
            notebook = os.path.join(args.out, "runs", group.name)
            if os.path.exists(notebook):
                os.unlink(notebook)
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
