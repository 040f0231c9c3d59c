"""Run configurations: the one schema of a run, its validation, and the expansion of
rank, energy and budget choices into runs."""

from __future__ import annotations

import dataclasses
import json

from svdnet.cost import kernel_cost
from svdnet.experiments.data import DATASETS, SPLITS, check_train_size
from svdnet.experiments.model import (
    ARCHITECTURES,
    REFERENCE_DEPTH,
    REFERENCE_WIDTH,
    mlp_shapes,
    width_for_parameters,
)
from svdnet.experiments.options import check_options, dense_options
from svdnet.rank_selection import (
    REFERENCE_RANK,
    check_budget,
    choose_ranks,
    rank_request,
)
from svdnet.svd import BACKENDS, DEFAULT_BACKEND
from svdnet.validation import (
    check_bool,
    check_choice,
    check_int,
    check_rank,
    check_seed,
)

METHODS = ("dense", "projection", "posthoc", "finetune", "lowrank", "small")
"""Training methods, all given the same total budget of ``epochs`` training epochs:

- ``dense``: the uncompressed baseline;
- ``projection``: rank-k SVD projection of every Dense kernel at the end of every epoch
  (the reference experiment);
- ``posthoc``: train dense for ``epochs``, truncate once at the end, no retraining;
- ``finetune``: train dense for ``epochs - finetune_epochs``, factorize at rank k, then
  train the factors for ``finetune_epochs``;
- ``lowrank``: train the factorized network (``LowRankDense`` layers) from scratch for
  ``epochs``; its factors start as the rank-k truncated SVD of the dense initialisation.

- ``small``: the simplest alternative to compression, a plain network trained small from
  the start: the reference MLP narrowed (same depth) to the width whose parameter count
  is closest to the factorized model of the same rank or budget (see
  :func:`small_width`), trained like ``dense``.

Every compressed method is tested as its exported factorized model (:func:`svdnet.factorize`).
"""

BUDGET_EPOCHS = 10
"""The default training budget of a run, in epochs (teacher epochs not included)."""

SENSITIVITY_EXAMPLES = 5000
"""Training examples (the last ones of the split) on which ``allocation="accuracy"``
measures each layer's sensitivity; never the test set."""

def base_method(label: str) -> str:
    """The method of a :func:`svdnet.experiments.options.method_label`: ``"lowrank+kd"`` -> ``"lowrank"``."""
    return label.split("+")[0]


