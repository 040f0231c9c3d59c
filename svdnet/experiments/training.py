"""Training runs: the dense baseline and the SVD-compressed variants, measured."""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from svdnet.callback import SVDProjection
from svdnet.experiments.architectures import build_architecture, compile_model
from svdnet.experiments.config import (
    SENSITIVITY_EXAMPLES,
    RunConfig,
    check_calibration,
    dense_parameters,
    small_width,
    validate_config,
)
from svdnet.experiments.data import Dataset, load_dataset, training_dataset
from svdnet.experiments.distillation import (
    compile_for_distillation,
    distillation_targets,
    restore_compile,
    teacher_log_probabilities,
)
from svdnet.experiments.model import build_mlp
from svdnet.experiments.provenance import provenance
from svdnet.factorize import factorize, factorized_ranks
from svdnet.layers import kernel_layer_map, layer_map
from svdnet.lowrank import LowRankDense
from svdnet.sensitivity import accuracy_score, layer_sensitivity, sensitivity_ranks
from svdnet.svd import DEFAULT_BACKEND, rank_of_spectrum, singular_values


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each training epoch in :attr:`seconds`.

    Put it first in the callback list so that later callbacks' epoch-end work (such as
    the SVD projection) is not counted.
    """

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class TestEvaluation(keras.callbacks.Callback):
    """Evaluates the model on held-out data at the end of every epoch.

    Put it after :class:`svdnet.SVDProjection` in the callback list: it then measures
    the projected model, which Keras' own ``validation_data`` (computed before the
    epoch-end callbacks) does not. Adds ``test_loss`` and ``test_accuracy`` to the logs.

    Args:
        x: Features of the held-out data.
        y: Labels of the held-out data.
        batch_size: Evaluation batch size. Defaults to 1024.
    """

    def __init__(self, x, y, batch_size: int = 1024):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def on_epoch_end(self, epoch, logs=None):
        loss, accuracy = self.model.evaluate(
            self.x, self.y, batch_size=self.batch_size, verbose=0
        )
        if logs is not None:
            logs["test_loss"] = float(loss)
            logs["test_accuracy"] = float(accuracy)


@dataclasses.dataclass
class Run:
    """A trained model and what was measured while training and testing it.

    Attributes:
        config: The :class:`RunConfig`.
        model: The trained Keras model.
        history: ``History.history``: per-epoch metrics and SVD logs.
        test_loss: Loss on the test split.
        test_accuracy: Accuracy on the test split.
        epoch_seconds: Wall time of each training epoch, SVD excluded.
        svd_seconds: Total wall time of SVD projections.
        params: Parameter counts from :func:`svdnet.params.parameter_counts`.
        ranks: Per-layer numerical rank of the trained kernels.
        chosen_ranks: Per-layer rank of the exported model's factors (``None`` for a
            layer left Dense), as chosen by rank, energy or budget.
        spectra: Per-layer singular values before the last projection, when recorded.
        final_spectra: Per-layer singular values of the trained (final) kernels.
    """

    config: RunConfig
    model: keras.Model
    history: dict
    test_loss: float
    test_accuracy: float
    epoch_seconds: list
    svd_seconds: float
    params: dict
    ranks: dict
    chosen_ranks: dict
    spectra: dict
    final_spectra: dict

    def summary(self) -> dict:
        """Returns the run's measurements as JSON-ready plain data."""
        return {
            "config": dataclasses.asdict(self.config),
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "params": self.params,
            "ranks": self.ranks,
            "chosen_ranks": self.chosen_ranks,
            "history": self.history,
            "epoch_seconds": self.epoch_seconds,
            "train_seconds": float(sum(self.epoch_seconds)),
            "svd_seconds": self.svd_seconds,
        }


def fit_arguments(data: Dataset, config: RunConfig, epochs: int, y=None) -> dict:
    """Returns the keyword arguments of ``Model.fit`` for ``config``'s input pipeline.

    Args:
        data: The dataset.
        config: The run's configuration.
        epochs: Epochs to train.
        y: Targets to train on instead of ``data.y_train`` (one row per example, such as
            distillation targets). Defaults to ``None``.
    """
    y = data.y_train if y is None else y
    if config.pipeline == "tf.data":
        dataset = training_dataset(data.x_train, y, config.batch_size, config.seed)
        return {"x": dataset, "epochs": epochs, "shuffle": False}  # the pipeline shuffles
    return {"x": data.x_train, "y": y, "batch_size": config.batch_size, "epochs": epochs}


