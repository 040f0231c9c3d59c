"""How the grid's groups are executed: one interface, two back ends, one progress report.

An executor takes the planned groups (:func:`svdnet.experiments.grid.plan`) and yields one
:class:`Outcome` per group as each finishes. :class:`LocalExecutor` runs them here, one
after another; :class:`svdnet.experiments.cluster.DaskExecutor` runs them as tasks on a
Dask cluster. :func:`execute_groups` drives either: it keeps going past a group that
failed (other groups do not depend on it), counts the runs written, and prints the same
progress and time left for both.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterable, Iterator, Protocol


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One group's execution.

    Attributes:
        group: The group (:class:`svdnet.experiments.grid.Group`).
        runs: Result files it wrote (0 when it failed).
        seconds: Wall time of its execution.
        where: Where it ran, ``"here"`` or a worker's host name.
        error: The exception it raised, or ``None`` when it finished.
        note: More words for its progress line (the cluster's queue). Defaults to ``""``.
    """

    group: object
    runs: int
    seconds: float
    where: str
    error: BaseException | None = None
    note: str = ""


class Executor(Protocol):
    """Runs groups; yields one :class:`Outcome` per group, in the order they finish."""

    def run(self, groups: list) -> Iterator[Outcome]:
        ...


class LocalExecutor:
    """Runs each group here, one after another.

    Args:
        execute: Runs one group and writes its results (for the grid,
            :func:`svdnet.experiments.grid.execute` with its output folder); raises when
            the group fails.
        log: Where the line naming each group as it starts goes.
    """

    def __init__(self, execute: Callable[[object], object], log: Callable[[str], None]):
        self.execute = execute
        self.log = log

    def run(self, groups: list) -> Iterator[Outcome]:
        for group in groups:
            self.log(f"running {group.name} ...")
            start = time.perf_counter()
            try:
                self.execute(group)
            except Exception as error:  # reported by execute_groups; the next group runs
                yield Outcome(group, 0, time.perf_counter() - start, "here", error)
                continue
            yield Outcome(group, group.size, time.perf_counter() - start, "here")


def _reason(error: BaseException) -> str:
    """The last line of an error's message, cut to 300 characters."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[-1][:300] if text else ''}"


def execute_groups(executor: Executor, groups: Iterable, log: Callable[[str], None]
                   ) -> tuple[int, list[str]]:
    """Runs ``groups`` with ``executor``, one progress line per group as it finishes
    (``[i/n] name: k run(s) in s s here; done/total runs, elapsed m min, about m min
    left``, or ``[i/n] name FAILED after s s here: Error: message``).

    Args:
        executor: A :class:`LocalExecutor` or a
            :class:`svdnet.experiments.cluster.DaskExecutor`.
        groups: The groups to run.
        log: Where progress lines go.

    Returns:
        ``(runs written, names of the groups that failed)``.
    """
    groups = list(groups)
    total, started = sum(group.size for group in groups), time.perf_counter()
    ran, failed = 0, []
    for index, outcome in enumerate(executor.run(groups), 1):
        head = f"[{index}/{len(groups)}] {outcome.group.name}"
        place = "here" if outcome.where == "here" else f"on {outcome.where}"
        if outcome.error is not None:
            failed.append(outcome.group.name)
            log(f"{head} FAILED after {outcome.seconds:.0f} s {place}: {_reason(outcome.error)}")
            continue
        ran += outcome.runs
        elapsed = time.perf_counter() - started
        left = elapsed / max(ran, 1) * (total - ran)
        log(f"{head}: {outcome.runs} run(s) in {outcome.seconds:.0f} s {place}; "
            f"{ran}/{total} runs done{outcome.note}, elapsed {elapsed / 60:.1f} min, "
            f"about {left / 60:.0f} min left")
    return ran, failed
