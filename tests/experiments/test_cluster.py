"""The sweep runner on a real Dask cluster: 2 worker processes on loopback.

The grid here is the quick grid cut to three runs (dense, projection and lowrank at rank
2; MNIST, 1,000 examples, 2 epochs), so that each test costs a minute or two on 2 cores.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from svdnet.experiments import RunConfig, cluster
from svdnet.experiments.execution import THREAD_VARIABLES, follows_rule
from svdnet.experiments.grid import run_grid
from svdnet.experiments.report import load_results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = RunConfig(epochs=2, finetune_epochs=1, train_size=1000)
GRID = {"datasets": ("mnist",), "methods": ("dense", "projection", "lowrank"), "ranks": (2,),
        "seeds": (0,)}
ARGS = ["--quick", "--methods", "dense,projection,lowrank", "--ranks", "2"]

pytestmark = pytest.mark.slow


def _results(folder):
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "results", "*.json"))):
        with open(path) as stream:
            payload = json.load(stream)
        found[os.path.basename(path)] = payload
    return found


def _grid(argv, env=None, timeout=900, unset=()):
    environment = {name: value for name, value in os.environ.items() if name not in unset}
    return subprocess.run([sys.executable, "-m", "svdnet.experiments.grid", *argv], cwd=ROOT,
                          env={**environment, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.timeout(1200)
def test_two_local_workers_give_the_results_of_one_process(tmp_path):
    # Alone, with nothing set in the environment: the execution rule alone makes the
    # arithmetic the same as on two workers.
    single = _grid(ARGS + ["--out", str(tmp_path / "one")],
                   unset=(*THREAD_VARIABLES, "TF_NUM_INTEROP_THREADS"))
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-2000:]
    workers = _grid(ARGS + ["--out", str(tmp_path / "two"), "--workers", "2"])
    assert workers.returncode == 0, workers.stdout[-2000:] + workers.stderr[-2000:]
    assert "2 Dask worker(s) can load the data" in workers.stdout
    one, two = _results(tmp_path / "one"), _results(tmp_path / "two")
    assert sorted(one) == sorted(two) and len(one) == 3
    def measured(run):  # everything but wall times
        history = {key: values for key, values in run["history"].items()
                   if not key.endswith("seconds")}
        return (run["test_accuracy"], run["test_loss"], history, run["chosen_ranks"],
                run["params"], run["ranks"])

    for name in one:
        assert measured(one[name]["run"]) == measured(two[name]["run"]), name
        assert one[name]["execution"] == two[name]["execution"], name
        assert follows_rule(one[name]["execution"]), one[name]["execution"]
    assert len(glob.glob(str(tmp_path / "two" / "runs" / "*.ipynb"))) == 3


@pytest.mark.timeout(1200)
def test_a_worker_killed_mid_run_costs_only_that_attempt(tmp_path):
    client = cluster.local_client(2)
    pids = client.run(os.getpid)
    killed = {}

    def kill_a_busy_worker():
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            busy = [worker for worker, keys in client.processing().items() if keys]
            if busy:
                time.sleep(8)  # into the run: the kernel is training
                killed[busy[0]] = pids[busy[0]]
                os.kill(pids[busy[0]], signal.SIGKILL)
            time.sleep(0.5)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    lines = []
    try:
        killer.start()
        outcome = run_grid(BASE, out=str(tmp_path), log=lines.append, client=client, **GRID)
    finally:
        killer.join(timeout=5)
        client.close()
    assert killed, "no worker was killed"
    assert outcome == {"done_before": 0, "ran": 3, "failed": []}, lines
    results = _results(tmp_path)
    assert len(results) == 3 and all(r["run"]["test_accuracy"] > 0 for r in results.values())
    done = [line for line in lines if line.startswith("[")]
    assert len(done) == 3 and len({line.split(":")[0].split("] ")[1] for line in done}) == 3
    assert not glob.glob(str(tmp_path / "results" / ".tmp-*"))
    frame, problems = load_results(str(tmp_path / "results"))
    assert len(frame) == 3 and not problems  # the report reads every result


@pytest.mark.timeout(600)
def test_a_worker_that_cannot_load_the_data_is_named_before_any_run(tmp_path):
    from distributed import Client, Nanny, Scheduler, SpecCluster

    good = {"TFDS_DATA_DIR": os.environ.get("TFDS_DATA_DIR", "")}
    bad = {"TFDS_DATA_DIR": str(tmp_path / "a-file" / "no-data")}  # cannot be created
    (tmp_path / "a-file").write_text("")
    spec = SpecCluster(
        scheduler={"cls": Scheduler, "options": {"dashboard_address": None,
                                                 "host": "127.0.0.1"}},
        workers={name: {"cls": Nanny, "options": {"nthreads": 1, "env": env,
                                                   "host": "127.0.0.1"}}
                 for name, env in (("good", good), ("bad", bad))})
    client = Client(spec)
    try:
        bad_address = next(address for address, info in client.scheduler_info()["workers"].items()
                           if info["name"] == "bad")
        with pytest.raises(cluster.WorkerDataError) as info:
            run_grid(BASE, out=str(tmp_path / "out"), log=lambda line: None, client=client,
                     **GRID)
    finally:
        client.close()
        spec.close()
    message = str(info.value)
    assert f"worker {bad_address}" in message and "cannot load 'mnist'" in message
    assert str(tmp_path / "a-file" / "no-data") in message
    assert message.count("cannot load") == 1  # the good worker is not named
    assert not glob.glob(str(tmp_path / "out" / "results" / "*.json"))