def compressed_layers(model: keras.Model, config: RunConfig):
    """The layers ``config``'s method compresses: ``None`` (every Dense, Conv2D and
    EinsumDense layer) or, with ``output_layer="dense"``, every such layer but the one
    named ``output``."""
    if config.output_layer != "dense":
        return None
    return [key for key, layer in kernel_layer_map(model).items() if layer.name != "output"]


def dense_model(data: Dataset, config: RunConfig, width: int | float | None = None
                ) -> keras.Model:
    """Builds the untrained dense model of ``config`` (its ``architecture``), compiled,
    seeded with ``config.seed``.

    Args:
        data: The dataset (its input width and classes).
        config: The run's configuration.
        width: Narrows the model, for the ``small`` baseline: the MLP's hidden width, or
            the multiplier of every layer of the other architectures
            (:func:`svdnet.experiments.config.small_width`). Defaults to ``None``, the
            model itself.
    """
    keras.utils.set_random_seed(config.seed)
    if config.architecture != "mlp":
        model = build_architecture(config.architecture, data.num_classes,
                                   1.0 if width is None else width)
        return compile_model(model, jit_compile=config.jit_compile)
    return build_mlp(
        input_dim=data.input_dim,
        num_classes=data.num_classes,
        depth=config.depth,
        width=config.width if width is None else width,
        jit_compile=config.jit_compile,
    )


def calibration_inputs(data: Dataset, config: RunConfig) -> dict:
    """The keyword arguments that make ``config``'s truncations data-aware: ``data`` (the
    first ``config.calibration`` training inputs) and ``max_examples``, for
    :func:`svdnet.factorize` and :class:`svdnet.SVDProjection`; none for
    ``calibration=0`` (the weights' SVD).

    Raises:
        ValueError: when ``config.calibration`` exceeds the training examples, naming both.
    """
    if not config.calibration:
        return {}
    check_calibration(config, len(data.x_train))  # the loaded data may hold fewer
    return {"data": data.x_train[:config.calibration], "max_examples": config.calibration}


def _training_split(data: Dataset, train_size: int) -> Dataset:
    """``data`` with its first ``train_size`` training examples (all for 0), as the config
    says; the test split is kept whole."""
    if not train_size or train_size == len(data.x_train):
        return data
    if train_size > len(data.x_train):
        raise ValueError(f"config.train_size is {train_size} but the loaded {data.name!r} "
                         f"holds {len(data.x_train)} training examples; load it with "
                         f"train_size={train_size} or more.")
    return dataclasses.replace(data, x_train=data.x_train[:train_size],
                               y_train=data.y_train[:train_size])