PIPELINES = ("tf.data", "numpy")
"""Input pipelines: ``tf.data`` (cached, reshuffled every epoch, prefetched; see
:func:`svdnet.experiments.training_dataset`) or ``numpy`` (arrays handed to ``fit``)."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The parameters of one run; see :func:`validate_config` for what is allowed.

    Attributes:
        method: One of :data:`METHODS`. Defaults to ``"projection"``.
        architecture: One of :data:`ARCHITECTURES`: the model trained. Defaults to
            ``"mlp"`` (what every result before this field had).
        rank: Rank k of the SVD truncation (ignored by ``dense``), or a mapping of
            layer name to rank. Defaults to ``None``: 20 unless ``energy`` or
            ``budget`` is set (exactly one of the three may be set).
        dataset: One of :data:`svdnet.experiments.data.DATASETS`. Defaults to ``"mnist"``.
        epochs: Total training epochs, >= 1. Defaults to 10.
        batch_size: Examples per step, >= 1. Defaults to 128.
        depth: Hidden layers of the ``"mlp"``, >= 1 (the other architectures keep the
            default). Defaults to 5.
        width: Units per hidden layer of the ``"mlp"``, >= 1 (likewise). Defaults to 1024.
        seed: Seed of weights, shuffling and the randomized SVD. Defaults to 0.
        train_size: Training examples to use, 0 for the whole split. Defaults to 0.
        svd_method: SVD backend of the projection and the factorization. Defaults to
            :data:`svdnet.svd.DEFAULT_BACKEND`, ``"exact"`` (the grid runner's flag
            defaults to :data:`svdnet.svd.PROJECTION_BACKEND`).
        every: Project every ``every`` epochs. Defaults to 1.
        finetune_epochs: Of the ``epochs``, how many the ``finetune`` method spends
            training the factors, from 1 to ``epochs - 1``. Defaults to 2.
        jit_compile: Compile the training step with XLA. Defaults to ``True``.
        pipeline: One of :data:`PIPELINES`. Defaults to ``"tf.data"``.
        energy: Choose each layer's rank to keep this fraction of its squared singular
            values. Defaults to ``None``.
        budget: Choose the ranks that keep the most spectral energy with the exported
            model within this many parameters. Defaults to ``None``.
        output_layer: One of :data:`svdnet.experiments.options.OUTPUT_LAYERS`, for the compressed methods; for
            ``small``, which model size it matches. Defaults to ``"auto"`` (what every
            result before this field had).
        distill: Weight of the dense teacher's softened outputs in the loss, in [0, 1)
            (Hinton et al. 2015); 0 trains on the labels alone. For :data:`svdnet.experiments.options.DISTILLED`
            methods; the teacher is the dense run of the same dataset and seed, trained
            for ``epochs``. Defaults to 0.
        temperature: Softmax temperature of the distillation, > 0. Defaults to 4.
        weight_decay: Frobenius decay of ``lowrank``: ``weight_decay * ||U V||_F^2``
            per layer added to the loss (Khodak et al. 2021), >= 0. Defaults to 0.
        allocation: How a ``budget`` is shared between layers: ``"energy"`` (the most
            spectral energy, :func:`svdnet.rank_selection.budget_ranks`) or
            ``"accuracy"`` (``finetune`` only: each layer's measured accuracy on
            :data:`SENSITIVITY_EXAMPLES` held-out training examples,
            :func:`svdnet.sensitivity.sensitivity_ranks`). Defaults to ``"energy"``.
        lr_schedule: ``finetune``'s learning rate while it trains the factors:
            ``"constant"`` (Adam's 0.001 throughout) or ``"cosine"`` (cosine decay from
            it to 0 over the factor epochs). Defaults to ``"constant"``.
        anneal_epochs: ``projection`` with a rank: the kept rank falls from each
            kernel's full rank to k over this many epochs
            (:func:`svdnet.schedule.annealed_rank`); 0 drops to k at the first epoch.
            Defaults to 0.
        calibration: ``projection``, ``posthoc`` and ``finetune``: truncate each trained
            kernel to the rank-k kernel that keeps its layer's outputs closest on the
            first ``calibration`` training examples (activation-whitened SVD,
            ``svdnet.factorize(data=...)``), instead of the SVD of the weights alone; 0
            keeps the weights' SVD. With ``allocation="accuracy"`` the ranks are chosen
            by each layer's accuracy under the weights' SVD, then truncated data-aware.
            Defaults to 0.
    """

    method: str = "projection"
    rank: int | dict | None = None
    dataset: str = "mnist"
    epochs: int = BUDGET_EPOCHS
    batch_size: int = 128
    depth: int = REFERENCE_DEPTH
    width: int = REFERENCE_WIDTH
    seed: int = 0
    train_size: int = 0
    svd_method: str = DEFAULT_BACKEND
    every: int = 1
    finetune_epochs: int = 2
    jit_compile: bool = True
    pipeline: str = "tf.data"
    energy: float | None = None
    budget: int | None = None
    output_layer: str = "auto"
    distill: float = 0.0
    temperature: float = 4.0
    weight_decay: float = 0.0
    anneal_epochs: int = 0
    calibration: int = 0
    allocation: str = "energy"
    lr_schedule: str = "constant"
    architecture: str = "mlp"

    def __post_init__(self):
        object.__setattr__(self, "rank", _rank_field(self.rank, self.energy, self.budget))
        validate_config(self)  # a config that exists is valid: RunConfig(rank=0) raises here

    @property
    def rank_label(self) -> str:
        """The rank choice in words, for example ``"rank 20"`` or ``"energy 0.9"``."""
        return rank_request(**self.rank_choice).describe()

    @property
    def rank_choice(self) -> dict:
        """The keyword arguments of the rank choice: ``rank``, ``energy``, ``budget``."""
        return {"rank": self.rank, "energy": self.energy, "budget": self.budget}

    def replace(self, **changes) -> "RunConfig":
        """Returns a copy with ``changes`` applied and validated."""
        return validate_config(dataclasses.replace(self, **changes))

    def dense_twin(self, epochs: int | None = None) -> "RunConfig":
        """The dense run of the same dataset, seed and recipe (trained for ``epochs``,
        default ``self.epochs``): the baseline, the start of ``posthoc`` and
        ``finetune``, and the distillation teacher."""
        return self.replace(method="dense", **dense_options(self),
                            epochs=self.epochs if epochs is None else epochs)

    @property
    def dense_epochs(self) -> int:
        """Epochs of dense training this method starts from (0 for ``lowrank``)."""
        if self.method == "finetune":
            return self.epochs - self.finetune_epochs
        return 0 if self.method == "lowrank" else self.epochs


