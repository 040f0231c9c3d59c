"""One sweep experiment: what ``notebooks/sweep.ipynb`` runs and records.

An experiment trains the model of one :class:`svdnet.experiments.RunConfig` (and, optionally, the
dense baseline with the same seed), checks what it measured, and only then writes one JSON
result file, atomically: a run that fails its checks leaves no result, so it is never
counted as finished.

Quick mode (``quick=True``, the notebooks' ``quick`` parameter) trains on the first
:data:`QUICK_TRAIN_SIZE` examples instead of the whole split and writes its result under
a scratch folder rather than the results folder; everything else (architecture, rank,
epochs) keeps the values asked for. It is explicit: ``quick=None`` (the notebooks'
default) takes it from the environment variable ``SVDNET_QUICK=1``, which only the
notebook tests set (nbval cannot pass parameters), and says so loudly. The grid runner
always passes ``quick=False``, so a variable left set never redirects a sweep's results.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
import warnings

import pandas as pd

from svdnet.experiments.config import (  # noqa: F401
    RunConfig,
    expand_choices,
    model_token,
    validate_config,
)
from svdnet.experiments.data import Dataset, load_dataset
from svdnet.experiments.execution import execution_record, pin_threads
from svdnet.experiments.provenance import provenance
from svdnet.experiments.results import ResultValueError, result_name, write_result
from svdnet.experiments.snapshots import SaveWeightsAt
from svdnet.experiments.speed import INFERENCE_EXAMPLES, predict_seconds
from svdnet.experiments.training import Run, dense_model, layer_spectra, train  # noqa: F401
from svdnet.compression import layer_costs
from svdnet.validation import check_bool

QUICK_ENV = "SVDNET_QUICK"
QUICK_TRAIN_SIZE = 2000
EXPECTED_DENSE_ACCURACY = 0.6
"""Test accuracy a dense network trained on enough data is expected to pass (10 classes:
chance is 10%); below it :func:`accuracy_warnings` warns. An expectation, not a check: a
tiny run (100 examples, one epoch) can score near chance, and that is its result."""


class RunCheckError(RuntimeError):
    """Raised by :func:`run_experiment` when a trained run fails a check that must hold
    whatever the numbers (:func:`svdnet.experiments.results.check_result`: accuracies are
    fractions, every kernel's rank is at most its k, ...); its result is not written, so
    the runner runs it again."""


def quick_mode(quick: bool | None = None) -> bool:
    """Resolves the quick-mode switch.

    Args:
        quick: ``True`` or ``False`` as asked; ``None`` takes ``SVDNET_QUICK=1`` from the
            environment (the notebook tests' way). Defaults to ``None``.
    """
    if quick is None:
        return os.environ.get(QUICK_ENV, "") == "1"
    return check_bool("quick", quick)


def apply_quick_mode(config: RunConfig, quick: bool | None = None) -> RunConfig:
    """Returns ``config`` with at most :data:`QUICK_TRAIN_SIZE` training examples (and
    calibration examples) in quick mode (see :func:`quick_mode`), else ``config``
    unchanged."""
    if not quick_mode(quick):
        return config
    size = QUICK_TRAIN_SIZE if config.train_size == 0 else min(config.train_size, QUICK_TRAIN_SIZE)
    return config.replace(train_size=size, calibration=min(config.calibration, size))


def results_folder(results_dir: str, quick: bool | None = None) -> str:
    """Returns ``results_dir``, or a scratch folder in quick mode (toy results stay out
    of the results folder)."""
    if not quick_mode(quick):
        return results_dir
    name = os.path.basename(os.path.normpath(results_dir)) or "results"
    return os.path.join(tempfile.gettempdir(), "svdnet-quick", name)


def dense_weights_path(cache_dir: str, config: RunConfig, epochs: int) -> str:
    """Where the dense run of ``config`` keeps its weights after ``epochs`` epochs."""
    name = result_name(config.dense_twin(epochs))
    return os.path.join(cache_dir, name[: -len(".json")] + ".weights.h5")


def snapshot_callback(config: RunConfig, cache_dir: str) -> SaveWeightsAt:
    """Saves a dense run's weights at the epochs that ``posthoc`` (all epochs) and
    ``finetune`` (all but ``finetune_epochs``) start from."""
    epochs = {config.epochs}
    if config.epochs > config.finetune_epochs:
        epochs.add(config.epochs - config.finetune_epochs)
    return SaveWeightsAt({epoch: dense_weights_path(cache_dir, config, epoch) for epoch in epochs})


def trained_dense(data: Dataset, config: RunConfig, cache_dir: str, verbose: int = 0,
                  epochs: int | None = None):
    """Returns the dense model that ``config`` (``posthoc`` or ``finetune``) starts from,
    or (with ``epochs=config.epochs``) the teacher it distils from.

    A dense run with the same configuration and seed is deterministic, so the weights
    it saved in ``cache_dir`` after ``epochs`` epochs (default ``config.dense_epochs``)
    are reused when present; otherwise the dense model is trained here (saving its
    snapshots).

    Returns:
        ``(model, source)``: the model and the weights file it came from, or
        ``"trained"``.
    """
    path = dense_weights_path(cache_dir, config,
                              config.dense_epochs if epochs is None else epochs)
    if not os.path.exists(path):
        dense = config.dense_twin()
        train(data, dense, verbose=verbose, callbacks=[snapshot_callback(dense, cache_dir)])
        source = "trained"
    else:
        source = path
    model = dense_model(data, config.dense_twin())
    with warnings.catch_warnings():
        # The file holds the optimizer's state too; the model starts from its weights only.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)
    return model, source


SPECTRUM_DIGITS = 5


def compact_spectra(spectra: dict, config: RunConfig, ranks: dict | None = None) -> dict:
    """Returns spectra as stored in result files: 5 significant digits, and for a
    compressed run only the leading ``max(2 * k, 32)`` values of each layer, k being the
    run's rank (enough to plot around k; the rest of a truncated kernel's spectrum is zero).

    Args:
        spectra: Layer name to singular values.
        config: The run's configuration; a dense run keeps every value.
        ranks: The run's per-layer ranks (``Run.ranks``), defaults to ``None``. For a run
            without one rank (``budget`` or ``energy``), k is the largest of them; without
            them such a run keeps every value.
    """
    if isinstance(config.rank, int):
        largest = config.rank
    else:
        largest = max(ranks.values()) if ranks else 0
    keep = None if config.method == "dense" or not largest else max(2 * largest, 32)
    return {
        name: [float(f"{value:.{SPECTRUM_DIGITS}g}") for value in list(values)[:keep]]
        for name, values in spectra.items()
    }


def deployment_costs(model, dense, data: Dataset) -> dict:
    """What the exported ``model`` costs against the ``dense`` model of its run, for a
    result file: each kernel layer's parameters and MACs per example (``layers``,
    ``dense_layers``; :func:`svdnet.compression.layer_costs`) and the best-of-5 time to
    predict :data:`svdnet.experiments.speed.INFERENCE_EXAMPLES` test examples in batches
    of 256 (``inference``), the two models timed in turns on this machine.

    Args:
        model: The run's exported model.
        dense: A dense model of the run's architecture (its weights do not change its
            costs: an untrained one will do).
        data: The run's dataset (its first test examples are timed).
    """
    timing = predict_seconds({"model": model, "dense": dense},
                             data.x_test[:INFERENCE_EXAMPLES])
    return {"layers": layer_costs(model), "dense_layers": layer_costs(dense),
            "inference": {"examples": INFERENCE_EXAMPLES, "batch_size": 256,
                          "seconds": timing["model"], "dense_seconds": timing["dense"]}}


@dataclasses.dataclass
class Experiment:
    """The outcome of :func:`run_experiment`.

    Attributes:
        config: The configuration actually run (after quick mode).
        run: The :class:`svdnet.experiments.Run` of ``config.method``.
        baseline: The dense baseline's :class:`svdnet.experiments.Run`, or ``None``.
        spectra: ``{"before": ..., "after": ...}``: per-layer singular values just before
            the last truncation (``None`` for a run that truncated nothing: a dense,
            small or lowrank run) and of the final kernels.
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
    cache_dir: str = "",
    data: Dataset | None = None,
    quick: bool | None = False,
) -> Experiment:
    """Trains ``config`` (and the dense baseline), tests both, writes one JSON result.

    Args:
        config: A :class:`svdnet.experiments.RunConfig`.
        baseline: Also train the dense model with the same seed, data and epochs, for
            comparison. Ignored when ``config.method == "dense"``. Defaults to ``True``.
        results_dir: Folder of the result file. Defaults to ``"reports/results"``.
        data_dir: TFDS data folder; defaults to ``TFDS_DATA_DIR``.
        verbose: Keras ``fit`` verbosity. Defaults to 0.
        cache_dir: Folder where dense runs save their weights for ``posthoc`` and
            ``finetune`` runs to start from (see :func:`trained_dense`); ``""`` shares
            nothing. Defaults to ``""``.
        data: The loaded dataset, when the caller has it already (it must match the
            config's dataset and training size). Defaults to ``None``: load it.
        quick: Quick mode (see :func:`quick_mode`): ``True``, ``False``, or ``None`` to
            follow ``SVDNET_QUICK``. Defaults to ``False``.

    Returns:
        An :class:`Experiment`.

    Raises:
        RunCheckError: when the trained run fails its checks (see
            :func:`svdnet.experiments.results.check_result`); no result is written.
        ExecutionRuleError: when this process already runs TensorFlow with other thread
            counts than :mod:`svdnet.experiments.execution`'s rule, before any training.
    """
    quick = quick_mode(quick)
    config = apply_quick_mode(validate_config(config), quick)
    pin_threads()  # the one execution rule (raises if this process already broke it)
    results_dir = results_folder(results_dir, quick)
    if cache_dir:
        cache_dir = results_folder(cache_dir, quick)
    start = time.perf_counter()
    if data is None or data.name != config.dataset or (
        config.train_size and len(data.x_train) != config.train_size
    ):
        data = load_dataset(config.dataset, data_dir=data_dir, train_size=config.train_size)
    load_seconds = time.perf_counter() - start
    callbacks, dense_source, teacher_source = [], None, None
    starting_model = teacher = None
    if cache_dir and config.method == "dense":
        callbacks.append(snapshot_callback(config, cache_dir))
    if cache_dir and config.method in ("posthoc", "finetune"):
        starting_model, dense_source = trained_dense(data, config, cache_dir, verbose)
    if cache_dir and config.distill:
        teacher, teacher_source = trained_dense(data, config, cache_dir, verbose,
                                                epochs=config.epochs)
    elif config.distill:
        teacher_source = "trained"  # by train(), in this run
    run = train(data, config, record_spectrum=True, evaluate_each_epoch=True, verbose=verbose,
                trained_dense=starting_model, callbacks=callbacks, teacher=teacher)
    dense = None
    if baseline and config.method != "dense":
        dense = train(data, config.dense_twin(), evaluate_each_epoch=True,
                      verbose=verbose)
    after = run.final_spectra
    # None when the run truncated nothing: its kernels before and after are the same
    before = run.spectra or None
    # the dense model of the run when there is one already (the run itself, or its
    # baseline), else an untrained one: its costs do not depend on its weights
    reference = (run.model if config.method == "dense" else dense.model if dense
                 else dense_model(data, config.dense_twin()))
    costs = deployment_costs(run.model, reference, data)
    payload = {
        "config": dataclasses.asdict(config),
        "quick": quick,
        "run": run.summary(),
        "baseline": dense.summary() if dense else None,
        # the cached weights' file name (in the cache folder): no path of the machine
        "dense_source": (os.path.basename(dense_source)
                         if dense_source not in (None, "trained") else dense_source),
        # the distillation teacher's weights file (the dense run of the same seed), likewise
        **({"teacher_source": os.path.basename(teacher_source)
            if teacher_source != "trained" else teacher_source} if config.distill else {}),
        "spectra": {
            "before": compact_spectra(before, config, run.ranks) if before else None,
            "after": compact_spectra(after, config, run.ranks),
            "dense": compact_spectra(dense.final_spectra, dense.config) if dense else None,
        },
        **costs,
        "data": {
            "train_examples": int(data.x_train.shape[0]),
            "test_examples": int(data.x_test.shape[0]),
            "load_seconds": load_seconds,
        },
        "wall_seconds": time.perf_counter() - start,
        "execution": execution_record(),
        "provenance": provenance(),
    }
    name = result_name(config)
    try:
        path = write_result(os.path.join(results_dir, name), payload)
    except ResultValueError as error:
        raise RunCheckError(
            f"Run {name} failed its checks: {error}. Its result is not written (the runner "
            "runs it again).") from error
    return Experiment(config, run, dense, {"before": before, "after": after}, payload, path)