def train(
    data: Dataset,
    config: RunConfig = RunConfig(),
    record_spectrum: bool = False,
    evaluate_each_epoch: bool = False,
    verbose: int = 0,
    trained_dense: keras.Model | None = None,
    callbacks=(),
    teacher: keras.Model | None = None,
) -> Run:
    """Trains and tests one model as ``config`` says, on already loaded ``data``.

    Seeds Keras (Python, numpy and TensorFlow) with ``config.seed`` first, so two runs
    with the same config start from the same weights and batch order. Compressed
    methods are tested as their exported factorized model (see :data:`METHODS`).

    Args:
        data: A :class:`svdnet.experiments.data.Dataset`; a run with ``config.train_size``
            trains on its first ``train_size`` training examples.
        config: A :class:`RunConfig`. Defaults to the reference experiment.
        record_spectrum: Keep each kernel's singular values before the last projection.
            Defaults to ``False``.
        evaluate_each_epoch: Measure test loss and accuracy after every epoch (after
            its projection) into the history. Defaults to ``False``.
        verbose: Keras ``fit`` verbosity. Defaults to 0.
        trained_dense: For ``posthoc`` and ``finetune``: the dense model already trained
            for ``config.dense_epochs`` epochs with the same config and seed, to start
            from instead of training it again (it is not changed). Defaults to ``None``.
        callbacks: Extra Keras callbacks for the training ``fit``. Defaults to none.
        teacher: For ``distill > 0``: the dense model of the same config and seed trained
            for ``config.epochs`` epochs, to distil from (it is not changed); ``None``
            trains it here. Defaults to ``None``.

    Returns:
        A :class:`Run`.
    """
    config = validate_config(config)
    data = _training_split(data, config.train_size)
    calibrated = calibration_inputs(data, config)  # checked before any training
    method = config.method
    timer = EpochTimer()
    fit_callbacks = [timer]
    projection = None
    svd_seconds = 0.0
    spectra = {}
    if method in ("posthoc", "finetune"):
        if trained_dense is None:
            trained_dense = train(
                data, config.dense_twin(config.dense_epochs)
            ).model
        elif trained_dense.input_shape[-1] != data.input_dim:
            raise ValueError(
                f"trained_dense takes {trained_dense.input_shape[-1]} inputs but dataset "
                f"{data.name!r} has {data.input_dim}."
            )
        if record_spectrum:
            spectra = layer_spectra(trained_dense)
        start = time.perf_counter()
        choice = config.rank_choice
        if config.allocation == "accuracy":
            choice = {"rank": accuracy_allocation(data, trained_dense, config)}
        model = factorize(trained_dense, svd_method=config.svd_method, seed=config.seed,
                          layers=compressed_layers(trained_dense, config), verbose=0,
                          **choice, **calibrated)
        svd_seconds = time.perf_counter() - start
        epochs = config.finetune_epochs if method == "finetune" else 0
    elif method == "lowrank":
        initial = dense_model(data, config)
        layers = compressed_layers(initial, config)
        if config.weight_decay:  # carried onto the product U @ V by factorize
            for key, layer in kernel_layer_map(initial).items():
                if layers is None or key in layers:
                    layer.kernel_regularizer = keras.regularizers.L2(config.weight_decay)
        model = factorize(initial, svd_method=config.svd_method, seed=config.seed,
                          layers=layers, verbose=0, **config.rank_choice)
        epochs = config.epochs
    elif method == "small":
        width = small_width(config)
        model = dense_model(data, config, width=width)
        epochs = config.epochs
    else:
        model = dense_model(data, config)
        epochs = config.epochs
        if method == "projection":
            projection = SVDProjection(
                every=config.every,
                svd_method=config.svd_method,
                seed=config.seed,
                record_spectrum=record_spectrum,
                layers=compressed_layers(model, config),
                anneal_epochs=config.anneal_epochs,
                **config.rank_choice,
                **calibrated,
            )
            fit_callbacks.append(projection)
    if config.lr_schedule == "cosine" and epochs:
        steps = epochs * -(-len(data.x_train) // config.batch_size)
        cosine_learning_rate(model, steps)
    targets, test_targets, compiled = None, data.y_test, None
    if config.distill and epochs:
        if teacher is None:
            teacher = train(data, config.dense_twin()).model
        targets = distillation_targets(data.y_train, teacher_log_probabilities(teacher, data.x_train))
        test_targets = distillation_targets(data.y_test, teacher_log_probabilities(teacher, data.x_test))
        compiled = compile_for_distillation(model, config.distill, config.temperature)
    if evaluate_each_epoch:
        fit_callbacks.append(TestEvaluation(data.x_test, test_targets))
    history = {}
    if epochs:
        keras.utils.set_random_seed(config.seed)
        history = model.fit(
            callbacks=fit_callbacks + list(callbacks), verbose=verbose,
            **fit_arguments(data, config, epochs, y=targets),
        ).history
    if compiled is not None:
        restore_compile(model, compiled)
    if projection is not None:
        svd_seconds = projection.total_seconds
        spectra = dict(projection.spectra)
    final_spectra = layer_spectra(model)
    shapes = {name: kernel.shape for name, kernel in effective_kernels(model).items()}
    dense_count = dense_parameters(config)
    if method == "projection":
        start = time.perf_counter()
        # The kernels already have the last projection's ranks: factorize at those.
        last_ranks = projection.projections[-1]["rank"] if projection.projections else {}
        model = factorize(model, rank=last_ranks or config.rank, svd_method=config.svd_method,
                          seed=config.seed, layers=compressed_layers(model, config), verbose=0)
        svd_seconds += time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(
        data.x_test, data.y_test, batch_size=1024, verbose=0
    )
    return Run(
        config=config,
        model=model,
        history={key: [float(v) for v in values] for key, values in history.items()},
        test_loss=float(test_loss),
        test_accuracy=float(test_accuracy),
        epoch_seconds=list(getattr(timer, "seconds", [])),
        svd_seconds=float(svd_seconds),
        params={
            "dense": dense_count,
            "factorized": int(model.count_params()),
            "ratio": dense_count / int(model.count_params()),
            **({"width": width} if method == "small" else {}),
        },
        ranks={name: rank_of_spectrum(values, shapes[name])
               for name, values in final_spectra.items()},
        chosen_ranks={} if method in ("dense", "small") else factorized_ranks(model),
        spectra=spectra,
        final_spectra=final_spectra,
    )


def cosine_learning_rate(model: keras.Model, steps: int) -> None:
    """Recompiles ``model`` with its optimizer's settings, the learning rate decaying from
    its value to 0 along a cosine over ``steps`` training steps (Loshchilov and Hutter,
    2017, without restarts)."""
    config = model.optimizer.get_config()
    start = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    config["learning_rate"] = keras.optimizers.schedules.CosineDecay(start, decay_steps=steps)
    compile_config = model.get_compile_config()
    model.compile(optimizer=model.optimizer.__class__.from_config(config),
                  loss=model.loss, metrics=["accuracy"],
                  jit_compile=compile_config.get("jit_compile", "auto"))


def accuracy_allocation(data: Dataset, model: keras.Model, config: RunConfig) -> dict:
    """The per-layer ranks of ``config.budget`` chosen by each layer's measured accuracy
    on the last :data:`SENSITIVITY_EXAMPLES` training examples
    (:func:`svdnet.sensitivity.sensitivity_ranks`); a layer it leaves dense gets its full
    rank, which ``factorize`` leaves as a Dense layer (its factors would be larger)."""
    held = slice(-min(SENSITIVITY_EXAMPLES, len(data.x_train)), None)
    layers = compressed_layers(model, config)
    measured = layer_sensitivity(model, accuracy_score(data.x_train[held], data.y_train[held]),
                                 layers=layers)
    selected = {key: layer for key, layer in layer_map(model).items() if key in measured}
    shapes = {key: tuple(layer.kernel.shape) for key, layer in selected.items()}
    fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
    ranks = sensitivity_ranks(measured, shapes, config.budget, fixed)
    return {key: min(shapes[key]) if rank is None else rank for key, rank in ranks.items()}


def effective_kernels(model: keras.Model) -> dict[str, np.ndarray]:
    """Returns each Dense kernel, and each ``LowRankDense``'s product ``U @ V``, by name."""
    kernels = {}
    for key, layer in layer_map(model).items():
        if isinstance(layer, LowRankDense):
            u, v = (keras.ops.convert_to_numpy(w) for w in (layer.u, layer.v))
            kernels[key] = u @ v
        elif isinstance(layer, keras.layers.Dense):
            kernels[key] = keras.ops.convert_to_numpy(layer.kernel)
    return kernels


def layer_spectra(model: keras.Model) -> dict[str, np.ndarray]:
    """Returns every singular value of each Dense (or ``LowRankDense``) kernel, by name."""
    return {name: singular_values(kernel) for name, kernel in effective_kernels(model).items()}


def run_reference(
    rank: int = 20,
    dataset: str = "mnist",
    epochs: int = 10,
    batch_size: int = 128,
    seed: int = 0,
    train_size: int = 0,
    svd_method: str = DEFAULT_BACKEND,
    data_dir: str | None = None,
    verbose: int = 0,
) -> dict:
    """Runs the reference experiment: the dense MLP and its rank-k projected twin.

    Both train from the same seed (so the same initial weights and batch order) on the
    same data; the compressed one has its kernels projected to rank k after every epoch.

    Args:
        rank: Rank k. Defaults to 20.
        dataset: ``"mnist"`` or ``"fashion_mnist"``. Defaults to ``"mnist"``.
        epochs: Training epochs. Defaults to 10.
        batch_size: Batch size. Defaults to 128.
        seed: Random seed. Defaults to 0.
        train_size: Training examples, 0 for all. Defaults to 0.
        svd_method: SVD backend. Defaults to :data:`svdnet.svd.DEFAULT_BACKEND`.
        data_dir: TFDS data folder; defaults to ``TFDS_DATA_DIR``.
        verbose: Keras ``fit`` verbosity. Defaults to 0.

    Returns:
        A dict with ``dense`` and ``compressed`` run summaries (test accuracy and loss,
        parameter counts, epoch and SVD times, per-epoch history) and ``provenance``.
    """
    config = validate_config(RunConfig(
        method="projection", rank=rank, dataset=dataset, epochs=epochs,
        batch_size=batch_size, seed=seed, train_size=train_size, svd_method=svd_method,
    ))
    data = load_dataset(dataset, data_dir=data_dir, train_size=train_size)
    dense = train(data, config.dense_twin(), verbose=verbose)
    compressed = train(data, config, verbose=verbose)
    return {
        "dense": dense.summary(),
        "compressed": compressed.summary(),
        "accuracy_drop": dense.test_accuracy - compressed.test_accuracy,
        "provenance": provenance(),
    }

