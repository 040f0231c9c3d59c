"""The sweep runner: the sweep notebook over a grid of datasets, methods, ranks and seeds.

    python -m svdnet.experiments.grid                       # the full grid into reports/grid
    python -m svdnet.experiments.grid --quick --out /tmp/g  # a tiny grid on 1,000 examples, in minutes
    python -m svdnet.experiments.grid --help

Each group of runs that shares a dataset, method and seed is one Papermill execution of
``notebooks/sweep.ipynb`` (with its ``ranks`` parameter), so the notebook's start-up,
the data loading and any dense training it starts from are paid once per group. Every
run writes its own result file, atomically, under ``<out>/results``; the executed
notebooks go to ``<out>/runs``; dense weights shared by ``posthoc`` and ``finetune``
runs go to ``<out>/cache``.

Resuming: a run whose result file exists and passes
:func:`svdnet.experiments.results.check_result` is finished and never redone; the sweep
writes a run's result only after the run passed those checks, so a run that failed
leaves none and is redone.
Rerunning the same command after an interruption (Ctrl-C, SIGKILL, a crash) runs only
what is missing: result files are written whole or not at all, and a notebook is moved
into ``runs`` only once its execution has finished (the notebook of an interrupted
execution is kept as ``<name>-interrupted.ipynb``). Run one runner per output folder
at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
import time

from svdnet.experiments.config import ARCHITECTURES, CHOICES, METHODS, RunConfig, expand_choices
from svdnet.experiments.data import DATASETS
from svdnet.experiments.executors import LocalExecutor, execute_groups
from svdnet.experiments.options import (
    METHOD_OPTIONS,
    add_flags,
    option_tokens,
)
from svdnet.experiments.paths import NOTEBOOKS, PROJECT_ROOT, without_folder
from svdnet.experiments.results import is_finished, result_name, write_text_atomic
from svdnet.svd import PROJECTION_BACKEND

GRID_RANKS = (1, 2, 5, 10, 20, 50, 100, 200)
GRID_SEEDS = (0, 1, 2)
QUICK_GRID = {
    "architectures": ("mlp",),
    "datasets": ("mnist",),
    "methods": METHODS,
    "ranks": (2, 20),
    "seeds": (0,),
    "epochs": 2,
    "finetune_epochs": 1,
    "train_size": 1000,
}
NOTEBOOK = os.path.join(NOTEBOOKS, "sweep.ipynb")
UNFINISHED = {"interrupted": "-interrupted", "failed": ".failed"}
"""How the runner marks the notebook of an execution that did not finish: state to the
ending of the notebook's name before ``.ipynb`` (``<name>-interrupted.ipynb`` for one
killed mid-run, ``<name>.failed.ipynb`` for one that raised)."""


def unfinished_state(name: str) -> str | None:
    """``"interrupted"`` or ``"failed"`` for the notebook (or page) of an execution that
    did not finish (see :data:`UNFINISHED`), else ``None``.

    Args:
        name: A file name (any extension, folder ignored).
    """
    stem = os.path.splitext(os.path.basename(name))[0]
    return next((state for state, ending in UNFINISHED.items() if stem.endswith(ending)), None)


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs that share an architecture, dataset, method and seed: one notebook execution.

    Attributes:
        config: The configuration of the group's first run.
        ranks: Ranks still to run (empty for ``dense``, which has no rank).
        energies: Energy thresholds still to run.
        budgets: Parameter budgets still to run.
    """

    config: RunConfig
    ranks: tuple
    energies: tuple = ()
    budgets: tuple = ()

    @property
    def size(self) -> int:
        """Number of runs in the group."""
        return max(1, len(self.ranks) + len(self.energies) + len(self.budgets))

    @property
    def name(self) -> str:
        """The executed notebook's file name, for example
        ``mnist-lowrank-e10-seed0-r1-2-5.ipynb``."""
        config = self.config
        parts = [config.dataset, config.method, f"e{config.epochs}"]
        if config.architecture != "mlp":
            parts.insert(1, config.architecture)
        if config.train_size:
            parts.append(f"n{config.train_size}")
        parts += option_tokens(config)
        parts.append(f"seed{config.seed}")
        for prefix, values in (("r", self.ranks), ("e", self.energies), ("p", self.budgets)):
            if values:
                parts.append(prefix + "-".join(f"{value:g}" for value in values))
        return "-".join(parts) + ".ipynb"


