"""Running the grid's notebook executions on a Dask cluster.

``python -m svdnet.experiments.grid --workers N`` starts a :class:`distributed.LocalCluster`
of N worker processes on this machine; ``--scheduler ADDRESS`` (or the environment
variable ``DASK_SCHEDULER_ADDRESS``) connects to a cluster that already runs (SLURM or
PBS through dask-jobqueue, Kubernetes, a cloud). Without either the runner never imports
Dask.

Each group of runs is one task. It executes the sweep notebook on a worker, in a
temporary folder of that worker, and **returns** the executed notebook and its result
files; the runner alone writes them under ``--out``, atomically, once. So no shared file
system is needed, a worker that dies mid-run leaves nothing half-written, and no result
is written twice. Dask reruns a task whose worker died on another worker, at most
:data:`ALLOWED_FAILURES` times; a task that keeps killing workers is reported as failed.
A killed runner resumes as before: what it wrote is finished, the rest runs again.

Data: every worker loads TensorFlow Datasets from its own ``TFDS_DATA_DIR`` (or downloads
them); before dispatching anything the runner asks every worker to load the grid's
datasets, and names each worker that cannot. Dense weights that ``posthoc`` and
``finetune`` start from are cached per worker machine (:data:`WORKER_CACHE`); a worker
without them trains the dense model itself (every run follows one execution rule,
:mod:`svdnet.experiments.execution`, so results do not depend on where a run went).
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
import time

from svdnet.experiments.execution import thread_environment
from svdnet.experiments.paths import without_folder
from svdnet.experiments.results import is_finished, write_text_atomic

ALLOWED_FAILURES = 2
"""How many workers a task may see die before it is reported as failed (Dask's
``distributed.scheduler.allowed-failures``)."""

WORKER_CACHE = os.path.join(tempfile.gettempdir(), "svdnet-worker-cache")
"""Where a worker keeps dense weights for later ``posthoc`` and ``finetune`` runs."""

def local_client(workers: int):
    """Starts a :class:`distributed.LocalCluster` of ``workers`` processes on loopback,
    each with one task slot, held to the execution rule (one thread per run:
    :func:`svdnet.experiments.execution.thread_environment`), and returns a client of
    it."""
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           env=thread_environment())
    return Client(cluster)


SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx")
"""Protocols a scheduler address may name (Dask's; an address without one is ``tcp``)."""

_ADDRESS = re.compile(r"^(?:(?P<protocol>[A-Za-z0-9+.-]+)://)?"
                      r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d+)/?$")


class SchedulerUnreachableError(ConnectionError):
    """Raised when no Dask scheduler answers at the address given; names it."""


def check_scheduler_address(address: str) -> str:
    """Checks the form of a Dask scheduler address, before any connection is tried.

    Args:
        address: ``PROTOCOL://HOST:PORT`` (for example ``tcp://10.0.0.5:8786``) or
            ``HOST:PORT`` (``tcp``), PROTOCOL one of :data:`SCHEDULER_PROTOCOLS`.

    Returns:
        ``address``.

    Raises:
        ValueError: naming the value received and the form allowed.
    """
    match = _ADDRESS.match(address) if isinstance(address, str) else None
    if (match is None or (match.group("protocol") or "tcp") not in SCHEDULER_PROTOCOLS
            or not 1 <= int(match.group("port")) <= 65535):
        raise ValueError(
            f"--scheduler (or DASK_SCHEDULER_ADDRESS) must be a Dask scheduler address "
            f"PROTOCOL://HOST:PORT, PROTOCOL one of {', '.join(SCHEDULER_PROTOCOLS)} (HOST:PORT "
            f"alone means tcp) and PORT from 1 to 65535, for example tcp://10.0.0.5:8786; "
            f"received {address!r}.")
    return address


def remote_client(address: str, timeout=None):
    """Connects to a running Dask scheduler at ``address`` (``tcp://host:8786``). Its
    ``allowed-failures`` setting is the scheduler's own (set it there).

    Args:
        address: The scheduler's address (see :func:`check_scheduler_address`).
        timeout: Seconds (or a Dask duration such as ``"10s"``) to keep trying. Defaults
            to ``None``: Dask's ``distributed.comm.timeouts.connect`` (30 s unless set, for
            example with ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s``).

    Raises:
        SchedulerUnreachableError: when no scheduler answers within the timeout, naming the
            address, the timeout and how to change it.
    """
    import dask
    from distributed import Client

    if timeout is None:
        timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        return Client(address, timeout=timeout)
    except OSError as error:  # refused, unreachable, timed out, unknown host
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(
            error).__name__
        raise SchedulerUnreachableError(
            f"No Dask scheduler answered at {address!r} within {timeout} ({reason}). Start "
            "the scheduler or correct --scheduler (or DASK_SCHEDULER_ADDRESS); the wait is "
            "Dask's distributed.comm.timeouts.connect "
            "(DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT).") from error


def _can_load(datasets: list) -> dict:
    """On a worker: tries to load each dataset. Returns the worker's ``TFDS_DATA_DIR`` and
    dataset to error (``""`` when it loads)."""
    from svdnet.experiments.data import load_dataset

    problems = {}
    for name in datasets:
        try:
            load_dataset(name, train_size=1)
            problems[name] = ""
        except Exception as error:  # any failure is the worker's answer
            problems[name] = f"{type(error).__name__}: {error}"
    return {"folder": os.environ.get("TFDS_DATA_DIR", "(unset)"), "problems": problems}


class WorkerDataError(RuntimeError):
    """Raised when a worker cannot load a dataset of the grid; names both."""


def check_workers(client, datasets) -> list:
    """Asks every worker to load ``datasets``, before any run is dispatched.

    Returns:
        The workers' addresses.

    Raises:
        WorkerDataError: naming each worker and dataset that failed, and the worker's
            ``TFDS_DATA_DIR``.
        RuntimeError: when the cluster has no worker.
    """
    answers = client.run(_can_load, list(datasets))
    if not answers:
        raise RuntimeError("The Dask cluster has no worker; start workers first.")
    failures = [f"worker {worker} (TFDS_DATA_DIR={answer['folder']}) cannot load "
                f"{name!r}: {error}"
                for worker, answer in sorted(answers.items())
                for name, error in answer["problems"].items() if error]
    if failures:
        raise WorkerDataError("Before any run: " + "; ".join(failures)
                              + ". Prepare the data there or point TFDS_DATA_DIR at it.")
    return sorted(answers)


def execute_on_worker(notebook_text: str, name: str, parameters: dict) -> dict:
    """On a worker: executes the sweep notebook for one group in a temporary folder.

    Args:
        notebook_text: The sweep notebook (sent by the runner: workers need no copy of
            the project's files).
        name: The executed notebook's file name.
        parameters: The group's notebook parameters; ``results_dir`` and ``cache_dir``
            are replaced by folders of this worker.

    Returns:
        ``{"notebook": text, "results": {file name: text}, "worker": host,
        "seconds": wall time}``.
    """
    import socket

    from svdnet.experiments.notebook_execution import execute_notebook

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="svdnet-task-") as folder:
        source = os.path.join(folder, "sweep.ipynb")
        with open(source, "w", encoding="utf-8") as stream:
            stream.write(notebook_text)
        results = os.path.join(folder, "results")
        output = os.path.join(folder, name)
        execute_notebook(source, output, cwd=folder,
                         parameters={**parameters, "results_dir": results,
                                     "cache_dir": WORKER_CACHE})
        files = {}
        for path in sorted(glob.glob(os.path.join(results, "*.json"))):
            with open(path, encoding="utf-8") as stream:
                files[os.path.basename(path)] = stream.read()
        with open(output, encoding="utf-8") as stream:  # paths relative to the task folder
            notebook = without_folder(without_folder(stream.read(), folder), WORKER_CACHE,
                                      "worker-cache")
    return {"notebook": notebook, "results": files, "worker": socket.gethostname(),
            "seconds": time.perf_counter() - start}


