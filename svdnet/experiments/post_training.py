"""The post-training study: compressing a network that is already trained, with a sample of
its data, against training the small network on that same sample.

For each model, dataset and seed (one result file each), :func:`run_study`:

1. trains the dense model once on the first 55,000 training images; the last
   :data:`VALIDATION` are the validation split, on which every choice is made;
2. at each compression ratio (a parameter budget of dense parameters / ratio) compresses
   it with each of :data:`COMPRESSORS`, with no gradient step;
3. at each ratio of ``fine_tune_ratios``, fine-tunes the compressor that did best *on the
   validation split* on ``N`` training examples for ``S`` steps (:func:`design`), and trains
   the small network of the same parameter count on the same ``N`` examples for the same
   ``S`` steps, from scratch and distilled from the dense model.

Every row records validation and test accuracy and its seconds; the test set is only
reported. Each row is written (atomically) as soon as it exists, and the dense model's
weights are cached beside the result, so an interrupted study resumes where it stopped;
each row starts from the seed (``keras.utils.set_random_seed``), so its numbers do not depend
on which rows ran before it in the same process.

    python -m svdnet.experiments.post_training [--model mlp] [--dataset mnist]
        [--seeds 0,1,2] [--epochs 10] [--validated-rates] [--out reports/post_training/study]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time

from svdnet.experiments.paths import POST_TRAINING

EXAMPLES = (256, 1024, 4096, 0)
"""Fine-tuning examples ``N`` swept at :data:`SWEEP_STEPS` steps (0: the whole training split)."""

SWEEP_STEPS = 1000
"""Fine-tuning steps at which the number of examples is swept."""

SWEEP_EXAMPLES = 4096
"""Fine-tuning examples at which the number of steps is swept."""

VALIDATION = 5_000
"""Training images held out as the validation split (the last ones)."""

BATCH_SIZE = 128
"""Examples per fine-tuning and training step."""

COMPRESSORS = {
    "plain": {},
    "one pass": {"sequential": False},
    "sequential": {"sequential": True},
    "loss budget": {"sequential": True, "allocation": "loss"},
}
"""How the trained model is compressed, as :func:`svdnet.factorize` options: ``plain`` is the
SVD of the weights alone (no data); the others take the calibration sample: ``one pass``
keeps each layer's output on the uncompressed model's inputs, ``sequential`` on the inputs
the already truncated layers produce, ``loss budget`` also shares the budget among layers by
the loss on the labelled sample instead of by output energy."""

CALIBRATION_PASS = "calibration pass"
"""The name of the calibration pass alone among the compressors' timings
(``benchmarks/compression_cost.py``)."""

BASELINES = ("small", "distilled")
"""The small networks trained on the fine-tuning images and steps: from scratch, and distilled
from the dense model."""

OUT = os.path.join(POST_TRAINING, "study")
"""Default folder of the result files (committed): ``reports/post_training/study``."""

CACHE = os.path.join(POST_TRAINING, "cache")
"""Default folder of the dense models' weights (ignored by git):
``reports/post_training/cache``."""

CALIBRATION = os.path.join(POST_TRAINING, "calibration")
"""Default folder of the calibration sweeps' result files (committed)."""

CALIBRATION_SIZES = (256, 1024, 4096, 8192)
"""Calibration examples of :func:`run_calibration_sweep` (the study itself uses
:attr:`StudySettings.calibration`)."""

SWEPT_COMPRESSORS = ("one pass", "sequential")
"""The compressors of the calibration sweep: those that take unlabelled data."""

RATES = os.path.join(POST_TRAINING, "rates")
"""Folder of the learning-rate sweeps (:func:`run_rate_sweep`)."""

RATE_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
"""The Adam learning rates the rate sweep tries, for fine-tuning and the small baselines
alike: the study's default rates (1e-4 and 1e-3) and steps of about 3x around them, two
steps beyond each (the first sweeps stopped at 3e-5 and 3e-3, and most rates chosen sat at
those edges)."""

TRAINED = ("fine-tuned",) + BASELINES
"""What the study trains: the compressed model fine-tuned, and the small baselines."""

COSTS = os.path.join(POST_TRAINING, "costs")
"""Default folder of ``benchmarks/compression_cost.py``'s timings (committed)."""

