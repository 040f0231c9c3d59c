"""One sweep experiment: what ``notebooks/sweep.ipynb`` runs and records.

An experiment trains the model of one :class:`svdnet.RunConfig` (and, optionally, the
dense baseline with the same seed) and writes one JSON result file, atomically.

Quick mode: when the environment variable ``SVDNET_QUICK`` is ``1`` (the notebook tests
set it), an experiment trains on the first :data:`QUICK_TRAIN_SIZE` examples instead of
the whole split, and writes its result under a scratch folder rather than the results
folder. Everything else (architecture, rank, epochs) keeps the values asked for.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time

import pandas as pd

from svdnet.data import load_dataset
from svdnet.experiment import Run, RunConfig, layer_spectra, train, validate_config  # noqa: F401
from svdnet.provenance import provenance
from svdnet.results import write_json_atomic

QUICK_ENV = "SVDNET_QUICK"
QUICK_TRAIN_SIZE = 2000


def quick_mode() -> bool:
    """True when ``SVDNET_QUICK=1`` asks for the quick (test) mode."""
    return os.environ.get(QUICK_ENV, "") == "1"


def apply_quick_mode(config: RunConfig) -> RunConfig:
    """Returns ``config`` with at most :data:`QUICK_TRAIN_SIZE` training examples in
    quick mode, else ``config`` unchanged."""
    if not quick_mode():
        return config
    size = QUICK_TRAIN_SIZE if config.train_size == 0 else min(config.train_size, QUICK_TRAIN_SIZE)
    return config.replace(train_size=size)


def results_folder(results_dir: str) -> str:
    """Returns ``results_dir``, or a scratch folder in quick mode (toy results stay out
    of the results folder)."""
    if not quick_mode():
        return results_dir
    return os.path.join(tempfile.gettempdir(), "svdnet-quick", "results")


def result_name(config: RunConfig) -> str:
    """Returns the result file name of ``config``, unique per distinct run.

    For example ``mnist-projection-r20-5x1024-e10-b128-seed0.json``.
    """
    parts = [config.dataset, config.method]
    if config.method != "dense":
        parts.append(f"r{config.rank}")
        if config.svd_method != "exact":
            parts.append(config.svd_method)
        if config.every != 1:
            parts.append(f"every{config.every}")
    parts += [f"{config.depth}x{config.width}", f"e{config.epochs}", f"b{config.batch_size}"]
    if config.train_size:
        parts.append(f"n{config.train_size}")
    parts.append(f"seed{config.seed}")
    return "-".join(parts) + ".json"


@dataclasses.dataclass
class Experiment:
    """The outcome of :func:`run_experiment`.

    Attributes:
        config: The configuration actually run (after quick mode).
        run: The :class:`svdnet.Run` of ``config.method``.
        baseline: The dense baseline's :class:`svdnet.Run`, or ``None``.
        spectra: ``{"before": ..., "after": ...}``: per-layer singular values just before
            the last truncation and of the final kernels.
        payload: The document written to :attr:`path`.
        path: Where the JSON result was written.
    """

    config: RunConfig
    run: Run
    baseline: Run | None
    spectra: dict
    payload: dict
    path: str


def run_experiment(
    config: RunConfig,
    baseline: bool = True,
    results_dir: str = "reports/results",
    data_dir: str | None = None,
    verbose: int = 0,
) -> Experiment:
    """Trains ``config`` (and the dense baseline), tests both, writes one JSON result.

    Args:
        config: A :class:`svdnet.RunConfig`.
        baseline: Also train the dense model with the same seed, data and epochs, for
            comparison. Ignored when ``config.method == "dense"``. Defaults to ``True``.
        results_dir: Folder of the result file. Defaults to ``"reports/results"``.
        data_dir: TFDS data folder; defaults to ``TFDS_DATA_DIR``.
        verbose: Keras ``fit`` verbosity. Defaults to 0.

    Returns:
        An :class:`Experiment`.
    """
    config = apply_quick_mode(validate_config(config))
    results_dir = results_folder(results_dir)
    start = time.perf_counter()
    data = load_dataset(config.dataset, data_dir=data_dir, train_size=config.train_size)
    load_seconds = time.perf_counter() - start
    run = train(data, config, record_spectrum=True, evaluate_each_epoch=True, verbose=verbose)
    dense = None
    if baseline and config.method != "dense":
        dense = train(data, config.replace(method="dense"), evaluate_each_epoch=True,
                      verbose=verbose)
    after = run.final_spectra
    before = run.spectra or after
    payload = {
        "config": dataclasses.asdict(config),
        "quick": quick_mode(),
        "run": run.summary(),
        "baseline": dense.summary() if dense else None,
        "spectra": {
            "before": before,
            "after": after,
            "dense": dense.final_spectra if dense else None,
        },
        "data": {
            "train_examples": int(data.x_train.shape[0]),
            "test_examples": int(data.x_test.shape[0]),
            "load_seconds": load_seconds,
        },
        "wall_seconds": time.perf_counter() - start,
        "provenance": provenance(),
    }
    path = write_json_atomic(os.path.join(results_dir, result_name(config)), payload)
    return Experiment(config, run, dense, {"before": before, "after": after}, payload, path)


def comparison_table(experiment: Experiment) -> pd.DataFrame:
    """Returns one row per trained model: accuracy, loss, sizes and times.

    Columns: ``test accuracy``, ``test loss``, ``parameters`` (as stored: the projected
    model still holds full kernels), ``factorised parameters`` (as rank-k factors where
    that is smaller), ``compression`` (dense parameters / factorised parameters),
    ``train s`` and ``svd s``.
    """
    rows = {}
    for label, run in (("dense", experiment.baseline), (experiment.config.method, experiment.run)):
        if run is None:
            continue
        rows[label] = {
            "test accuracy": run.test_accuracy,
            "test loss": run.test_loss,
            "parameters": run.params["dense"],
            "factorised parameters": run.params["factorised"],
            "compression": run.params["ratio"],
            "train s": float(sum(run.epoch_seconds)),
            "svd s": run.svd_seconds,
        }
    return pd.DataFrame.from_dict(rows, orient="index")
