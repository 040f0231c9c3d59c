"""Fixtures of the harness tests: small real MNIST data, on the TensorFlow backend."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from svdnet import experiments  # noqa: E402
from svdnet.experiments.results import write_json_atomic  # noqa: E402


@pytest.fixture(scope="session")
def mnist_small():
    """The first 2,000 real MNIST training examples and the full test split."""
    return experiments.load_dataset("mnist", train_size=2000)


def _write_result(folder, method, seed, accuracy, factorized, rank=None, budget=None,
                  train=None, dataset="mnist", chosen=None, name=None, extra=None, **options):
    """A result file as the sweep writes it: ``train`` is the last epoch's training
    accuracy (none: no history), ``factorized`` the exported model's parameters (the
    dense network has 1,000); ``options`` are further config fields, ``extra`` further
    top-level fields (deployment costs, provenance), ``name`` the file's name (default:
    one made from the architecture, dataset, method, rank or budget and seed)."""
    label = "dense" if method == "dense" else f"r{rank}" if rank else f"p{budget}"
    architecture = options.get("architecture", "mlp")
    name = name or (f"{dataset}-{'' if architecture == 'mlp' else architecture + '-'}"
                    f"{method}-{label}-seed{seed}.json")
    run = {"test_accuracy": accuracy, "test_loss": 0.1, "chosen_ranks": chosen or {},
           "params": {"dense": 1000, "factorized": factorized, "ratio": 1000 / factorized},
           "train_seconds": 5.0, "svd_seconds": 0.5}
    if train is not None:
        run["history"] = {"accuracy": [0.5, train]}
    write_json_atomic(folder / name, {
        "config": {"dataset": dataset, "method": method, "rank": rank, "budget": budget,
                   "energy": None, "seed": seed, "epochs": 10, **options},
        "quick": False, "run": run, "wall_seconds": 60.0, **(extra or {}),
    })


@pytest.fixture()
def write_result():
    """Writes one sweep result file with the fields the report reads (see
    ``_write_result``)."""
    return _write_result


@pytest.fixture()
def sweep_results(tmp_path):
    """Two seeds: dense 98%; at rank 20 (400 parameters, 2.5x) finetune 97.8% and
    posthoc 90%; at rank 2 (100 parameters, 10x) projection trains at 95% but tests at
    50%, lowrank 93%, small 96%; a 110-parameter budget at 94%, small 96% there."""
    for seed in (0, 1):
        d = 0.001 * seed
        _write_result(tmp_path, "dense", seed, 0.98 + d, 1000, train=0.99 + d)
        _write_result(tmp_path, "finetune", seed, 0.978 + d, 400, rank=20, train=0.99)
        _write_result(tmp_path, "posthoc", seed, 0.90 + d, 400, rank=20, train=0.99)
        _write_result(tmp_path, "posthoc", seed, 0.979 + d, 800, rank=200, train=0.99)
        _write_result(tmp_path, "projection", seed, 0.50 + d, 100, rank=2, train=0.95 + d)
        _write_result(tmp_path, "projection", seed, 0.975 + d, 400, rank=20, train=0.985)
        _write_result(tmp_path, "lowrank", seed, 0.93 + d, 100, rank=2, train=0.94)
        _write_result(tmp_path, "small", seed, 0.96 + d, 101, rank=2, train=0.97)
        _write_result(tmp_path, "finetune", seed, 0.94 + d, 110, budget=110, train=0.95)
        _write_result(tmp_path, "small", seed, 0.96 + d, 111, budget=110, train=0.97)
        _write_result(tmp_path, "finetune", seed, 0.90 + d, 100, rank=2, train=0.95)
    return tmp_path