def _rank_field(rank, energy, budget):
    """A config's ``rank``: :data:`svdnet.rank_selection.REFERENCE_RANK` when none of
    ``rank``, ``energy`` and ``budget`` is set."""
    return REFERENCE_RANK if rank is None and energy is None and budget is None else rank


def full_config(config: dict) -> dict:
    """The whole configuration of a stored run: ``config`` (a result file's ``config``)
    with every field an older file lacks at its default (what those runs trained with).
    What a result file stores, and what readers compare: two result files hold the same
    run exactly when their full configs are equal, whatever their names. The values are
    not checked here (``RunConfig(**full_config(config))`` checks them).

    Args:
        config: A result file's ``config`` (field name to value).

    Returns:
        Every field of :class:`RunConfig`, by name, in its order.

    Raises:
        TypeError: when ``config`` is not a dict or holds a field :class:`RunConfig` does
            not have, naming it.
    """
    if not isinstance(config, dict):
        raise TypeError(f"A run's config must be a JSON object (dict); received "
                        f"{type(config).__name__} {config!r}.")
    fields = {field.name: field.default for field in dataclasses.fields(RunConfig)}
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise TypeError(f"A run's config holds fields RunConfig does not have: {unknown}; "
                        f"allowed: {sorted(fields)}.")
    full = {**fields, **config}
    full["rank"] = _rank_field(full["rank"], full["energy"], full["budget"])
    for field in dataclasses.fields(RunConfig):  # 0 and 0.0 are one value, one identity
        value = full[field.name]
        if (str(field.type).startswith("float") and isinstance(value, int)
                and not isinstance(value, bool)):
            full[field.name] = float(value)
    return full


def identity(config: dict, without=()) -> str:
    """A run's identity: its :func:`full_config` as canonical JSON text, the fields in
    ``without`` left out (``without=("seed",)``: the configuration its seeds share).

    Args:
        config: A result file's ``config``.
        without: Field names to leave out. Defaults to none.
    """
    return json.dumps({key: value for key, value in full_config(config).items()
                       if key not in without}, sort_keys=True, default=str)


def config_from_parameters(namespace: dict) -> RunConfig:
    """The :class:`RunConfig` of a notebook's parameters: each field's value read from
    ``namespace`` (the notebook's globals), validated. The sweep notebook declares one
    parameter per field, so a new field reaches it through its parameters cell alone.

    Raises:
        NameError: naming the fields ``namespace`` lacks.
        TypeError, ValueError: for a bad value, as :func:`validate_config`.
    """
    fields = [field.name for field in dataclasses.fields(RunConfig)]
    missing = [name for name in fields if name not in namespace]
    if missing:
        raise NameError(f"The notebook declares no parameter for the RunConfig field(s) "
                        f"{missing}; its parameters cell must declare every field: "
                        f"{', '.join(fields)}.")
    return RunConfig(**{name: namespace[name] for name in fields})


