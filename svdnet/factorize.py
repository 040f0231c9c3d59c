"""Exporting a trained model with its Dense, Conv2D and EinsumDense kernels stored as
rank-k factors."""

from __future__ import annotations

import dataclasses

import keras

from svdnet.calibration import DEFAULT_MAX_EXAMPLES
from svdnet.cost import break_even_text, shrinks
from svdnet.decompose import (
    calibrated_ranks,
    calibration,
    decompose,
    finite_kernels,
    kernel_shapes,
)
from svdnet.jit import resolve_jit_compile
from svdnet.kernels import KERNEL_LAYERS, check_conv_scheme
from svdnet.layers import (
    LOW_RANK_LAYERS,
    check_factorized_ranks,
    children,
    is_graph_model,
    layer_map,
    parent_map,
    select_layers,
)
from svdnet.lowrank import LowRankDense
from svdnet.lowrank_attention import LowRankMultiHeadAttention
from svdnet.lowrank_conv import LowRankConv2D
from svdnet.lowrank_einsum import LowRankEinsumDense
from svdnet.printing import print_msg
from svdnet.rank_selection import rank_request
from svdnet.svd import BACKENDS, DEFAULT_BACKEND, svd_method_argument
from svdnet.validation import check_bool, check_choice, check_int, check_seed


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What :func:`factorize` does with one selected layer.

    Attributes:
        name: Layer key.
        shape: The kernel's matrix shape ``(m, n)`` (see :mod:`svdnet.kernels`).
        rank: Rank of the factors, or ``None`` when the layer stays as it is.
        reason: Why it stays as it is (``""`` when factorized).
    """

    name: str
    shape: tuple
    rank: int | None
    reason: str = ""


def factorization_plan(model: keras.Model, rank=None, layers=None, energy=None,
                       budget=None, conv_scheme: str = "weight", data=None,
                       max_examples: int = DEFAULT_MAX_EXAMPLES,
                       allocation: str = "energy") -> list[LayerPlan]:
    """Decides, per selected layer, the rank of its factors or that it stays as it is.

    The ranks come from exactly one of ``rank``, ``energy`` or ``budget`` (see
    :func:`svdnet.rank_selection.rank_request`; energy and budget take each kernel's
    exact SVD). A layer is factorized only when ``k * (m + n) < m * n`` with
    ``k = min(rank, m, n)``; at or above that break-even rank the two factors would
    hold more numbers than the kernel, so the layer stays Dense.

    Args:
        model: A built Keras model.
        rank: One rank for every selected layer, or a mapping of layer name to rank
            (layers left out stay Dense). Defaults to ``None``: rank 20 unless
            ``energy`` or ``budget`` is given.
        layers: Names of the Dense, Conv2D and EinsumDense layers to consider, or
            ``None`` for all. Defaults to ``None``.
        energy: Per layer, keep the smallest rank with this fraction of the squared
            singular values. Defaults to ``None``.
        budget: Parameter count of the whole factorized model. Defaults to ``None``.
        conv_scheme: How a Conv2D kernel is read as a matrix, ``"weight"`` or
            ``"spatial"`` (see :mod:`svdnet.kernels`). Defaults to ``"weight"``.
        data: Calibration inputs, as for :func:`factorize`: energy and budget then
            choose ranks from the layers' output spectra on them. Defaults to ``None``.
        max_examples: Most calibration examples read. Defaults to 2048.
        allocation: How a budget is shared with data, ``"energy"`` or ``"loss"``, as
            for :func:`factorize`. Defaults to ``"energy"``.

    Returns:
        One :class:`LayerPlan` per selected layer, in model order.
    """
    request = _checked_request(model, layers, rank, energy, budget)
    check_conv_scheme(conv_scheme)
    calibrated = calibration(model, data, max_examples=max_examples, allocation=allocation,
                             request=request)
    selected, skipped = select_layers(model, layers, factorizing=True)
    kernels = finite_kernels(selected, conv_scheme=conv_scheme)
    # A rank or per-layer request does not depend on the data: no calibration pass.
    ranks, _, _ = calibrated_ranks(model, selected, kernels, request,
                                   calibrated if request.needs_spectrum else None, conv_scheme)
    return plan_from_ranks(kernel_shapes(kernels), ranks, skipped)


def _checked_request(model, layers, rank, energy, budget):
    """The validated rank request; one rank below a factorized layer's is refused
    (:func:`svdnet.layers.check_factorized_ranks`)."""
    request = rank_request(rank, energy, budget)
    if request.kind == "rank" and layers is None and isinstance(model, keras.Model):
        check_factorized_ranks(model, request.rank)
    return request


def plan_from_ranks(shapes: dict, ranks: dict, skipped: dict | None = None) -> list[LayerPlan]:
    """Turns chosen ranks into a plan: factors where they are smaller, else Dense.

    Args:
        shapes: Layer name to kernel shape ``(m, n)``, in model order.
        ranks: Layer name to chosen rank (layers left out stay Dense).
        skipped: Layer name to the reason it cannot be compressed. Defaults to none.

    Returns:
        One :class:`LayerPlan` per layer of ``shapes``, then one per skipped layer.
    """
    plan = []
    for name, (rows, cols) in shapes.items():
        if name not in ranks:
            plan.append(LayerPlan(name, (rows, cols), None, "not in the per-layer ranks"))
            continue
        k = min(ranks[name], rows, cols)
        if shrinks(rows, cols, k):
            plan.append(LayerPlan(name, (rows, cols), k))
        else:
            plan.append(LayerPlan(name, (rows, cols), None, break_even_text(rows, cols, k)))
    for name, reason in (skipped or {}).items():
        plan.append(LayerPlan(name, (), None, reason))
    return plan


def factorize(
    model: keras.Model,
    rank=None,
    layers=None,
    svd_method: str = DEFAULT_BACKEND,
    seed: int | None = 0,
    verbose: int = 1,
    energy: float | None = None,
    budget: int | None = None,
    return_plan: bool = False,
    conv_scheme: str = "weight",
    data=None,
    sequential: bool = False,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    allocation: str = "energy",
    *,
    method: str | None = None,
):
    """Returns a copy of ``model`` whose selected layers hold rank-k factors.

    Dense layers become :class:`svdnet.LowRankDense`, Conv2D layers
    :class:`svdnet.LowRankConv2D` (a ``kh x kw`` convolution with k filters then a
    ``1 x 1`` one, or with ``conv_scheme="spatial"`` a ``kh x 1`` then a ``1 x kw``
    one, with the strides, padding and dilation carried over), EinsumDense layers
    :class:`svdnet.LowRankEinsumDense`, and a ``MultiHeadAttention`` whose projections
    are selected a :class:`svdnet.LowRankMultiHeadAttention`. Each selected kernel,
    read as a matrix ``W`` (:mod:`svdnet.kernels`), is decomposed by truncated SVD and
    stored as ``U_k sqrt(S_k)`` and ``sqrt(S_k) V_k^T``; bias and activation are kept. The result
    computes exactly what ``model`` computes after projecting those kernels to rank k
    (:func:`svdnet.project`), up to float32 rounding. Layer settings carry over: a
    frozen layer stays frozen, a kernel regularizer applies to the product ``U @ V`` (the
    same penalty on the same kernel), bias regularizers and constraints and activity
    regularizers stay; a layer whose kernel has a constraint stays Dense (factors cannot
    keep it), with the reason in the plan. Layers where factors would not be
    smaller (see :func:`factorization_plan`) stay Dense and are reported. Every other
    layer and weight is copied. Works for Sequential and functional models, nested ones
    included; the copy is compiled like ``model`` when ``model`` was compiled, and can be
    trained further (fine-tuning the factors) and saved with ``model.save``.

    Given calibration ``data`` (a sample of the inputs the model will see, a few
    thousand examples; labels are not needed), the truncation is data-aware: each
    kernel's rank-k factors minimise the error of the layer's *output* on those inputs,
    ``||X (W - W_k)||``, instead of the weight error ``||W - W_k||``
    (:func:`svdnet.whitening.whitened_svd`; the inputs' second moments are accumulated
    batch by batch, :func:`svdnet.calibration.input_covariances`). ``energy`` is then
    the fraction of each layer's output energy kept, and ``budget`` allocates ranks by
    output energy. The model then no longer computes the weight-projected model.

    The ranks come from exactly one of ``rank``, ``energy`` and ``budget``, as for
    :func:`factorization_plan`. The plan (each layer's rank, or why it stays Dense) is
    returned with ``return_plan=True``; the ranks are stored in the model itself (each
    ``LowRankDense``'s ``rank``), so they survive ``save``, ``load_model`` and
    ``clone_model``: :func:`factorized_ranks` reads them back. Quantized and LoRA
    Dense layers stay as they are (see :func:`svdnet.layers.unsupported_reason`).

    Args:
        model: A built Sequential or functional Keras model.
        rank: Target rank k, a positive integer, or a mapping of layer name to rank.
            Defaults to ``None``: rank 20 unless ``energy`` or ``budget`` is given.
        layers: Names of the Dense, Conv2D and EinsumDense layers to factorize, or
            ``None`` for all. Defaults to ``None``.
        svd_method: SVD backend, ``"exact"``, ``"auto"`` or ``"randomized"`` (see
            :func:`svdnet.svd.truncated_svd`). A one-off export takes the optimal
            rank-k kernels (Eckart-Young) by default: under a second per 1024 x 1024
            kernel. Defaults to :data:`svdnet.svd.DEFAULT_BACKEND`, ``"exact"``.
        seed: Seed of the randomized backend. Defaults to 0.
        verbose: 1 prints the layers left Dense and why; 0 is silent. Defaults to 1.
        energy: Per layer, the smallest rank keeping this fraction (``0 < energy <= 1``)
            of the squared singular values. Defaults to ``None``.
        budget: Parameter count of the whole factorized model; ranks keep the most
            spectral energy within it. Defaults to ``None``.
        return_plan: Also return the plan, a list of :class:`LayerPlan`. Defaults to
            ``False``.
        conv_scheme: How a Conv2D kernel is read as a matrix and factorized,
            ``"weight"`` or ``"spatial"``. Defaults to ``"weight"``.
        data: Calibration inputs for a data-aware truncation, or ``None`` for the SVD
            of the weights alone: an array of inputs, a tuple ``(x, y)`` or ``(x, y,
            sample_weight)`` (labels unused), a ``tf.data.Dataset``, a
            ``keras.utils.PyDataset`` or any iterable of batches (see
            :func:`svdnet.calibration.calibration_batches`). Only models with one input.
            Defaults to ``None``.
        sequential: With ``data``, calibrate each layer on the inputs that the layers
            before it produce once truncated (one pass over the data per layer), so
            that a layer makes up for the errors of those before it; ``False`` takes
            every layer's inputs from the uncompressed model in one pass. Ranks are
            chosen on the uncompressed model's inputs either way. Defaults to ``False``.
        max_examples: Most calibration examples read from ``data`` (an endless source
            is cut there). Defaults to 2048.
        allocation: How a ``budget`` is shared among layers with ``data``:
            ``"energy"``, the most output energy kept (no labels needed, no forward
            pass beyond the calibration pass), or ``"loss"``, each layer's ranks judged
            by the model's compiled loss on ``data=(x, y)`` with that layer alone
            truncated (a forward pass per layer and candidate rank;
            :func:`svdnet.sensitivity.loss_ranks`). Defaults to ``"energy"``.
        method: The former name of ``svd_method``, deprecated (a ``DeprecationWarning``).
            Defaults to ``None``.

    Returns:
        A new ``keras.Model`` (``model`` is not changed), or ``(model, plan)`` with
        ``return_plan=True``.

    Raises:
        ValueError: for a bad rank, energy, budget or conv_scheme, more than one of the
            first three, an unknown, ambiguous or unsupported layer name, a model with no
            compressible layer, an unbuilt or subclassed model.
        TypeError: when ``model`` is not a Keras model, or ``layers`` not names.
        NonFiniteWeightsError: when a selected kernel holds NaN or infinite values.
    """
    svd_method = check_choice("svd_method", svd_method_argument(svd_method, method, "factorize"),
                              BACKENDS)
    seed = check_seed(seed)
    verbose = check_int("verbose", verbose, minimum=0, maximum=2)
    check_bool("return_plan", return_plan)
    if not isinstance(model, keras.Model):
        raise TypeError(f"factorize needs a Sequential or functional Keras model; received "
                        f"{model!r} of type {type(model).__name__}.")
    if not is_graph_model(model):
        raise ValueError(
            f"factorize needs a Sequential or functional model; received a subclassed "
            f"{type(model).__name__}. Rebuild it as a functional model first."
        )
    request = _checked_request(model, layers, rank, energy, budget)
    check_conv_scheme(conv_scheme)
    calibrated = calibration(model, data, sequential, max_examples, allocation, request)
    selected, skipped = select_layers(model, layers, factorizing=True)
    parts = decompose(model, selected, request, svd_method=svd_method, seed=seed,
                      only_shrinking=True,
                      conv_scheme=conv_scheme, calibrated=calibrated)
    plan = {item.name: item for item in plan_from_ranks(parts.shapes, parts.ranks, skipped)}
    factors = {key: svd.factors() for key, svd in parts.svds.items()
               if plan[key].rank is not None}
    key_of = {id(layer): key for key, layer in layer_map(model).items()}
    parents = parent_map(model)
    # A MultiHeadAttention is rebuilt with the ranks of its factorized projections.
    attention_ranks = {}
    for key in factors:
        parent = parents.get(id(selected[key]))
        if isinstance(parent, keras.layers.MultiHeadAttention):
            attention_ranks.setdefault(id(parent), {})[selected[key].name] = plan[key].rank

    def clone(layer):
        key = key_of.get(id(layer))
        if key in factors:
            return _low_rank_like(layer, plan[key].rank, conv_scheme)
        if id(layer) in attention_ranks:
            config = layer.get_config()
            ranks = {**config.pop("projection_ranks", {}), **attention_ranks[id(layer)]}
            return LowRankMultiHeadAttention.from_config({**config, "projection_ranks": ranks})
        return _rebuilt(layer)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    for (key, original), new in _pairs(model, copy):
        if key in factors:
            u, v = factors[key]
            # a copy of the bias, not the variable: on JAX the two would share one buffer
            bias = original.bias
            new.assign_factors(u, v, None if bias is None else keras.ops.convert_to_numpy(bias))
        else:
            # A layer's own weights only: those of its sub-layers are copied with them
            # (a custom layer may hold a weight of its own beside a child layer).
            for target, source in zip(own_weights(new), own_weights(original), strict=True):
                target.assign(keras.ops.convert_to_numpy(source))
    compile_config = model.get_compile_config() if model.compiled else None
    if compile_config:
        compile_config["jit_compile"] = resolve_jit_compile(compile_config.get("jit_compile"))
        copy.compile_from_config(compile_config)
    if verbose:
        for item in plan.values():
            if item.rank is None:
                print_msg(f"factorize: layer {item.name!r} stays Dense: {item.reason}.")
    return (copy, list(plan.values())) if return_plan else copy


def _low_rank_like(layer, rank: int, conv_scheme: str):
    """The rank-``rank`` layer that replaces ``layer`` (its settings, not its weights)."""
    config = layer.get_config()
    common = {
        "rank": rank, "activation": config["activation"],
        "kernel_regularizer": config.get("kernel_regularizer"),
        "bias_regularizer": config.get("bias_regularizer"),
        "bias_constraint": config.get("bias_constraint"),
        "activity_regularizer": config.get("activity_regularizer"),
        "name": layer.name, "dtype": config.get("dtype"), "trainable": layer.trainable}
    if isinstance(layer, keras.layers.Conv2D):
        return LowRankConv2D(
            filters=config["filters"], kernel_size=config["kernel_size"], scheme=conv_scheme,
            strides=config["strides"], padding=config["padding"],
            data_format=config["data_format"], dilation_rate=config["dilation_rate"],
            use_bias=config["use_bias"], **common)
    if isinstance(layer, keras.layers.EinsumDense):
        return LowRankEinsumDense(equation=config["equation"],
                                  output_shape=config["output_shape"],
                                  bias_axes=config["bias_axes"], **common)
    return LowRankDense(units=config["units"], use_bias=config["use_bias"], **common)


def _rebuilt(layer):
    """A new layer like ``layer``, from its config; a clear error when it has none."""
    try:
        return layer.__class__.from_config(layer.get_config())
    except Exception as error:  # any failure of user code, re-raised with its cause
        raise ValueError(
            f"factorize rebuilds every layer of the model from its config, and layer "
            f"{layer.name!r} ({type(layer).__name__}) cannot be rebuilt: {error}. Give "
            "it a get_config() whose entries its __init__ accepts (and **kwargs for the "
            "base Layer's arguments), or factorize a model without it.") from error


def own_weights(layer) -> list:
    """The weights ``layer`` holds itself, without those of the layers nested in it."""
    nested = {id(weight) for child in children(layer) for weight in child.weights}
    return [weight for weight in layer.weights if id(weight) not in nested]


def factorized_ranks(model: keras.Model) -> dict:
    """Returns the rank of each low-rank layer (``LowRankDense``, ``LowRankConv2D``,
    ``LowRankEinsumDense``), and ``None`` for each Dense, Conv2D and EinsumDense layer.

    Read from the layers themselves, so it holds for a model returned by
    :func:`factorize` as for the same model saved and loaded again or cloned.

    Args:
        model: A Keras model, nested models included.

    Returns:
        Layer key (see :func:`svdnet.layers.layer_map`) to rank (``None`` for a layer
        that is Dense), in model order.
    """
    return {key: int(layer.rank) if isinstance(layer, LOW_RANK_LAYERS) else None
            for key, layer in layer_map(model).items()
            if isinstance(layer, LOW_RANK_LAYERS + KERNEL_LAYERS)}


def _pairs(model, copy) -> list:
    """Pairs each layer of ``model`` (with its key) with its clone in ``copy``, by position
    in the same depth-first walk: names are not unique across nested models. Layers
    without weights (inputs, or the softmax a MultiHeadAttention names anew when built
    again) need not keep their names."""
    originals, clones = list(layer_map(model).items()), list(layer_map(copy).values())
    if len(originals) != len(clones) or any(
            original.weights and clone.name != original.name
            for (_, original), clone in zip(originals, clones)):
        raise RuntimeError("factorize: the cloned model's layers do not line up with the "
                           f"original's ({[key for key, _ in originals]} against "
                           f"{[clone.name for clone in clones]}); please report this.")
    return list(zip(originals, clones))

