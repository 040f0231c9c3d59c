"""Runs of the CNN and the vision transformer (:mod:`svdnet.experiments.architectures`):
dense, and compressed by each method at a rank, one JSON result per run, resumable.

The methods are those of the MLP sweep, on the same epoch budget: ``dense``;
``projection`` (the epoch-end SVD callback, then factorised); ``lowrank`` (factors from
the SVD of the random initialisation, trained); ``finetune`` (dense for all but the last
epoch, factorised, the factors trained for the last one); ``posthoc`` (the trained dense
model factorised, no further training: it reuses the dense run); ``small`` (the simplest
alternative: the same model narrowed to the parameter count of its rank-k factorisation,
:func:`svdnet.experiments.architectures.small_width`, trained like ``dense``). A run whose result file
reads back and passes :func:`svdnet.experiments.results.check_architecture_result` is
never run again (:func:`svdnet.experiments.results.is_finished`, the grid's rule); a
result is written only when it passes that check, atomically, so an interrupted run
leaves no file and rerunning the same command resumes.

Usage::

    python -m svdnet.experiments.architecture_runs --ranks 4,10 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import keras

from svdnet.callback import SVDProjection
from svdnet.compression import layer_costs
from svdnet.experiments.architectures import (
    ARCHITECTURES,
    build_architecture,
    compile_model,
    small_width,
)
from svdnet.experiments.data import load_dataset, training_dataset
from svdnet.experiments.paths import REPORTS
from svdnet.experiments.execution import execution_record, pin_threads
from svdnet.experiments.provenance import provenance
from svdnet.experiments.results import (
    check_architecture_result,
    is_finished,
    read_architecture_result,
    write_json_atomic,
    write_result,
)
from svdnet.experiments.speed import INFERENCE_EXAMPLES, predict_seconds
from svdnet.factorize import factorize
from svdnet.params import parameter_counts
from svdnet.svd import PROJECTION_BACKEND
from svdnet.validation import check_choice, check_int

METHODS = ("dense", "posthoc", "finetune", "projection", "lowrank", "small")
RESULTS_DIR = os.path.join(REPORTS, "architectures", "results")
CACHE_DIR = os.path.join(REPORTS, "architectures", "cache")

SVD_METHOD = PROJECTION_BACKEND
"""The SVD backend of these runs' factorisations and projections: the committed results
were made with ``"auto"`` (``factorize``'s default until it became ``"exact"``), so a
resumed or repeated run computes what they computed."""


@dataclasses.dataclass(frozen=True)
class ArchitectureRun:
    """One run: a model, a method, its rank, a seed and the epoch budget.

    Attributes:
        architecture: ``"cnn"`` (trained on Fashion-MNIST) or ``"vit"`` (on MNIST).
        method: One of :data:`METHODS`.
        rank: Rank k of every factorised kernel (``None`` for ``dense``).
        seed: Seed of the initialisation and the batch order.
        epochs: Training epochs in all, >= 2. Defaults to 3.
        batch_size: Defaults to 128.
        train_size: Training examples (0: the whole split). Defaults to 0.
        conv_scheme: How Conv2D kernels are factorised (see :mod:`svdnet.kernels`).
            Defaults to ``"weight"``.
    """

    architecture: str
    method: str
    rank: int | None
    seed: int
    epochs: int = 3
    batch_size: int = 128
    train_size: int = 0
    conv_scheme: str = "weight"

    def __post_init__(self):
        check_choice("architecture", self.architecture, tuple(ARCHITECTURES))
        check_choice("method", self.method, METHODS)
        check_int("epochs", self.epochs, minimum=2)
        check_int("seed", self.seed, minimum=0)
        if (self.method == "dense") != (self.rank is None):
            raise ValueError(f"method {self.method!r} takes "
                             f"{'no rank' if self.method == 'dense' else 'a rank'}; "
                             f"received rank={self.rank!r}.")
        if self.rank is not None:
            check_int("rank", self.rank, minimum=1)

    @property
    def dataset(self) -> str:
        return ARCHITECTURES[self.architecture]

    @property
    def name(self) -> str:
        """The result file's name, for example ``cnn-projection-r10-e3-seed0.json``."""
        rank = f"-r{self.rank}" if self.rank is not None else ""
        size = f"-n{self.train_size}" if self.train_size else ""
        scheme = "-spatial" if self.conv_scheme != "weight" else ""
        return (f"{self.architecture}-{self.method}{rank}{scheme}-e{self.epochs}{size}"
                f"-seed{self.seed}.json")

    def dense_twin(self) -> ArchitectureRun:
        return dataclasses.replace(self, method="dense", rank=None, conv_scheme="weight")


def _fit(model, data, run: ArchitectureRun, epochs: int, callbacks=()) -> dict:
    start = time.perf_counter()
    history = model.fit(training_dataset(data.x_train, data.y_train, run.batch_size, run.seed),
                        epochs=epochs, shuffle=False, verbose=0, callbacks=list(callbacks))
    return {"history": {key: [float(v) for v in values]
                        for key, values in history.history.items()},
            "train_seconds": time.perf_counter() - start}


def dense_weights(run: ArchitectureRun, data, cache_dir: str) -> tuple[str, str, dict]:
    """The trained dense model of ``run``'s seed: weights after ``epochs - 1`` and after
    ``epochs`` epochs (files in ``cache_dir``, trained once), and the training record
    (empty when the weights were already cached)."""
    twin = run.dense_twin()
    stem = os.path.join(cache_dir, twin.name.removesuffix(".json"))
    last, before_last = f"{stem}.weights.h5", f"{stem}-before-last.weights.h5"
    if os.path.isfile(last) and os.path.isfile(before_last):
        return before_last, last, {}
    os.makedirs(cache_dir, exist_ok=True)
    keras.utils.set_random_seed(run.seed)
    model = compile_model(build_architecture(run.architecture, data.num_classes))
    record = _fit(model, data, twin, run.epochs - 1)
    model.save_weights(before_last + ".tmp.weights.h5")
    more = _fit(model, data, twin, 1)
    record = {"history": {key: record["history"][key] + more["history"][key]
                          for key in record["history"]},
              "train_seconds": record["train_seconds"] + more["train_seconds"]}
    model.save_weights(last + ".tmp.weights.h5")
    os.replace(before_last + ".tmp.weights.h5", before_last)
    os.replace(last + ".tmp.weights.h5", last)
    return before_last, last, record


def _dense_model(run: ArchitectureRun, data, weights: str | None = None):
    keras.utils.set_random_seed(run.seed)
    model = build_architecture(run.architecture, data.num_classes)
    if weights:  # into the uncompiled model: the saved optimizer state is not wanted
        model.load_weights(weights)
    return compile_model(model)


def run_architecture(run: ArchitectureRun, data, results_dir: str = RESULTS_DIR,
                     cache_dir: str = CACHE_DIR) -> dict:
    """Trains and evaluates ``run``, writes its result file and returns its document.

    Args:
        run: The run.
        data: The loaded dataset of ``run.dataset``.
        results_dir: Folder of the result files. Defaults to :data:`RESULTS_DIR`.
        cache_dir: Folder of the dense runs' weights, shared by the methods that start
            from them. Defaults to :data:`CACHE_DIR`.
    """
    start = time.perf_counter()
    before_last, last, dense_record = dense_weights(run, data, cache_dir)
    dense = _dense_model(run, data, last)
    record, callback, plan, width = dense_record, None, None, None
    if run.method == "small":
        target = parameter_counts(dense, run.rank, conv_scheme=run.conv_scheme)["factorised"]
        width = small_width(run.architecture, target, data.num_classes)
        keras.utils.set_random_seed(run.seed)
        model = compile_model(build_architecture(run.architecture, data.num_classes, width))
        record = _fit(model, data, run, run.epochs)
    elif run.method == "dense":
        model = dense
        if not record:  # cached by another method's run: the history is not known
            record = {"history": {}, "train_seconds": None}
    elif run.method == "posthoc":
        model, plan = factorize(dense, rank=run.rank, conv_scheme=run.conv_scheme,
                                svd_method=SVD_METHOD, verbose=0, return_plan=True)
        record = {"history": {}, "train_seconds": 0.0}
    elif run.method == "finetune":
        model, plan = factorize(_dense_model(run, data, before_last), rank=run.rank,
                                conv_scheme=run.conv_scheme, svd_method=SVD_METHOD, verbose=0,
                                return_plan=True)
        record = _fit(model, data, run, 1)
    elif run.method == "lowrank":
        model, plan = factorize(_dense_model(run, data), rank=run.rank,
                                conv_scheme=run.conv_scheme, svd_method=SVD_METHOD, verbose=0,
                                return_plan=True)
        record = _fit(model, data, run, run.epochs)
    else:  # projection
        model = _dense_model(run, data)
        callback = SVDProjection(rank=run.rank, conv_scheme=run.conv_scheme, svd_method=SVD_METHOD)
        record = _fit(model, data, run, run.epochs, [callback])
        model, plan = factorize(model, rank=run.rank, conv_scheme=run.conv_scheme,
                                svd_method=SVD_METHOD, verbose=0, return_plan=True)
    loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
    timing = predict_seconds({"model": model, "dense": dense},
                             data.x_test[:INFERENCE_EXAMPLES])
    payload = {
        "config": dataclasses.asdict(run),
        "dataset": run.dataset,
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "parameters": int(model.count_params()),
        "dense_parameters": int(dense.count_params()),
        "layers": layer_costs(model),
        "dense_layers": layer_costs(dense),
        "plan": [dataclasses.asdict(item) for item in plan or []],
        "width": width,
        "svd_seconds": callback.total_seconds if callback else None,
        **record,
        "inference": {"examples": INFERENCE_EXAMPLES, "batch_size": 256,
                      "seconds": timing["model"], "dense_seconds": timing["dense"]},
        "train_examples": len(data.x_train),
        "wall_seconds": time.perf_counter() - start,
        "execution": execution_record(),
        "provenance": provenance(),
    }
    write_result(os.path.join(results_dir, run.name), payload, check_architecture_result)
    return payload


def plan_runs(architectures, ranks, seeds, methods=METHODS, epochs: int = 3,
              train_size: int = 0) -> list[ArchitectureRun]:
    """Every run of the grid, dense runs first (the others start from their weights)."""
    runs = [ArchitectureRun(a, "dense", None, s, epochs, train_size=train_size)
            for s in seeds for a in architectures if "dense" in methods]
    runs += [ArchitectureRun(a, m, r, s, epochs, train_size=train_size)
             for s in seeds for a in architectures for r in ranks for m in methods
             if m != "dense"]
    return runs


def run_grid(runs, results_dir: str = RESULTS_DIR, cache_dir: str = CACHE_DIR,
             data_dir: str | None = None) -> list[str]:
    """Runs every run of ``runs`` whose result file is not complete; returns the paths
    of the runs done now."""
    done, loaded = [], {}
    pin_threads()  # the one execution rule, before TensorFlow's first operation
    for run in runs:
        path = os.path.join(results_dir, run.name)
        if is_finished(path, read_architecture_result):  # the runners' one "finished" rule
            continue
        key = (run.dataset, run.train_size)
        if key not in loaded:
            loaded[key] = load_dataset(run.dataset, data_dir, run.train_size or None)
        print(f"running {run.name}", flush=True)
        run_architecture(run, loaded[key], results_dir, cache_dir)
        done.append(path)
    return done


def _integers(text: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers; received {text!r}") from None


def main(argv=None) -> None:
    """The command line; a bad flag, an empty or repeated list and an output folder that
    cannot be written are refused with the usage, before anything trains."""
    parser = argparse.ArgumentParser(
        prog="python -m svdnet.experiments.architecture_runs", allow_abbrev=False,
        description="Train the CNN (Fashion-MNIST) and the vision transformer (MNIST) "
                    "dense and compressed; rerun to resume.")
    parser.add_argument("--architectures", default="cnn,vit")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--ranks", type=_integers, default=[4, 10])
    parser.add_argument("--seeds", type=_integers, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=0)
    parser.add_argument("--out", default=RESULTS_DIR)
    parser.add_argument("--cache", default=CACHE_DIR)
    args = parser.parse_args(argv)
    architectures = [item for item in args.architectures.split(",") if item]
    methods = [item for item in args.methods.split(",") if item]
    try:
        for name, values in (("architectures", architectures), ("methods", methods),
                             ("ranks", args.ranks), ("seeds", args.seeds)):
            if not values:
                raise ValueError(f"--{name} must list at least one value; received none.")
            repeated = sorted({value for value in values if values.count(value) > 1}, key=str)
            if repeated:
                raise ValueError(f"--{name} lists {repeated} more than once; give each once.")
        for name in methods:
            check_choice("method", name, METHODS)
        runs = plan_runs(architectures, args.ranks, args.seeds, methods, args.epochs,
                         args.train_size)
        probe = os.path.join(args.out, ".write-probe")
        write_json_atomic(probe, {})
        os.unlink(probe)
    except (TypeError, ValueError, OSError) as error:
        parser.error(str(error))
    done = run_grid(runs, args.out, args.cache)
    print(f"{len(done)} run(s) done now, {len(runs) - len(done)} already finished.")


if __name__ == "__main__":
    main()