def accuracy_warnings(experiment: Experiment) -> list[str]:
    """Warnings for dense models of an experiment (the run when its method is ``dense``,
    and the baseline) whose test accuracy is not above :data:`EXPECTED_DENSE_ACCURACY`.

    Args:
        experiment: An :class:`Experiment`.

    Returns:
        One sentence per such model, naming the accuracy and the training budget; empty
        when there is none.
    """
    examples = experiment.payload["data"]["train_examples"]
    models = [("dense baseline", experiment.baseline),
              ("dense", experiment.run if experiment.config.method == "dense" else None)]
    return [f"{label} test accuracy {run.test_accuracy:.4f} is not above "
            f"{EXPECTED_DENSE_ACCURACY} (chance is 0.1): {examples} training examples, "
            f"{run.config.epochs} epoch(s). The result is kept; a dense network trained on "
            "enough data scores far higher, so check the data and the training budget."
            for label, run in models
            if run is not None and not run.test_accuracy > EXPECTED_DENSE_ACCURACY]


def comparison_table(experiments) -> pd.DataFrame:
    """Returns one row per trained model: accuracy, loss, sizes and times.

    Args:
        experiments: An :class:`Experiment` or a list of them; the dense baseline (when
            one was trained) appears once, first.

    Columns: ``test accuracy``, ``test loss``, ``parameters`` (of the dense network),
    ``factorized parameters`` (of the exported model), ``compression`` (their ratio),
    ``train s`` and ``svd s``.
    """
    if isinstance(experiments, Experiment):
        experiments = [experiments]
    rows = {}
    for experiment in experiments:
        label = experiment.config.method
        if label != "dense":
            label = f"{label} {experiment.config.rank_label}"
        for name, run in (("dense", experiment.baseline), (label, experiment.run)):
            if run is None or name in rows:
                continue
            rows[name] = {
                "test accuracy": run.test_accuracy,
                "test loss": run.test_loss,
                "parameters": run.params["dense"],
                "factorized parameters": run.params["factorized"],
                "compression": run.params["ratio"],
                "train s": float(sum(run.epoch_seconds)),
                "svd s": run.svd_seconds,
            }
    return pd.DataFrame.from_dict(rows, orient="index")