def validate_config(config: RunConfig) -> RunConfig:
    """Checks every field of ``config``; raises an error naming the first bad one.

    Raises:
        TypeError: for a field of the wrong type.
        ValueError: for a value out of range or an unknown name.
    """
    check_choice("method", config.method, METHODS)
    check_choice("architecture", config.architecture, ARCHITECTURES)
    check_choice("dataset", config.dataset, DATASETS)
    check_int("epochs", config.epochs, minimum=1)
    check_int("batch_size", config.batch_size, minimum=1)
    check_int("depth", config.depth, minimum=1)
    check_int("width", config.width, minimum=1)
    if config.architecture != "mlp":
        for name, default in (("depth", REFERENCE_DEPTH), ("width", REFERENCE_WIDTH)):
            if getattr(config, name) != default:
                raise ValueError(
                    f"{name} sizes the 'mlp'; architecture={config.architecture!r} has its "
                    f"own layers, so leave {name} at {default}; received "
                    f"{name}={getattr(config, name)!r}.")
    check_seed(config.seed, allow_none=False)
    check_train_size(config.dataset, config.train_size)
    check_choice("svd_method", config.svd_method, BACKENDS)
    check_int("every", config.every, minimum=1)
    if config.rank is not None and not isinstance(config.rank, dict):
        check_rank(config.rank, maximum=max(min(shape)
                                            for shape in reference_shapes(config).values()))
    rank_request(**config.rank_choice)
    if config.method == "finetune":
        if config.epochs < 2:
            raise ValueError(
                f"The finetune method needs epochs >= 2 (dense epochs, then fine-tuning "
                f"epochs); received epochs={config.epochs}."
            )
        check_int("finetune_epochs", config.finetune_epochs, minimum=1,
                  maximum=config.epochs - 1)
    else:
        check_int("finetune_epochs", config.finetune_epochs, minimum=1)
    check_bool("jit_compile", config.jit_compile)
    check_choice("pipeline", config.pipeline, PIPELINES)
    check_options(config)  # svdnet.experiments.options: each option's values and methods
    check_calibration(config, config.train_size or SPLITS[config.dataset]["train"])
    if config.method != "dense":
        _check_ranks_fit_the_model(config)
    return config


def check_calibration(config: RunConfig, examples: int) -> None:
    """Refuses a ``calibration`` beyond the ``examples`` the run trains on (known from the
    split before loading, from the loaded data when training), naming both.

    Raises:
        ValueError: when ``config.calibration > examples``.
    """
    if config.calibration > examples:
        raise ValueError(f"calibration={config.calibration} asks for more examples than the "
                         f"run trains on ({examples:,} of {config.dataset!r}); give at most "
                         f"{examples}.")


def model_token(config: RunConfig) -> str:
    """The model in run names: ``"5x1024"`` (the MLP's depth and width) or the
    architecture, ``"cnn"``."""
    if config.architecture != "mlp":
        return config.architecture
    return f"{config.depth}x{config.width}"


def model_layout(config: RunConfig) -> tuple[dict, int]:
    """The compressible kernels of ``config``'s dense model and the rest of its parameters,
    known before training: the MLP's from its depth and width, the CNN's and the vision
    transformer's from the model built once
    (:func:`svdnet.experiments.architectures.architecture_layout`).

    Returns:
        ``(shapes, fixed)``: each kernel's matrix shape by layer name, and the count of the
        other parameters (biases, norms, embeddings).
    """
    split = SPLITS[config.dataset]
    if config.architecture != "mlp":
        from svdnet.experiments import architectures  # builds Keras models: imported when used

        return architectures.architecture_layout(config.architecture, split["classes"])
    shapes = mlp_shapes(split["features"], split["classes"], config.depth, config.width)
    return shapes, sum(cols for _, cols in shapes.values())  # the biases


def reference_shapes(config: RunConfig) -> dict:
    """The kernel shapes of ``config``'s dense model (:func:`model_layout`)."""
    return model_layout(config)[0]


def dense_parameters(config: RunConfig) -> int:
    """The parameter count of ``config``'s dense model (:func:`model_layout`)."""
    shapes, fixed = model_layout(config)
    return fixed + sum(rows * cols for rows, cols in shapes.values())