def plan(
    base: RunConfig,
    datasets=DATASETS,
    methods=METHODS,
    ranks=GRID_RANKS,
    seeds=GRID_SEEDS,
    results_dir: str = "reports/grid/results",
    energies=(),
    budgets=(),
    architectures=("mlp",),
) -> tuple[list[Group], int]:
    """Lists the groups of runs of a grid that have no finished result yet.

    Every configuration of the grid is validated first, so a bad value fails before
    anything runs. Groups come method by method (in ``methods`` order), then by seed
    architecture and dataset, so that ``dense`` runs, which ``posthoc`` and ``finetune`` start from,
    come first when listed first.

    Args:
        base: Settings shared by every run (epochs, batch size, SVD backend, ...).
        datasets: Dataset names. Defaults to :data:`svdnet.experiments.data.DATASETS`.
        methods: Method names. Defaults to :data:`svdnet.experiments.training.METHODS`.
        ranks: Ranks of the compressed methods. Defaults to :data:`GRID_RANKS`.
        seeds: Seeds. Defaults to :data:`GRID_SEEDS`.
        results_dir: Folder of the result files. Defaults to ``"reports/grid/results"``.
        energies: Energy thresholds to run as well (compressed methods). Defaults to none.
        budgets: Parameter budgets to run as well (compressed methods). Defaults to none.
        architectures: Models, each one of :data:`svdnet.experiments.config.ARCHITECTURES`.
            Defaults to ``("mlp",)``.

    Returns:
        ``(groups, done)``: the groups with runs to do, and how many runs are finished.
    """
    for name, values in (("architectures", architectures), ("datasets", datasets),
                         ("methods", methods), ("seeds", seeds)):
        if not values:
            raise ValueError(f"{name} must list at least one value; received {list(values)!r}.")
    groups, done = [], 0
    cells = [(method, seed, architecture, dataset) for method in methods for seed in seeds
             for architecture in architectures for dataset in datasets]
    for method, seed, architecture, dataset in cells:
        if method != "dense" and not (ranks or energies or budgets):
            raise ValueError("Give at least one rank, energy or budget; received none.")
        # Start from the first choice asked for, so that options tied to a kind of
        # choice (allocation with budgets) validate.
        first = ({"rank": ranks[0]} if ranks else {"energy": energies[0]} if energies
                 else {"budget": budgets[0]})
        choice = {} if method == "dense" else {**dict.fromkeys(CHOICES), **first}
        config = base.replace(method=method, architecture=architecture,
                              dataset=dataset, seed=seed, **choice)
        todo, names = [], {}
        for run in expand_choices(config, list(ranks), list(energies), list(budgets)):
            name = result_name(run)
            if name in names:  # two configurations, one file: one result would be lost
                first, second = (
                    next(f"{kind} {value!r}" for kind, value in c.rank_choice.items()
                         if value is not None) for c in (names[name], run))
                raise ValueError(f"{first} and {second} would both be written to "
                                 f"{name}; give only one of them.")
            names[name] = run
            if is_finished(os.path.join(results_dir, name)):
                done += 1
            else:
                todo.append(run)
        if todo:
            def left(kind):
                return tuple(getattr(run, kind) for run in todo
                             if getattr(run, kind) is not None)
            groups.append(Group(todo[0], () if method == "dense" else left("rank"),
                                left("energy"), left("budget")))
    return groups, done