class DaskExecutor:
    """Runs every group as a task on a Dask cluster and writes what comes back (an
    executor of :func:`svdnet.experiments.executors.execute_groups`).

    Args:
        client: A :class:`distributed.Client`.
        out: The output folder.
        notebook: Path of the sweep notebook (its text is sent with every task).
        parameters_of: Group to its notebook parameters.
    """

    def __init__(self, client, out: str, notebook: str, parameters_of):
        self.client = client
        self.out = out
        self.notebook = notebook
        self.parameters_of = parameters_of

    def run(self, groups: list):
        """Submits every group, then yields an :class:`svdnet.experiments.executors.Outcome`
        per group as its task finishes (its results written under ``out`` first)."""
        from distributed import as_completed

        from svdnet.experiments.executors import Outcome

        with open(self.notebook, encoding="utf-8") as stream:
            text = stream.read()
        futures, submitted = {}, {}
        for group in groups:
            future = self.client.submit(execute_on_worker, text, group.name,
                                        self.parameters_of(group),
                                        key=f"svdnet-{group.name}-{time.time_ns()}", pure=False)
            futures[future], submitted[future] = group, time.perf_counter()
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        finished = 0
        for future in as_completed(futures):
            group = futures[future]
            finished += 1
            try:
                answer = future.result()
            except Exception as error:  # the group's own error, or KilledWorker
                yield Outcome(group, 0, time.perf_counter() - submitted[future], "the cluster",
                              error)
                continue
            running = min(workers, len(groups) - finished)
            yield Outcome(group, _write(answer, group, self.out), answer["seconds"],
                          answer["worker"], note=f" ({running} notebook(s) running, "
                                                 f"{len(groups) - finished - running} waiting)")


def _write(answer: dict, group, out: str) -> int:
    """Writes a task's results and notebook under ``out``, each atomically, once."""
    written = 0
    for name, text in answer["results"].items():
        path = os.path.join(out, "results", name)
        if is_finished(path):  # already there (an earlier runner wrote it): keep it
            continue
        write_text_atomic(path, text)
        written += 1
    write_text_atomic(os.path.join(out, "runs", group.name), answer["notebook"])
    return written