MODELS = ("mlp", "cnn", "vit")
"""The models the study can compress: the reference MLP and the harness's CNN and ViT."""


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """The settings of one study file; a rerun must use the same ones.

    Args:
        model: One of :data:`MODELS`. Defaults to ``"mlp"``.
        dataset: ``"mnist"`` or ``"fashion_mnist"``. Defaults to ``"mnist"``.
        seed: Seed of the dense model, its training and every row. Defaults to 0.
        epochs: Epochs of the dense model on the training split. Defaults to 10.
        ratios: Compression ratios (dense parameters / budget). Defaults to 3, 10, 25, 50.
        fine_tune_ratios: The ratios at which fine-tuning and the small baselines run.
            Defaults to 10, 25, 50 (at 3x the compressed models stay within 0.2 points of
            dense with no gradient step).
        calibration: Calibration examples (the first training images). Defaults to 2048.
        fine_tune_rate: Adam's learning rate when fine-tuning a compressed model. Defaults
            to 1e-4, a tenth of the rate the dense model trained with.
        scratch_rate: Adam's learning rate of the small network trained from scratch.
            Defaults to 1e-3, the dense model's.
        distill_rate: Adam's learning rate of the distilled small network. Defaults to
            1e-3, the dense model's. (Files written before this setting existed trained
            their distilled rows at their ``scratch_rate``: :func:`completed_settings`.)
            ``--validated-rates`` sets the three rates to those the rate sweep found best
            on the validation split (:func:`validated_rates`).
        distill: Weight of the dense model's soft targets for the distilled baseline.
            Defaults to 0.9.
        temperature: Distillation temperature. Defaults to 4.
    """

    model: str = "mlp"
    dataset: str = "mnist"
    seed: int = 0
    epochs: int = 10
    ratios: tuple = (3.0, 10.0, 25.0, 50.0)
    fine_tune_ratios: tuple = (10.0, 25.0, 50.0)
    calibration: int = 2048
    fine_tune_rate: float = 1e-4
    scratch_rate: float = 1e-3
    distill_rate: float = 1e-3
    distill: float = 0.9
    temperature: float = 4.0

    def __post_init__(self):
        from svdnet.experiments.data import SPLITS
        from svdnet.validation import check_choice, check_int, check_number

        check_choice("model", self.model, MODELS)
        check_choice("dataset", self.dataset, tuple(SPLITS))
        check_int("seed", self.seed, minimum=0)
        check_int("epochs", self.epochs, minimum=1)
        check_int("calibration", self.calibration, minimum=1)
        for name in ("ratios", "fine_tune_ratios"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"{name} must be a non-empty tuple; received {values!r}.")
            for value in values:
                check_number(name, value, minimum=1, include_minimum=False)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} holds a value twice; received {values!r}.")
        missing = sorted(set(self.fine_tune_ratios) - set(self.ratios))
        if missing:
            raise ValueError(f"fine_tune_ratios must be among ratios {self.ratios}; received "
                             f"{missing} beside them.")
        for name in ("fine_tune_rate", "scratch_rate", "distill_rate", "temperature"):
            check_number(name, getattr(self, name), minimum=0, include_minimum=False)
        check_number("distill", self.distill, minimum=0, maximum=1)

    @property
    def name(self) -> str:
        """The result file's name (every other setting is stored in the file)."""
        return f"{self.model}-{self.dataset}-seed{self.seed}"


def design(train_examples: int) -> list[tuple[int, int]]:
    """The fine-tuning points ``(examples, steps)``: the examples of :data:`EXAMPLES` at
    :data:`SWEEP_STEPS` steps, and 0, 100, one epoch of the training split and
    :data:`SWEEP_STEPS` steps at :data:`SWEEP_EXAMPLES` examples (examples 0 is the whole
    split; steps 0 is the compressed model as it is).

    Args:
        train_examples: Size of the training split (one epoch is its batches).
    """
    epoch = math.ceil(train_examples / BATCH_SIZE)
    points = [(examples, SWEEP_STEPS) for examples in EXAMPLES]
    points += [(SWEEP_EXAMPLES, steps) for steps in (0, 100, epoch)]
    return sorted(set(points), key=lambda point: (point[0] == 0, point))


def splits(dataset: str):
    """The study's data: ``(data, (train_x, train_y), (val_x, val_y))``, the validation
    split being the last :data:`VALIDATION` training images."""
    from svdnet.experiments.data import load_dataset

    data = load_dataset(dataset)
    return (data, (data.x_train[:-VALIDATION], data.y_train[:-VALIDATION]),
            (data.x_train[-VALIDATION:], data.y_train[-VALIDATION:]))


def build_model(model: str, num_classes: int, input_dim: int, parameters: int | None = None,
                learning_rate: float = 1e-3):
    """The compiled dense model, or with ``parameters`` the narrowed model (the ``small``
    network) whose parameter count is closest to it."""
    from svdnet.experiments import architectures
    from svdnet.experiments.model import build_mlp, width_for_parameters

    if model == "mlp":
        width = {} if parameters is None else {
            "width": width_for_parameters(parameters, input_dim, num_classes)}
        return build_mlp(input_dim, num_classes, learning_rate=learning_rate, **width)
    width = 1.0 if parameters is None else architectures.width_for_parameters(
        model, parameters, num_classes)
    return architectures.compile_model(
        architectures.build_architecture(model, num_classes, width), learning_rate)


def _accuracy(model, x, y) -> float:
    return float(model.evaluate(x, y, batch_size=1024, verbose=0)[1])


def accuracies(model, data, validation) -> dict:
    """``{"val": ..., "test": ...}``: the accuracy of ``model`` on the ``validation``
    split (``(x, y)``, from :func:`splits`) and on the test set of ``data``."""
    return {"val": _accuracy(model, *validation),
            "test": _accuracy(model, data.x_test, data.y_test)}


def train_dense(model: str, data, train, seed: int, epochs: int):
    """The dense model the study compresses, trained: built from ``seed`` and fitted for
    ``epochs`` epochs on ``train`` (``(x, y)``, from :func:`splits`) in the study's batches.

    Args:
        model: One of :data:`MODELS`.
        data: The study's dataset (its number of classes and input size).
        train: The training split, ``(x, y)``.
        seed: Seeds the weights and the batches' order.
        epochs: Passes over ``train``.
    """
    import keras

    keras.utils.set_random_seed(seed)
    dense = build_model(model, data.num_classes, data.input_dim)
    dense.fit(_batches(*train, seed), epochs=epochs, verbose=0)
    return dense