def notebook_parameters(group: Group, out: str) -> dict:
    """The sweep notebook's parameters for one group: every field of its configuration
    (RunConfig is the one schema of a run, so the notebook runs exactly the
    configuration the plan named), its choices, and where results and caches go."""
    parameters = dataclasses.asdict(group.config)
    parameters.update({
        "ranks": list(group.ranks),
        "energies": list(group.energies),
        "budgets": list(group.budgets),
        "baseline": False,
        "quick": False,  # explicit: SVDNET_QUICK left in the environment changes nothing
        "results_dir": os.path.abspath(os.path.join(out, "results")),
        "cache_dir": os.path.abspath(os.path.join(out, "cache")),
    })
    return parameters


def execute(group: Group, out: str, notebook: str = NOTEBOOK) -> str:
    """Runs one group through Papermill; returns the executed notebook's path.

    The notebook is written to a hidden partial file while it runs and renamed into
    ``<out>/runs`` only when it has finished without error; a failed execution is
    kept as ``<name>.failed.ipynb`` for inspection and the error is raised.
    """
    from svdnet.experiments.notebook_execution import execute_notebook

    runs = os.path.join(out, "runs")
    os.makedirs(runs, exist_ok=True)
    final = os.path.join(runs, group.name)
    partial = os.path.join(runs, ".partial-" + group.name)
    parameters = notebook_parameters(group, out)
    try:
        execute_notebook(notebook, partial, parameters, cwd=os.path.dirname(notebook))
    except Exception:
        if os.path.exists(partial):
            os.replace(partial, final[: -len(".ipynb")] + UNFINISHED["failed"] + ".ipynb")
        raise
    with open(partial, encoding="utf-8") as stream:
        text = without_folder(stream.read(), PROJECT_ROOT)  # project-relative paths
    write_text_atomic(final, text)
    os.unlink(partial)
    return final


def check_writable(out: str) -> None:
    """Raises ``PermissionError`` naming the folder when results cannot be written in
    ``out``."""
    for folder in ("results", "runs"):
        probe = os.path.join(out, folder, ".write-probe")
        write_text_atomic(probe, "")
        os.unlink(probe)


def _print(line: str) -> None:
    print(line, flush=True)


def run_grid(base: RunConfig, out: str = "reports/grid", log=_print, client=None,
             **grid) -> dict:
    """Runs every unfinished run of a grid, group by group, printing progress.

    Args:
        base: Settings shared by every run.
        out: Output folder (``results``, ``runs`` and ``cache`` inside). Defaults to
            ``"reports/grid"``.
        log: Where progress lines go. Defaults to printing them (flushed).
        client: A Dask :class:`distributed.Client` to run the groups on its workers
            (see :mod:`svdnet.experiments.cluster`), or ``None`` to run them here, one
            after another. Defaults to ``None``.
        **grid: ``architectures``, ``datasets``, ``methods``, ``ranks``, ``seeds``,
            ``energies``, ``budgets`` as for :func:`plan`.

    Returns:
        ``{"done_before": n, "ran": n, "failed": [group names]}``.
    """
    groups, done = plan(base, results_dir=os.path.join(out, "results"), **grid)
    return run_groups(groups, done, out, log, client)


