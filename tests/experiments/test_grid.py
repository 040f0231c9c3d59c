"""The sweep runner: planning, resuming, bad command lines, and a real SIGKILL."""

import dataclasses
import glob
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from svdnet.experiments import RunConfig
from svdnet.experiments.grid import Group, main, plan
from svdnet.experiments.results import write_json_atomic
from svdnet.experiments.sweep import result_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = RunConfig(epochs=2, finetune_epochs=1, train_size=1000)


def readable(folder, config, accuracy=0.9):
    """Writes a result file of ``config`` with every field the report reads."""
    return write_json_atomic(folder / result_name(config), {
        "config": dataclasses.asdict(config), "quick": False,
        "run": {"test_accuracy": accuracy, "test_loss": 0.3, "chosen_ranks": {},
                "params": {"dense": 1000, "factorized": 100, "ratio": 10.0},
                "train_seconds": 1.0, "svd_seconds": 0.1},
    })


def test_plan_skips_finished_runs_and_redoes_corrupt_ones(tmp_path):
    results = tmp_path / "results"
    groups, done = plan(BASE, datasets=("mnist",), methods=("dense", "lowrank"), ranks=(2, 20),
                        seeds=(0,), results_dir=str(results))
    assert done == 0
    assert [g.name for g in groups] == ["mnist-dense-e2-n1000-seed0.ipynb",
                                        "mnist-lowrank-e2-n1000-seed0-r2-20.ipynb"]
    readable(results, BASE.replace(method="dense"))
    readable(results, BASE.replace(method="lowrank", rank=2))
    (results / result_name(BASE.replace(method="lowrank", rank=20))).write_text('{"run": ')
    groups, done = plan(BASE, datasets=("mnist",), methods=("dense", "lowrank"), ranks=(2, 20),
                        seeds=(0,), results_dir=str(results))
    assert done == 2
    assert groups == [Group(BASE.replace(method="lowrank", rank=20), (20,))]