def _train_steps(model, x, y, steps: int, seed: int) -> None:
    """``steps`` steps of ``model``'s compiled training on ``(x, y)``, reshuffled each pass."""
    from svdnet.experiments.data import training_dataset

    if steps:
        batches = training_dataset(x, y, BATCH_SIZE, seed).repeat()
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)


class StudyFile:
    """The result file of one study (or rate sweep): its rows by key, rewritten after each
    new row.

    Args:
        path: The file; read when it exists.
        settings: The :class:`StudySettings` its rows were made with. A file that holds
            other settings is refused, not mixed.
        varied: Settings that the rows themselves vary (the rate sweep's learning rates),
            left out of that check. Defaults to ``()``.
    """

    def __init__(self, path: str, settings: StudySettings, varied: tuple = ()):
        self.path = path
        self.settings = dataclasses.asdict(settings)
        self.rows = {}
        self.commit = ""  # of the stored file, "" without one
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                stored = json.load(handle)
            mine = json.loads(json.dumps(self.settings))
            theirs = completed_settings(stored.get("settings"))
            theirs = theirs if isinstance(theirs, dict) else {}
            differ = sorted(key for key in set(theirs) | set(mine)
                            if key not in varied and theirs.get(key) != mine.get(key))
            if differ:
                raise ValueError(
                    f"{path} holds rows made with other settings ({stored.get('settings')}; "
                    f"differing: {differ}); received {self.settings}. Use another --out "
                    f"folder, or delete the file to start again.")
            self.rows = {row["key"]: row for row in stored["rows"]}
            self.commit = stored.get("provenance", {}).get("commit", "")

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def add(self, row: dict) -> dict:
        from svdnet.experiments.execution import execution_record
        from svdnet.experiments.provenance import provenance
        from svdnet.experiments.results import write_json_atomic

        self.rows[row["key"]] = row
        write_json_atomic(self.path, {"settings": self.settings,
                                      "rows": list(self.rows.values()),
                                      "validation_examples": VALIDATION,
                                      "execution": execution_record(),
                                      "provenance": provenance()})
        return row


def dense_weights_path(settings: StudySettings,
                       cache: str = CACHE) -> str:
    """Where :func:`run_study` caches the dense model of ``settings`` (its seed and epochs)."""
    return os.path.join(cache, f"{settings.name}-e{settings.epochs}.weights.h5")


def run_study(settings: StudySettings, out: str = OUT, cache: str = CACHE,
              log=print) -> str:
    """Runs (or resumes) one study file; see the module docstring.

    Args:
        settings: The :class:`StudySettings`.
        out: Folder of the result files. Defaults to ``reports/post_training/study``.
        cache: Folder of the dense models' weights (not committed). Defaults to
            ``reports/post_training/cache``.
        log: Called with one line per finished row. Defaults to ``print``.

    Returns:
        The result file's path.
    """
    import keras

    from svdnet import factorize, parameter_counts
    from svdnet.experiments.distillation import (
        compile_for_distillation,
        distillation_targets,
        restore_compile,
        teacher_log_probabilities,
    )
    from svdnet.experiments.architectures import compile_model
    from svdnet.experiments.execution import pin_threads

    pin_threads()  # the one execution rule of every result, before TensorFlow's first operation
    path = os.path.join(out, f"{settings.name}.json")
    study = StudyFile(path, settings)
    data, (train_x, train_y), (val_x, val_y) = splits(settings.dataset)
    seed = settings.seed

    def finish(key, model, start, **fields):
        row = {"key": key, "model": settings.model, "dataset": settings.dataset, "seed": seed,
               "parameters": int(model.count_params()),
               "seconds": time.perf_counter() - start,
               **accuracies(model, data, (val_x, val_y)), **fields}
        log(f"{settings.name} {key}: val {100 * row['val']:.2f}%, test "
            f"{100 * row['test']:.2f}%, {row['parameters']:,} parameters, "
            f"{row['seconds']:.1f} s")
        return study.add(row)

    weights = dense_weights_path(settings, cache)
    if os.path.exists(weights) and "dense" in study:
        dense = _loaded_dense(settings, data, weights)
    else:
        start = time.perf_counter()
        dense = train_dense(settings.model, data, (train_x, train_y), seed, settings.epochs)
        os.makedirs(cache, exist_ok=True)
        dense.save_weights(weights)
        finish("dense", dense, start, kind="dense", method="", examples=len(train_x),
               steps=settings.epochs * math.ceil(len(train_x) / BATCH_SIZE), ratio=1.0)
    total = int(dense.count_params())
    calibration = (train_x[:settings.calibration], train_y[:settings.calibration])

    def compress(ratio, compressor):
        options = COMPRESSORS[compressor]
        data_options = {} if not options else {"data": calibration, **options}
        keras.utils.set_random_seed(seed)
        return factorize(dense, budget=int(total / ratio), verbose=0, **data_options)

    points = design(len(train_x))
    for ratio in settings.ratios:
        try:  # a budget below the smallest factorization (rank 1 everywhere) cannot be met
            parameter_counts(dense, budget=int(total / ratio))
        except ValueError as error:
            log(f"{settings.name} {ratio:g}x: skipped, {error}")
            continue
        for compressor in COMPRESSORS:
            key = f"{ratio:g}x {compressor}"
            if key not in study:
                start = time.perf_counter()
                compressed = compress(ratio, compressor)
                finish(key, compressed, start, kind="compressed", method=compressor,
                       ratio=ratio, examples=0 if compressor == "plain" else settings.calibration,
                       steps=0, compression=total / compressed.count_params())
        if ratio not in settings.fine_tune_ratios:
            continue
        chosen = chosen_compressor(study.rows, ratio)
        compressed = None
        parameters = study.rows[f"{ratio:g}x {chosen}"]["parameters"]
        for examples, steps in points:
            x, y = (train_x, train_y) if examples == 0 else (train_x[:examples], train_y[:examples])
            where = {"ratio": ratio, "examples": len(x), "steps": steps}
            key = f"{ratio:g}x fine-tuned {chosen} N={len(x)} S={steps}"
            if steps and key not in study:
                if compressed is None:
                    compressed = compress(ratio, chosen)
                    compressed_weights = compressed.get_weights()
                compressed.set_weights(compressed_weights)
                compile_model(compressed, study_rate(settings, "fine-tuned"))
                keras.utils.set_random_seed(seed)
                start = time.perf_counter()
                _train_steps(compressed, x, y, steps, seed)
                finish(key, compressed, start, kind="fine-tuned", method=chosen, **where)
            if not steps:
                continue
            for kind in BASELINES:
                key = f"{ratio:g}x {kind} N={len(x)} S={steps}"
                if key in study:
                    continue
                keras.utils.set_random_seed(seed)
                small = build_model(settings.model, data.num_classes, data.input_dim,
                                    parameters, study_rate(settings, kind))
                start = time.perf_counter()
                if kind == "small":
                    _train_steps(small, x, y, steps, seed)
                else:
                    targets = distillation_targets(y, teacher_log_probabilities(dense, x))
                    config = compile_for_distillation(small, settings.distill,
                                                      settings.temperature)
                    _train_steps(small, x, targets, steps, seed)
                    restore_compile(small, config)
                finish(key, small, start, kind=kind, method="", **where)
    log(f"wrote {path}")
    return path