def run_groups(groups, done: int, out: str = "reports/grid", log=_print,
               client=None) -> dict:
    """Runs ``groups`` (of :func:`plan`, or any list of :class:`Group`), printing progress:
    the part of :func:`run_grid` after its plan.

    Args:
        groups: The groups to run.
        done: How many runs of the grid are finished already (for the first line).
        out: Output folder. Defaults to ``"reports/grid"``.
        log: Where progress lines go. Defaults to printing them (flushed).
        client: A Dask client, or ``None`` to run here. Defaults to ``None``.

    Returns:
        ``{"done_before": n, "ran": n, "failed": [group names]}``.
    """
    check_writable(out)
    # Notebooks of executions that were killed: kept (as *-interrupted.ipynb) for the
    # outputs of the runs they finished, whose results stay; the rest is redone below.
    for stale in glob.glob(os.path.join(out, "runs", ".partial-*")):
        name = os.path.basename(stale)[len(".partial-"):-len(".ipynb")]
        os.replace(stale, os.path.join(out, "runs",
                                       name + UNFINISHED["interrupted"] + ".ipynb"))
    total_runs = sum(group.size for group in groups)
    log(f"svdnet grid: {done} run(s) already finished, {total_runs} to do in "
        f"{len(groups)} notebook(s); output in {out}")
    started = time.perf_counter()
    if client is not None and groups:
        from svdnet.experiments import cluster

        workers = cluster.check_workers(client, sorted({g.config.dataset for g in groups}))
        log(f"svdnet grid: {len(workers)} Dask worker(s) can load the data: {workers}")
        executor = cluster.DaskExecutor(client, out, NOTEBOOK,
                                        lambda group: notebook_parameters(group, out))
    else:
        executor = LocalExecutor(lambda group: execute(group, out), log)
    ran, failed = execute_groups(executor, groups, log)
    log(f"svdnet grid: ran {ran} run(s) in {(time.perf_counter() - started) / 60:.1f} min"
        + (f"; {len(failed)} notebook(s) failed: {failed}" if failed else ""))
    return {"done_before": done, "ran": ran, "failed": failed}


def comma_list(kind, allowed=None):
    """An argparse ``type``: a comma-separated list of ``kind`` (int, float or str, then
    among ``allowed``), as a tuple; empty lists, bad items and repeated values are refused
    naming them."""
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list; received {text!r}")
        if kind in (int, float):
            try:
                values = tuple(kind(item) for item in items)
            except ValueError:
                noun = "integers" if kind is int else "numbers"
                raise argparse.ArgumentTypeError(
                    f"expected comma-separated {noun}; received {text!r}") from None
        else:
            values = tuple(items)
            unknown = [item for item in items if allowed and item not in allowed]
            if unknown:
                raise argparse.ArgumentTypeError(
                    f"unknown value(s) {unknown} in {text!r}; allowed: {', '.join(allowed)}")
        repeated = sorted({value for value in values if values.count(value) > 1}, key=str)
        if repeated:  # 20,020 is 20 twice: one run, one file, so say it rather than run it twice
            raise argparse.ArgumentTypeError(
                f"value(s) {', '.join(map(str, repeated))} given more than once in {text!r}; "
                "list each value once")
        return values
    return parse