@pytest.mark.parametrize(
    "argv, text",
    [
        (["--ranks", "0"], "rank must be an integer between 1 and 1024, received 0"),
        (["--ranks", "2000"], "received 2000"),
        (["--ranks", "a,b"], "expected comma-separated integers; received 'a,b'"),
        (["--datasets", "cifar10"], "unknown value(s) ['cifar10'] in 'cifar10'; allowed: mnist, fashion_mnist"),
        (["--methods", "prune"], "unknown value(s) ['prune']"),
        (["--seeds", "-1"], "seed must be an integer between 0 and 4294967295, received -1"),
        (["--epochs", "0"], "epochs must be an integer >= 1, received 0"),
        (["--epochs", "2", "--methods", "finetune"], "finetune_epochs must be an integer between 1 and 1, received 2"),
        (["--svd-method", "qr"], "svd_method must be one of"),
        (["--ranks", ""], "expected a comma-separated list; received ''"),
        (["--budgets", "1"], "Give a budget of at least 16,164"),
        (["--train-size", "70000"], "train_size must be an integer between 0 and 60000, received 70000"),
        (["--seeds", "4294967296"], "seed must be an integer between 0 and 4294967295"),
        (["--workers", "-1"], "argument --workers: must be an integer >= 0; received -1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
         "give --workers (2) or --scheduler ('tcp://127.0.0.1:8786'), not both"),
        (["--scheduler", "notanaddress"],
         "--scheduler (or DASK_SCHEDULER_ADDRESS) must be a Dask scheduler address "
         "PROTOCOL://HOST:PORT, PROTOCOL one of tcp, tls, ws, wss, ucx (HOST:PORT alone means "
         "tcp) and PORT from 1 to 65535, for example tcp://10.0.0.5:8786; received "
         "'notanaddress'."),
        (["--scheduler", "tcp://10.0.0.5:99999"], "received 'tcp://10.0.0.5:99999'"),
        (["--scheduler", "http://10.0.0.5:8786"], "received 'http://10.0.0.5:8786'"),
        (["--scheduler", "tcp://:8786"], "received 'tcp://:8786'"),
        (["--seeds", "0,0"], "value(s) 0 given more than once in '0,0'"),
        (["--ranks", "020,20"], "value(s) 20 given more than once in '020,20'"),
        (["--methods", "dense,dense"], "value(s) dense given more than once"),
        (["--datasets", "mnist,mnist"], "value(s) mnist given more than once"),
        (["--energies", "0.9,0.90"], "value(s) 0.9 given more than once"),
        (["--energies", "0.9999999,1"],
         "energy 0.9999999 and energy 1.0 would both be written to "
         "mnist-projection-e1-auto-5x1024-e10-b128-seed0.json"),
        (["--architectures", "cnn,cnn"], "value(s) cnn given more than once"),
        (["--architectures", "resnet"], "unknown value(s) ['resnet']"),
        (["--architectures", "cnn", "--ranks", "200"], "rank"),  # beyond the CNN's kernels
        (["--architecture", "cnn"], "unrecognized arguments: --architecture"),
        (["--epoch", "3"], "unrecognized arguments: --epoch"),  # no abbreviations
        (["--work", "2"], "unrecognized arguments: --work"),
    ],
)
def test_bad_command_lines_name_the_value(argv, text, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(argv + ["--out", str(tmp_path), "--dry-run"])
    assert info.value.code == 2
    assert text in capsys.readouterr().err


def test_unwritable_output_is_reported_before_anything_runs(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        main(["--quick", "--out", str(blocker / "grid")])
    assert "Cannot write results to" in capsys.readouterr().err


def test_dry_run_lists_groups(capsys, tmp_path):
    assert main(["--quick", "--out", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "0 run(s) finished; to do:"
    assert lines[1].strip() == "mnist-dense-e2-n1000-seed0.ipynb"
    assert len(lines) == 7  # dense, then 5 methods x ranks 2 and 20


def test_the_cnn_and_the_vit_are_planned_like_the_mlp(capsys, tmp_path):
    assert main(["--quick", "--architectures", "mlp,cnn,vit", "--methods", "dense,small",
                 "--ranks", "4", "--out", str(tmp_path), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  mnist-dense-e2-n1000-seed0.ipynb", "  mnist-cnn-dense-e2-n1000-seed0.ipynb",
        "  mnist-vit-dense-e2-n1000-seed0.ipynb", "  mnist-small-e2-n1000-seed0-r4.ipynb",
        "  mnist-cnn-small-e2-n1000-seed0-r4.ipynb", "  mnist-vit-small-e2-n1000-seed0-r4.ipynb"]


def test_options_of_some_methods_plan_for_those_methods(capsys, tmp_path):
    # the shared settings validate with the methods asked for, not a default one
    assert main(["--methods", "small,lowrank", "--ranks", "5", "--output-layer", "dense",
                 "--distill", "0.9", "--seeds", "0", "--datasets", "mnist", "--out",
                 str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.strip() for line in lines[1:]] == [
        "mnist-small-e10-outdense-kd0.9t4-seed0-r5.ipynb",
        "mnist-lowrank-e10-outdense-kd0.9t4-seed0-r5.ipynb"]
    with pytest.raises(SystemExit):
        main(["--methods", "small,projection", "--ranks", "5", "--distill", "0.9", "--out",
              str(tmp_path), "--dry-run"])
    assert "received method='projection'" in capsys.readouterr().err


def _digest(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest(), os.stat(path).st_mtime_ns


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_sigkill_mid_sweep_then_resume_completes_without_redoing(tmp_path):
    """The quick grid for real: SIGKILL at a random moment, rerun, check, build the report."""
    out = tmp_path / "grid"
    command = [sys.executable, "-m", "svdnet.experiments.grid", "--quick", "--out", str(out)]
    first = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    results = out / "results"
    deadline = time.time() + 600
    while time.time() < deadline and not glob.glob(str(results / "*.json")):
        assert first.poll() is None, first.stdout.read().decode()[-3000:]
        time.sleep(1)
    # A random moment after the first result, seeded so a failure can be replayed
    # (SVDNET_KILL_SEED=<n> pytest ...); executions fill all but milliseconds of the time.
    kill_seed = int(os.environ.get("SVDNET_KILL_SEED", "0"))
    delay = random.Random(kill_seed).uniform(0, 20)
    print(f"SIGKILL {delay:.1f} s after the first result (SVDNET_KILL_SEED={kill_seed})")
    time.sleep(delay)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(5)  # the orphaned notebook kernel notices its parent died and exits
    finished = {path: _digest(path) for path in glob.glob(str(results / "*.json"))}
    runs = 1 + 5 * 2  # dense, then 5 methods at ranks 2 and 20
    assert 1 <= len(finished) < runs
    for path in finished:  # every result on disk is complete
        with open(path) as stream:
            assert json.load(stream)["run"]["test_accuracy"] >= 0

    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{len(finished)} run(s) already finished" in second.stdout
    assert {path: _digest(path) for path in finished} == finished  # untouched
    assert len(glob.glob(str(results / "*.json"))) == runs
    assert not glob.glob(str(out / "runs" / ".partial-*"))
    # the notebook the kill interrupted is kept, with the outputs of the runs it finished
    interrupted = glob.glob(str(out / "runs" / "*-interrupted.ipynb"))
    assert len(interrupted) == 1, interrupted
    assert json.load(open(interrupted[0]))["cells"]
    assert len(glob.glob(str(out / "runs" / "*.ipynb"))) >= 5

    third = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert f"{runs} run(s) already finished, 0 to do" in third.stdout

    report = tmp_path / "report.ipynb"
    built = subprocess.run(
        [sys.executable, "-m", "papermill", os.path.join(ROOT, "notebooks", "report.ipynb"),
         str(report), "-p", "results_dir", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert f"{runs} results from" in report.read_text()


@pytest.mark.parametrize("contents", [
    b'{"foo": 1}',                       # JSON, but not a sweep result
    b'{"config": {}, "run": {}}',        # the right keys, no fields
    b'\xff\xfe{"run": 1}',              # not UTF-8
    b'[1, 2]',                           # not an object
])
def test_a_file_the_report_cannot_read_is_not_finished_and_is_run_again(tmp_path, contents):
    from svdnet.experiments.report import load_results

    results = tmp_path / "results"
    config = BASE.replace(method="dense")
    results.mkdir()
    (results / result_name(config)).write_bytes(contents)
    groups, done = plan(BASE, datasets=("mnist",), methods=("dense",), seeds=(0,),
                        results_dir=str(results))
    assert done == 0 and [group.config for group in groups] == [config]
    frame, problems = load_results(str(results), on_corrupt="skip")
    assert frame.empty  # and the report does not count it either
    readable(results, config)
    assert plan(BASE, datasets=("mnist",), methods=("dense",), seeds=(0,),
                results_dir=str(results)) == ([], 1)


def test_every_run_config_field_reaches_the_notebook_and_its_result_is_found(tmp_path,
                                                                            monkeypatch):
    """RunConfig(every=2) is planned, executed with every=2, and then counts as finished."""
    import papermill

    from svdnet.experiments import grid

    monkeypatch.setenv("SVDNET_QUICK", "1")
    base = BASE.replace(every=2, batch_size=64, pipeline="numpy", jit_compile=False)
    groups, _ = plan(base, datasets=("mnist",), methods=("projection",), ranks=(3,), seeds=(1,),
                     results_dir=str(tmp_path / "results"))
    seen = {}

    def fake_execute(notebook, output, parameters, **kwargs):
        seen.update(parameters)
        config = RunConfig(**{field.name: parameters[field.name]
                              for field in dataclasses.fields(RunConfig)}).replace(
            rank=parameters["ranks"][0])
        readable(tmp_path / "results", config)  # what the notebook would write
        with open(output, "w") as stream:
            stream.write("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    grid.execute(groups[0], str(tmp_path))
    for field in dataclasses.fields(RunConfig):
        if field.name not in ("rank", "energy", "budget"):
            assert seen[field.name] == getattr(groups[0].config, field.name), field.name
    assert seen["every"] == 2 and seen["ranks"] == [3]
    assert seen["quick"] is False  # SVDNET_QUICK left in the environment cannot redirect results
    groups, done = plan(base, datasets=("mnist",), methods=("projection",), ranks=(3,),
                        seeds=(1,), results_dir=str(tmp_path / "results"))
    assert (groups, done) == ([], 1)


def test_without_workers_the_runner_never_imports_dask(tmp_path):
    code = ("import sys; from svdnet.experiments import grid; "
            f"grid.main(['--quick', '--dry-run', '--out', {str(tmp_path)!r}]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_tiny_dense_run_near_chance_is_a_result_and_a_rerun_has_nothing_to_do(tmp_path):
    """100 examples and one epoch score near chance: that is the run's result, not a
    failure; its result is finished, and only a finished run is skipped on resume."""
    from svdnet.experiments.results import is_finished

    command = [sys.executable, "-m", "svdnet.experiments.grid", "--quick", "--methods", "dense",
               "--train-size", "100", "--epochs", "1", "--out", str(tmp_path)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "FAILED" not in first.stdout
    (result,) = glob.glob(str(tmp_path / "results" / "*.json"))
    assert is_finished(result)
    (notebook,) = glob.glob(str(tmp_path / "runs" / "*.ipynb"))
    assert notebook.endswith("mnist-dense-e1-n100-seed0.ipynb")
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "1 run(s) already finished, 0 to do" in second.stdout


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "10.0.0.5:8786",
                                     "tls://scheduler.example.org:8786", "tcp://[::1]:8786"])
def test_scheduler_addresses_dask_takes_are_accepted(address):
    from svdnet.experiments.cluster import check_scheduler_address

    assert check_scheduler_address(address) == address


def test_nothing_left_to_run_contacts_no_scheduler(tmp_path, monkeypatch, capsys):
    from svdnet.experiments import cluster

    def connect(*args, **kwargs):
        raise AssertionError("connected to a scheduler with nothing to run")

    monkeypatch.setattr(cluster, "remote_client", connect)
    readable(tmp_path / "results", BASE.replace(method="dense"))
    assert main(["--quick", "--methods", "dense", "--scheduler", "tcp://127.0.0.1:1",
                 "--out", str(tmp_path)]) == 0
    assert "1 run(s) already finished, 0 to do" in capsys.readouterr().out


def test_an_unreachable_scheduler_is_one_line_naming_the_address(tmp_path, capsys):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):  # not Dask's 30 s
        code = main(["--quick", "--methods", "dense", "--scheduler", "tcp://127.0.0.1:1",
                     "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("svdnet grid: No Dask scheduler answered at 'tcp://127.0.0.1:1' "
                          "within 1s") and "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT" in err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "results").exists() or not os.listdir(tmp_path / "results")


@pytest.mark.parametrize("module", ["svdnet.experiments.grid", "svdnet.experiments.post_training"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_answers_without_keras_or_tensorflow(module, flag):
    # -X importtime lists every module the process imports, on stderr.
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", module, flag],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:"), result.stdout[:500]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = sorted(name for name in imported
                   if name.split(".")[0] in ("keras", "tensorflow", "tensorflow_datasets", "jax"))
    assert not heavy, heavy[:10]
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr


def test_grid_help_names_every_architecture():
    result = subprocess.run([sys.executable, "-m", "svdnet.experiments.grid", "--help"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": ROOT})
    from svdnet.experiments.config import ARCHITECTURES

    text = " ".join(result.stdout.split())
    assert f"models to train: {', '.join(ARCHITECTURES)}" in text, text[:2000]