def check_calibration_sweep(settings: StudySettings, ratios, sizes, cache: str = CACHE) -> None:
    """Refuses a calibration sweep that cannot run, before any work: ratios not above 1,
    sizes not positive integers or beyond the training split, a list empty or with a value
    twice, or no cached dense model (naming the command that makes it).

    Raises:
        TypeError, ValueError: naming the bad value.
        FileNotFoundError: when the dense model of ``settings`` is not cached.
    """
    from svdnet.experiments.data import SPLITS
    from svdnet.validation import check_int, check_number

    train = SPLITS[settings.dataset]["train"] - VALIDATION
    for name, values in (("ratios", ratios), ("sizes", sizes)):
        if not values or len(set(values)) != len(values):
            raise ValueError(f"{name} must list distinct values; received {list(values)!r}.")
        for value in values:
            if name == "ratios":
                check_number(name, value, minimum=1, include_minimum=False)
            else:
                check_int(name, value, minimum=1, maximum=train)
    cached_dense_weights(settings, cache)


def cached_dense_weights(settings: StudySettings, cache: str = CACHE) -> str:
    """The path of the dense model :func:`run_study` cached for ``settings``.

    Raises:
        FileNotFoundError: when it is not there, naming the command that makes it.
    """
    weights = dense_weights_path(settings, cache)
    if not os.path.exists(weights):
        raise FileNotFoundError(
            f"no cached dense model at {weights!r}: run `python -m "
            f"svdnet.experiments.post_training --model {settings.model} --dataset "
            f"{settings.dataset} --seeds {settings.seed} --epochs {settings.epochs}` first.")
    return weights