def _workers(text: str) -> int:
    """An argparse ``type``: the number of Dask workers, an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; received {text}.")
    return value


def add_runner_flags(parser: argparse.ArgumentParser, out_help: str) -> None:
    """Adds the flags of every command that runs groups of the grid: ``--out`` (default
    ``reports/grid``, described by ``out_help``), ``--dry-run`` and ``--workers``."""
    parser.add_argument("--out", default="reports/grid", help=out_help)
    parser.add_argument("--dry-run", action="store_true", help="list what would run")
    parser.add_argument("--workers", type=_workers, default=0,
                        help="run the notebooks on a local Dask cluster of this many worker "
                             "processes (default: 0, one at a time in this process, no "
                             "Dask); every run uses one thread either way "
                             "(svdnet.experiments.execution), so N workers use N cores")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m svdnet.experiments.grid", allow_abbrev=False,
        description="Run notebooks/sweep.ipynb over a grid of datasets, methods, ranks and "
                    "seeds; rerun to resume after an interruption.")
    parser.add_argument("--architectures", type=comma_list(str, ARCHITECTURES),
                        default=("mlp",),
                        help=f"models to train: {', '.join(ARCHITECTURES)} (default: mlp; the "
                             "cnn and vit keep their own layers, --epochs and "
                             "--finetune-epochs apply to them as to the mlp)")
    parser.add_argument("--datasets", type=comma_list(str, DATASETS), default=DATASETS)
    parser.add_argument("--methods", type=comma_list(str, METHODS), default=METHODS)
    parser.add_argument("--ranks", type=comma_list(int), default=GRID_RANKS)
    parser.add_argument("--seeds", type=comma_list(int), default=GRID_SEEDS)
    parser.add_argument("--energies", type=comma_list(float), default=(),
                        help="energy thresholds to run too, e.g. 0.9,0.99 (default: none)")
    parser.add_argument("--budgets", type=comma_list(int), default=(),
                        help="parameter budgets to run too, e.g. 100000 (default: none)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=0,
                        help="training examples per run; 0 (default) for the whole split")
    parser.add_argument("--svd-method", default=PROJECTION_BACKEND,
                        help=f"SVD backend (default: {PROJECTION_BACKEND}, the projection's "
                             "backend, with which every committed grid result ran)")
    add_flags(parser)  # one per option of svdnet.experiments.options
    parser.add_argument("--quick", action="store_true",
                        help="tiny grid (mnist; all methods; ranks 2, 20; seed 0; 2 epochs, "
                             "1 of fine-tuning; 1,000 examples) unless given otherwise")
    add_runner_flags(parser, "output folder")
    parser.add_argument("--scheduler", default=os.environ.get("DASK_SCHEDULER_ADDRESS", ""),
                        help="address of a running Dask scheduler to run the notebooks on, "
                             "e.g. tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS); "
                             "contacted only when runs are left, for as long as Dask's "
                             "distributed.comm.timeouts.connect")
    args = parser.parse_args(argv)
    if args.workers and args.scheduler:
        parser.error(f"give --workers ({args.workers}) or --scheduler ({args.scheduler!r}), "
                     "not both.")
    if args.scheduler:
        from svdnet.experiments.cluster import (
            check_scheduler_address,  # imports no Dask
        )

        try:
            check_scheduler_address(args.scheduler)
        except ValueError as error:
            parser.error(str(error))
    given = set(arg.split("=")[0].lstrip("-").replace("-", "_") for arg in (argv or sys.argv[1:])
                if arg.startswith("--"))
    grid = {}
    for key in ("architectures", "datasets", "methods", "ranks", "seeds", "epochs",
                "finetune_epochs", "train_size"):
        value = getattr(args, key)
        if args.quick and key not in given:
            value = QUICK_GRID[key]
        grid[key] = value
    grid["energies"], grid["budgets"] = args.energies, args.budgets
    if "ranks" not in given and (args.energies or args.budgets):
        grid["ranks"] = ()  # only the energies and budgets asked for
    try:
        # The first method asked for, so that options of some methods only (distillation)
        # validate; plan() then validates every run with its own method.
        base = RunConfig(method=grid["methods"][0] if grid["methods"] else "dense",
                         epochs=grid.pop("epochs"), train_size=grid.pop("train_size"),
                         finetune_epochs=grid.pop("finetune_epochs"),
                         svd_method=args.svd_method,
                         **{option.name: getattr(args, option.name)
                            for option in METHOD_OPTIONS})  # plan() validates each run
        groups, done = plan(base, results_dir=os.path.join(args.out, "results"), **grid)
        if not args.dry_run:
            check_writable(args.out)
    except (TypeError, ValueError, PermissionError) as error:
        parser.error(str(error))
    if args.dry_run:
        print(f"{done} run(s) finished; to do:")
        for group in groups:
            print(f"  {group.name}")
        return 0
    if not (args.workers or args.scheduler) or not groups:
        # here, one at a time, no Dask; with nothing left to run, no cluster is contacted
        outcome = run_grid(base, out=args.out, **grid)
        return 1 if outcome["failed"] else 0
    from svdnet.experiments import cluster

    try:
        client = (cluster.local_client(args.workers) if args.workers
                  else cluster.remote_client(args.scheduler))
    except cluster.SchedulerUnreachableError as error:
        print(f"svdnet grid: {error}", file=sys.stderr)
        return 1
    try:
        outcome = run_grid(base, out=args.out, client=client, **grid)
    except cluster.WorkerDataError as error:
        print(f"svdnet grid: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