def compressed_shapes(config: RunConfig) -> dict:
    """The kernel shapes of the layers ``config``'s method compresses: every layer, or
    every layer but ``output`` when ``config.output_layer == "dense"``."""
    shapes = reference_shapes(config)
    if config.output_layer == "dense":
        shapes = {name: shape for name, shape in shapes.items() if name != "output"}
    return shapes


def target_parameters(config: RunConfig) -> int:
    """The parameter count of the factorized model that ``config``'s rank or budget asks
    for, before training: what the ``small`` baseline is sized to.

    For a rank (or a per-layer map) it is the count of the exported model, each kernel
    stored as factors where they are smaller (:func:`svdnet.cost.kernel_cost`), plus
    biases; for a budget, the budget. An energy threshold's size is only known after
    training, so it has none.

    Raises:
        ValueError: for an energy request.
    """
    request = rank_request(**config.rank_choice)
    shapes, fixed = model_layout(config)
    if request.kind == "budget":
        return request.budget
    if request.kind == "energy":
        raise ValueError(
            f"The small method needs a rank or a budget to size its network; received "
            f"energy={config.energy}, whose model size is only known after training.")
    ranks = choose_ranks(request, compressed_shapes(config))
    return fixed + sum(kernel_cost(rows, cols, min(ranks[name], rows, cols))
                       if name in ranks else rows * cols
                       for name, (rows, cols) in shapes.items())


def small_width(config: RunConfig) -> int | float:
    """The size of the ``small`` baseline, the dense model narrowed to the parameter count
    closest to :func:`target_parameters` (the narrower on a tie): for the ``"mlp"`` its
    hidden width (same depth; :func:`svdnet.experiments.model.width_for_parameters`), for
    the other architectures the multiplier of every layer's width
    (:func:`svdnet.experiments.architectures.width_for_parameters`)."""
    split = SPLITS[config.dataset]
    if config.architecture != "mlp":
        from svdnet.experiments import architectures  # builds Keras models: imported when used

        return architectures.width_for_parameters(config.architecture,
                                                  target_parameters(config), split["classes"])
    return width_for_parameters(target_parameters(config), split["features"],
                                split["classes"], config.depth, config.width)


def _check_ranks_fit_the_model(config: RunConfig) -> None:
    """A per-layer rank map must name the model's layers within their sizes, and a budget
    must allow the smallest factorized model: both are known before training."""
    request = rank_request(**config.rank_choice)
    shapes, fixed = model_layout(config)
    if config.method == "small":
        target_parameters(config)  # refuses energy, before any work
    if request.kind == "per_layer":
        choose_ranks(request, shapes)
    elif request.kind == "budget":
        check_budget(request.budget, shapes, fixed=fixed)




CHOICES = ("rank", "energy", "budget")
"""The fields of :class:`RunConfig` that choose the ranks; exactly one is set."""


def expand_choices(config: RunConfig, ranks=(), energies=(), budgets=()) -> list[RunConfig]:
    """Returns one validated config per rank, energy and budget asked for.

    The one expansion of a list of choices into runs, used by the sweep notebook and the
    grid runner alike. ``dense`` has no rank choice: it expands to ``config`` alone.

    Args:
        config: The settings shared by the runs.
        ranks: Ranks, each a positive int. Defaults to none.
        energies: Energy thresholds, each in (0, 1]. Defaults to none.
        budgets: Parameter budgets, each a positive int. Defaults to none.

    Returns:
        The configs, ranks first, then energies, then budgets; ``[config]`` when all three
        are empty or the method is ``dense``.

    Raises:
        TypeError: when one of the lists is not a list or tuple.
        ValueError: for a bad value, naming it.
    """
    for name, values in (("ranks", ranks), ("energies", energies), ("budgets", budgets)):
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"{name} must be a list; received {values!r}.")
    config = validate_config(config)
    if config.method == "dense":
        return [config]
    unset = dict.fromkeys(CHOICES)
    choices = ([("rank", value) for value in ranks] + [("energy", value) for value in energies]
               + [("budget", value) for value in budgets])
    return [config.replace(**{**unset, kind: value}) for kind, value in choices] or [config]