def run_calibration_sweep(settings: StudySettings, ratios=(10.0,),
                          sizes=CALIBRATION_SIZES, out: str = CALIBRATION,
                          cache: str = CACHE, log=print) -> str:
    """Test and validation accuracy of the study's dense model compressed with no gradient
    step, against the number of calibration examples (the first ``n`` training images):
    each of :data:`SWEPT_COMPRESSORS` at each ratio and size, and ``plain`` (no data) once
    per ratio. One result file per model, dataset and seed, resumable row by row like the
    study's; the file records the study settings of its dense model (``settings``), and its
    rows say their ratio and size, so a later sweep of other ratios or sizes adds rows to it.

    Args:
        settings: The :class:`StudySettings` of the study whose dense model is compressed;
            it must be cached (run :func:`run_study` first).
        ratios: Compression ratios, each above 1. Defaults to 10x only.
        sizes: Calibration examples, each a positive integer within the training split.
            Defaults to :data:`CALIBRATION_SIZES`.
        out: Folder of the result files. Defaults to :data:`CALIBRATION`.
        cache: Folder of the dense models' weights. Defaults to :data:`CACHE`.
        log: Called with one line per finished row. Defaults to ``print``.

    Returns:
        The result file's path.

    Raises:
        The errors of :func:`check_calibration_sweep`, before any work.
    """
    import keras

    from svdnet import factorize

    check_calibration_sweep(settings, ratios, sizes, cache)
    data, (train_x, train_y), (val_x, val_y), dense = _cached_dense(settings, cache)
    study = StudyFile(os.path.join(out, f"{settings.name}.json"), settings)
    total = int(dense.count_params())
    points = [(ratio, "plain", 0) for ratio in ratios]
    points += [(ratio, name, size) for ratio in ratios for name in SWEPT_COMPRESSORS
               for size in sizes]
    for ratio, name, size in points:
        key = f"{ratio:g}x {name} calibration={size}"
        if key in study:
            continue
        options = ({} if name == "plain" else
                   {"data": train_x[:size], "max_examples": size, **COMPRESSORS[name]})
        keras.utils.set_random_seed(settings.seed)
        start = time.perf_counter()
        compressed = factorize(dense, budget=int(total / ratio), verbose=0, **options)
        row = {"key": key, "model": settings.model, "dataset": settings.dataset,
               "seed": settings.seed, "kind": "calibration", "method": name, "ratio": ratio,
               "examples": size, "parameters": int(compressed.count_params()),
               "seconds": time.perf_counter() - start,
               **accuracies(compressed, data, (val_x, val_y))}
        study.add(row)
        log(f"{settings.name} {key}: val {100 * row['val']:.2f}%, test "
            f"{100 * row['test']:.2f}%, {row['seconds']:.1f} s")
    log(f"wrote {study.path}")
    return study.path


RATE_SETTINGS = {"fine-tuned": "fine_tune_rate", "small": "scratch_rate",
                 "distilled": "distill_rate"}
"""The :class:`StudySettings` field holding the learning rate of each of :data:`TRAINED`."""


def study_rate(settings: StudySettings, kind: str) -> float:
    """The learning rate the study trains ``kind`` (one of :data:`TRAINED`) with.

    Raises:
        ValueError: naming ``kind`` when it is not one of :data:`TRAINED`.
    """
    if kind not in RATE_SETTINGS:
        raise ValueError(f"kind must be one of {TRAINED}; received {kind!r}.")
    return getattr(settings, RATE_SETTINGS[kind])


def completed_settings(stored) -> dict | None:
    """A study file's stored settings with the settings added after it was written, at
    the values its rows trained with: ``distill_rate`` is its ``scratch_rate`` (the
    distilled rows trained at it). ``None`` and non-dicts are returned as they are."""
    if not isinstance(stored, dict):
        return stored
    return {"distill_rate": stored.get("scratch_rate"), **stored}


def best_rate(validation: dict, prefer: float | None = None) -> float:
    """The learning rate with the highest validation accuracy: the rule by which rates are
    chosen (:func:`validated_rates`) and the page says which rate was best.

    Args:
        validation: Learning rate to validation accuracy (a mean over seeds).
        prefer: Returned on a tie for the best, when it is among the tied rates. Defaults
            to ``None``: a tie goes to the smallest rate.

    Raises:
        ValueError: when ``validation`` is empty or holds a missing accuracy.
    """
    if not validation or any(value != value for value in validation.values()):
        raise ValueError(f"validation must map rates to accuracies; received {validation!r}.")
    top = max(validation.values())
    best = sorted(rate for rate, value in validation.items() if value == top)
    return prefer if prefer in best else best[0]


def validation_means(rows, kind: str) -> dict:
    """Rate to validation accuracy of the rate sweep's ``kind`` rows, averaged over their
    seeds: what :func:`validated_rates` and the page's rate table choose from.

    Args:
        rows: Rate-sweep rows (dicts with ``kind``, ``rate``, ``seed`` and ``val``), of
            one model, dataset, ratio, number of examples and steps.
        kind: One of :data:`TRAINED`.

    Raises:
        ValueError: when a rate was not swept at every seed that the others were (its mean
            would rest on other seeds), naming the rates and the seeds they lack.
    """
    values, seeds = {}, {}
    for row in rows:
        if row["kind"] == kind:
            values.setdefault(row["rate"], []).append(row["val"])
            seeds.setdefault(row["rate"], set()).add(row["seed"])
    every = set().union(*seeds.values()) if seeds else set()
    uneven = {f"{rate:g}": sorted(every - swept) for rate, swept in sorted(seeds.items())
              if swept != every}
    if uneven:
        raise ValueError(f"the {kind!r} rows lack some rates at some seeds {uneven} (rate: "
                         f"missing seeds), so their means would rest on different seeds; "
                         f"sweep those rates at every seed.")
    return {rate: sum(vals) / len(vals) for rate, vals in values.items()}


def validated_rates(model: str, dataset: str, folder: str = RATES) -> dict:
    """The learning rate of each of :data:`TRAINED` that the rate sweep
    (:func:`run_rate_sweep`) found best on the validation split for ``model`` and
    ``dataset``: the highest validation accuracy, averaged over the seeds swept
    (:func:`best_rate`). The test accuracy plays no part.

    Args:
        model: One of :data:`MODELS`.
        dataset: The study's dataset.
        folder: Folder of the sweep's result files. Defaults to :data:`RATES`.

    Returns:
        ``{"fine-tuned": rate, "small": rate, "distilled": rate}``.

    Raises:
        FileNotFoundError: naming the command to run when ``folder`` holds no sweep of
            ``model`` and ``dataset``.
        ValueError: when the sweeps were made at several ratios, numbers of examples or
            steps (their accuracies cannot be averaged), a kind was not swept, or a rate
            was not swept at every seed (its mean would rest on fewer seeds than the
            others').
    """
    import glob

    rows = []
    for path in sorted(glob.glob(os.path.join(folder, f"{model}-{dataset}-seed*.json"))):
        with open(path, encoding="utf-8") as handle:
            rows += json.load(handle)["rows"]
    if not rows:
        raise FileNotFoundError(
            f"no learning-rate sweep of {model} on {dataset} in {folder!r}: run `python -m "
            f"svdnet.experiments.post_training --model {model} --dataset {dataset} --rates "
            f"{','.join(f'{rate:g}' for rate in RATE_GRID)}` first.")
    points = sorted({(row["ratio"], row["examples"], row["steps"]) for row in rows})
    if len(points) != 1:
        raise ValueError(f"the sweeps of {model} on {dataset} in {folder!r} were made at "
                         f"several (ratio, examples, steps): {points}; choose from one.")
    chosen = {}
    for kind in TRAINED:
        try:
            means = validation_means(rows, kind)
        except ValueError as error:
            raise ValueError(f"the sweeps of {model} on {dataset} in {folder!r}: {error}") \
                from error
        if not means:
            raise ValueError(f"the sweeps of {model} on {dataset} in {folder!r} hold no "
                             f"{kind!r} rows.")
        chosen[kind] = best_rate(means)
    return chosen


def chosen_compressor(rows: dict, ratio: float) -> str:
    """The compressor the study fine-tunes at ``ratio``: the best of :data:`COMPRESSORS`
    on the validation split, the first in their order on a tie.

    Args:
        rows: A study file's rows by key (:class:`StudyFile`'s ``rows``).
        ratio: A ratio the study compressed at.

    Raises:
        ValueError: naming the ratio when the study has not compressed at it.
    """
    keys = [f"{ratio:g}x {name}" for name in COMPRESSORS]
    missing = [key for key in keys if key not in rows]
    if missing:
        raise ValueError(f"the study has no rows {missing}: run it at ratio {ratio:g} first.")
    return max((rows[key] for key in keys), key=lambda row: row["val"])["method"]


def _study_path(model: str, dataset: str, seed: int, study_dir: str) -> str:
    """The study file of ``model``, ``dataset`` and ``seed`` in ``study_dir``.

    Raises:
        FileNotFoundError: naming the file when it is not there.
    """
    path = os.path.join(study_dir, f"{model}-{dataset}-seed{seed}.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no study at {path!r}: run the study first.")
    return path


def _cached_dense(settings: StudySettings, cache: str):
    """The study's splits and its cached dense model, under the execution rule: ``(data,
    (train_x, train_y), (val_x, val_y), dense)``."""
    from svdnet.experiments.execution import pin_threads

    weights = cached_dense_weights(settings, cache)
    pin_threads()  # before TensorFlow's first operation
    data, train, validation = splits(settings.dataset)
    return data, train, validation, _loaded_dense(settings, data, weights)


def _loaded_dense(settings: StudySettings, data, weights: str):
    """The dense model of ``settings`` built from its seed, with the weights at ``weights``."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    dense = build_model(settings.model, data.num_classes, data.input_dim)
    dense.load_weights(weights)
    return dense


def study_settings(model: str, dataset: str, seed: int, study_dir: str = OUT) -> StudySettings:
    """The :class:`StudySettings` stored in the study file of ``model``, ``dataset`` and
    ``seed`` in ``study_dir``.

    Raises:
        FileNotFoundError: naming the file when there is no such study.
    """
    with open(_study_path(model, dataset, seed, study_dir), encoding="utf-8") as handle:
        stored = completed_settings(json.load(handle)["settings"])
    return StudySettings(**{key: tuple(value) if isinstance(value, list) else value
                            for key, value in stored.items()})


def run_rate_sweep(settings: StudySettings, ratio: float = 10.0, rates=RATE_GRID,
                   examples: int = SWEEP_EXAMPLES, steps: int = SWEEP_STEPS,
                   study_dir: str = OUT, out: str = RATES, cache: str = CACHE,
                   log=print) -> str:
    """Validation accuracy of each trained row of the study (:data:`TRAINED`: the chosen
    compressor fine-tuned, the small network trained and distilled) at each Adam learning
    rate, at one ratio, number of examples and steps: how the study's rates were chosen on
    the validation split (the test accuracy is recorded, not used). One result file per
    model, dataset and seed, resumable row by row like the study's.

    Args:
        settings: The :class:`StudySettings` of a finished study at ``ratio`` (its dense
            model cached, its result file in ``study_dir``).
        ratio: The compression ratio, one of the study's ``fine_tune_ratios``. Defaults
            to 10.
        rates: Learning rates, each > 0, distinct. Defaults to :data:`RATE_GRID`.
        examples: Training examples (the first ones). Defaults to :data:`SWEEP_EXAMPLES`.
        steps: Training steps. Defaults to :data:`SWEEP_STEPS`.
        study_dir: Folder of the study's result files. Defaults to :data:`OUT`.
        out: Folder of the sweep's result files. Defaults to :data:`RATES`.
        cache: Folder of the dense models' weights. Defaults to :data:`CACHE`.
        log: Called with one line per finished row. Defaults to ``print``.

    Returns:
        The result file's path.

    Raises:
        ValueError, TypeError: for a bad rate, ratio, number of examples or steps, naming
            it, a study that has not compressed at ``ratio``, or a sweep file whose rows
            started from another dense model or compressor (each row records both, so
            that a file extended by more rates compares them from one start).
        FileNotFoundError: when the study's result file or dense model is missing.
    """
    import keras

    from svdnet import factorize
    from svdnet.experiments.architectures import compile_model
    from svdnet.experiments.data import SPLITS
    from svdnet.experiments.distillation import (
        compile_for_distillation,
        distillation_targets,
        restore_compile,
        teacher_log_probabilities,
    )
    from svdnet.experiments.provenance import provenance
    from svdnet.validation import check_int, check_number

    if ratio not in settings.fine_tune_ratios:
        raise ValueError(f"ratio must be one of the study's fine_tune_ratios "
                         f"{settings.fine_tune_ratios}; received {ratio!r}.")
    if not rates or len(set(rates)) != len(rates):
        raise ValueError(f"rates must list distinct values; received {list(rates)!r}.")
    for rate in rates:
        check_number("rates", rate, minimum=0, include_minimum=False)
    check_int("examples", examples, minimum=1,
              maximum=SPLITS[settings.dataset]["train"] - VALIDATION)
    check_int("steps", steps, minimum=1)
    study_path = _study_path(settings.model, settings.dataset, settings.seed, study_dir)
    compressor = chosen_compressor(StudyFile(study_path, settings).rows, ratio)
    cached_dense_weights(settings, cache)  # before any work
    data, (train_x, train_y), (val_x, val_y), dense = _cached_dense(settings, cache)
    # the study's rates may have changed since the sweep began (chosen by it): they are
    # what the sweep varies, so its file is extended, not refused
    sweep = StudyFile(os.path.join(out, f"{settings.name}.json"), settings,
                      varied=tuple(RATE_SETTINGS.values()))
    origin = {"dense": weights_fingerprint(dense), "compressor": compressor}
    others = sorted({(row.get("dense"), row.get("compressor")) for row in sweep.rows.values()}
                    - {(origin["dense"], origin["compressor"])}, key=str)
    if others:  # rates are compared from one start only
        raise ValueError(
            f"{sweep.path} holds rows that started from another dense model or compressor "
            f"(dense, compressor: {others}); this sweep starts from dense {origin['dense']} "
            f"compressed by {compressor!r}. Delete the file to sweep every rate again.")
    commit = provenance()["commit"]
    for row in sweep.rows.values():
        row.setdefault("commit", sweep.commit)  # rows from before rows carried their commit
        row["study_rate"] = row["rate"] == study_rate(settings, row["kind"])  # as of now
    total = int(dense.count_params())
    x, y = train_x[:examples], train_y[:examples]
    compressed = parameters = None
    for kind in TRAINED:
        for rate in rates:
            key = f"{ratio:g}x {kind} N={examples} S={steps} rate={rate:g}"
            if key in sweep:
                continue
            if compressed is None:  # the study's compressor, as it compressed
                keras.utils.set_random_seed(settings.seed)
                options = COMPRESSORS[compressor]
                compressed = factorize(dense, budget=int(total / ratio), verbose=0,
                                       **({} if not options else
                                          {"data": (train_x[:settings.calibration],
                                                    train_y[:settings.calibration]),
                                           **options}))
                start_weights = compressed.get_weights()
                parameters = int(compressed.count_params())
            keras.utils.set_random_seed(settings.seed)
            start = time.perf_counter()
            if kind == "fine-tuned":
                model = compressed
                model.set_weights(start_weights)
                compile_model(model, rate)
                keras.utils.set_random_seed(settings.seed)
                start = time.perf_counter()
                _train_steps(model, x, y, steps, settings.seed)
            else:
                model = build_model(settings.model, data.num_classes, data.input_dim,
                                    parameters, rate)
                start = time.perf_counter()
                if kind == "small":
                    _train_steps(model, x, y, steps, settings.seed)
                else:
                    targets = distillation_targets(y, teacher_log_probabilities(dense, x))
                    config = compile_for_distillation(model, settings.distill,
                                                      settings.temperature)
                    _train_steps(model, x, targets, steps, settings.seed)
                    restore_compile(model, config)
            row = {"key": key, "model": settings.model, "dataset": settings.dataset,
                   "seed": settings.seed, "kind": kind, "method": compressor
                   if kind == "fine-tuned" else "", "ratio": ratio, "examples": examples,
                   "steps": steps, "rate": rate, "study_rate": rate == study_rate(settings, kind),
                   "commit": commit, **origin,
                   "parameters": int(model.count_params()),
                   "seconds": time.perf_counter() - start,
                   **accuracies(model, data, (val_x, val_y))}
            sweep.add(row)
            log(f"{settings.name} {key}: val {100 * row['val']:.2f}%, test "
                f"{100 * row['test']:.2f}%, {row['seconds']:.1f} s")
    log(f"wrote {sweep.path}")
    return sweep.path


def weights_fingerprint(model) -> str:
    """The first 16 hex digits of the SHA-256 of ``model``'s weights, in order: the same
    for the same weights wherever they were saved (a weights file's bytes are not)."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def _batches(x, y, seed):
    from svdnet.experiments.data import training_dataset

    return training_dataset(x, y, BATCH_SIZE, seed)


def main(argv=None) -> None:
    """The command line: one study file per seed, in turn."""
    from svdnet.experiments.grid import comma_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    defaults = StudySettings()
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--dataset", default=defaults.dataset)
    parser.add_argument("--seeds", type=comma_list(int), default=(0,))
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--ratios", type=comma_list(float), default=None,
                        help="compression ratios (default: 3,10,25,50; with "
                             "--calibration-sizes, 10)")
    parser.add_argument("--fine-tune-ratios", type=comma_list(float),
                        default=defaults.fine_tune_ratios)
    parser.add_argument("--calibration", type=int, default=defaults.calibration)
    parser.add_argument("--calibration-sizes", type=comma_list(int), default=None,
                        help="instead of the study, compress its cached dense model with no "
                             "gradient step on this many calibration images each, e.g. "
                             "256,1024,4096,8192, at each of --ratios (written to "
                             "reports/post_training/calibration)")
    parser.add_argument("--rates", type=comma_list(float), default=None,
                        help="instead of the study, train its fine-tuned and small rows at "
                             "each of these Adam learning rates, e.g. "
                             f"{','.join(f'{rate:g}' for rate in RATE_GRID)}, at one ratio "
                             "of --ratios "
                             "(default 10) on 4,096 images for 1,000 steps (written to "
                             "reports/post_training/rates)")
    parser.add_argument("--validated-rates", action="store_true",
                        help="train the study's fine-tuned, small and distilled rows at the "
                             "Adam learning rates the rate sweep (--rates, in "
                             "reports/post_training/rates) found best on the validation "
                             "split, averaged over its seeds (default: 1e-4 fine-tuning, "
                             "1e-3 the small networks)")
    parser.add_argument("--out", default=None,
                        help="folder of the result files (default: reports/post_training/"
                             "study, or .../calibration with --calibration-sizes, or "
                             ".../rates with --rates)")
    parser.add_argument("--cache", default=CACHE)
    args = parser.parse_args(argv)
    sweep = args.calibration_sizes is not None
    if args.validated_rates and (sweep or args.rates is not None):
        parser.error("--validated-rates sets the study's rates; give it without "
                     f"{'--calibration-sizes' if sweep else '--rates'}.")
    if args.rates is not None:
        if sweep:
            parser.error("give --rates or --calibration-sizes, not both.")
        ignored = [flag for flag, value, default in (
            ("--fine-tune-ratios", args.fine_tune_ratios, defaults.fine_tune_ratios),
            ("--calibration", args.calibration, defaults.calibration),
            ("--epochs", args.epochs, defaults.epochs)) if value != default]
        if ignored:
            parser.error(f"{' and '.join(ignored)} set the study; the rate sweep (--rates) "
                         "takes them from the study's file: give them without it.")
        ratios = args.ratios or (10.0,)
        if len(ratios) != 1:
            parser.error(f"--rates sweeps one ratio; received --ratios {','.join(map(str, ratios))}.")
        for seed in args.seeds:
            try:  # the study's own settings, from its file: the sweep retrains its rows
                settings = study_settings(args.model, args.dataset, seed)
                run_rate_sweep(settings, ratios[0], args.rates, out=args.out or RATES,
                               cache=args.cache)
            except (TypeError, ValueError, FileNotFoundError) as error:
                parser.error(str(error))
        return
    try:
        if sweep:  # the dense model's settings only: the sweep's ratios are its rows
            studies = [StudySettings(model=args.model, dataset=args.dataset, seed=seed,
                                     epochs=args.epochs) for seed in args.seeds]
        else:
            rates = {}
            if args.validated_rates:
                chosen = validated_rates(args.model, args.dataset)
                rates = {RATE_SETTINGS[kind]: rate for kind, rate in chosen.items()}
            studies = [StudySettings(model=args.model, dataset=args.dataset, seed=seed,
                                     epochs=args.epochs, ratios=args.ratios or defaults.ratios,
                                     fine_tune_ratios=args.fine_tune_ratios,
                                     calibration=args.calibration, **rates)
                       for seed in args.seeds]
    except (TypeError, ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if sweep:
        ignored = [flag for flag, value, default in (
            ("--fine-tune-ratios", args.fine_tune_ratios, defaults.fine_tune_ratios),
            ("--calibration", args.calibration, defaults.calibration)) if value != default]
        if ignored:
            parser.error(f"{' and '.join(ignored)} set the study, not the calibration sweep "
                         "(--calibration-sizes); give them without it.")
        for settings in studies:
            try:
                check_calibration_sweep(settings, args.ratios or (10.0,),
                                        args.calibration_sizes, args.cache)
            except (TypeError, ValueError, FileNotFoundError) as error:
                parser.error(str(error))
    for settings in studies:
        if sweep:
            run_calibration_sweep(settings, args.ratios or (10.0,), args.calibration_sizes,
                                  args.out or CALIBRATION, args.cache)
        else:
            run_study(settings, args.out or OUT, args.cache)


if __name__ == "__main__":
    main()
