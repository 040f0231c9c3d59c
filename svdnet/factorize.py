"""Exporting a trained model with its Dense kernels stored as rank-k factors."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from svdnet.callback import NonFiniteWeightsError
from svdnet.layers import dense_layers, walk_layers
from svdnet.lowrank import LowRankDense
from svdnet.model import resolve_jit_compile
from svdnet.params import factorisation_shrinks
from svdnet.rank_selection import choose_ranks, rank_request
from svdnet.svd import BACKENDS, singular_values, truncated_svd
from svdnet.validation import check_choice


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What :func:`factorize` does with one selected Dense layer.

    Attributes:
        name: Layer name.
        shape: Kernel shape ``(m, n)``.
        rank: Rank of the factors, or ``None`` when the layer stays Dense.
        reason: Why it stays Dense (``""`` when factorised).
    """

    name: str
    shape: tuple
    rank: int | None
    reason: str = ""


def factorization_plan(model: keras.Model, rank=None, layers=None, energy=None,
                       budget=None) -> list[LayerPlan]:
    """Decides, per selected Dense layer, the rank of its factors or that it stays Dense.

    The ranks come from exactly one of ``rank``, ``energy`` or ``budget`` (see
    :func:`svdnet.rank_selection.rank_request`; energy and budget take each kernel's
    exact SVD). A layer is factorised only when ``k * (m + n) < m * n`` with
    ``k = min(rank, m, n)``; at or above that break-even rank the two factors would
    hold more numbers than the kernel, so the layer stays Dense.

    Args:
        model: A built Keras model.
        rank: One rank for every selected layer, or a mapping of layer name to rank
            (layers left out stay Dense). Defaults to ``None``: rank 20 unless
            ``energy`` or ``budget`` is given.
        layers: Names of the Dense layers to consider, or ``None`` for all. Defaults to
            ``None``.
        energy: Per layer, keep the smallest rank with this fraction of the squared
            singular values. Defaults to ``None``.
        budget: Parameter count of the whole factorised model. Defaults to ``None``.

    Returns:
        One :class:`LayerPlan` per selected layer, in model order.
    """
    request = rank_request(rank, energy, budget)
    selected = dense_layers(model, layers)
    spectra = None
    if request.needs_spectrum:
        spectra = {layer.name: singular_values(keras.ops.convert_to_numpy(layer.kernel))
                   for layer in selected}
    return _plan(model, selected, request, spectra)


def _plan(model, selected, request, spectra) -> list[LayerPlan]:
    shapes = {layer.name: tuple(int(size) for size in layer.kernel.shape) for layer in selected}
    fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
    ranks = choose_ranks(request, shapes, spectra, fixed)
    plan = []
    for name, (rows, cols) in shapes.items():
        if name not in ranks:
            plan.append(LayerPlan(name, (rows, cols), None, "not in the per-layer ranks"))
            continue
        k = min(ranks[name], rows, cols)
        if factorisation_shrinks(rows, cols, k):
            plan.append(LayerPlan(name, (rows, cols), k))
        else:
            plan.append(LayerPlan(
                name, (rows, cols), None,
                f"rank {k} factors would hold {k * (rows + cols):,} numbers, not fewer than "
                f"the {rows * cols:,} of the {rows}x{cols} kernel (break-even rank "
                f"{rows * cols / (rows + cols):.1f})",
            ))
    return plan


def factorize(
    model: keras.Model,
    rank=None,
    layers=None,
    method: str = "exact",
    seed: int | None = 0,
    verbose: int = 1,
    energy: float | None = None,
    budget: int | None = None,
) -> keras.Model:
    """Returns a copy of ``model`` whose selected Dense layers are rank-k ``LowRankDense``.

    Each selected kernel ``W`` is decomposed by truncated SVD and stored as
    ``U_k sqrt(S_k)`` and ``sqrt(S_k) V_k^T``; bias and activation are kept. The result
    computes exactly what ``model`` computes after projecting those kernels to rank k
    (:func:`svdnet.project`), up to float32 rounding. Layers where factors would not be
    smaller (see :func:`factorization_plan`) stay Dense and are reported. Every other
    layer and weight is copied. Works for Sequential and functional models, nested ones
    included; the copy is compiled like ``model`` when ``model`` was compiled, and can be
    trained further (fine-tuning the factors) and saved with ``model.save``.

    The ranks come from exactly one of ``rank``, ``energy`` and ``budget``, as for
    :func:`factorization_plan`; :attr:`LayerPlan.rank` of each layer is in the
    returned model's ``svdnet_plan`` attribute.

    Args:
        model: A built Sequential or functional Keras model.
        rank: Target rank k, a positive integer, or a mapping of layer name to rank.
            Defaults to ``None``: rank 20 unless ``energy`` or ``budget`` is given.
        layers: Names of the Dense layers to factorise, or ``None`` for all. Defaults to
            ``None``.
        method: SVD backend, ``"exact"``, ``"randomized"`` or ``"auto"``. Defaults to
            ``"exact"``.
        seed: Seed of the randomized backend. Defaults to 0.
        verbose: 1 prints the layers left Dense and why; 0 is silent. Defaults to 1.
        energy: Per layer, the smallest rank keeping this fraction (``0 < energy <= 1``)
            of the squared singular values. Defaults to ``None``.
        budget: Parameter count of the whole factorised model; ranks keep the most
            spectral energy within it. Defaults to ``None``.

    Returns:
        A new ``keras.Model``; ``model`` is not changed.

    Raises:
        ValueError: for a bad rank, energy or budget, more than one of them, an unknown
            or non-Dense layer name, or a model with no Dense layer.
        NonFiniteWeightsError: when a selected kernel holds NaN or infinite values.
    """
    check_choice("method", method, BACKENDS)
    if not isinstance(model, (keras.Sequential, keras.Model)) or not _is_graph_model(model):
        raise ValueError(
            f"factorize needs a Sequential or functional model; received a subclassed "
            f"{type(model).__name__}. Rebuild it as a functional model first."
        )
    request = rank_request(rank, energy, budget)
    selected = dense_layers(model, layers)
    for layer in selected:
        if not np.all(np.isfinite(keras.ops.convert_to_numpy(layer.kernel))):
            raise NonFiniteWeightsError(
                f"Layer {layer.name!r} has NaN or infinite kernel weights; cannot factorise "
                "it. Training diverged: lower the learning rate or check the input data."
            )
    full = {}
    if request.needs_spectrum:
        full = {layer.name: truncated_svd(keras.ops.convert_to_numpy(layer.kernel),
                                          min(layer.kernel.shape), "exact")
                for layer in selected}
    plan = {item.name: item for item in _plan(
        model, selected, request, {name: svd.s for name, svd in full.items()} or None)}
    factors = {}
    for layer in selected:
        item = plan[layer.name]
        if item.rank is None:
            continue
        if layer.name in full:
            svd = full[layer.name].truncate(item.rank)
        else:
            svd = truncated_svd(keras.ops.convert_to_numpy(layer.kernel), item.rank,
                                method=method, seed=seed)
        factors[layer.name] = svd.factors()

    def clone(layer):
        if layer.name in factors:
            config = layer.get_config()
            return LowRankDense(
                units=config["units"], rank=plan[layer.name].rank,
                activation=config["activation"], use_bias=config["use_bias"],
                name=layer.name, dtype=config.get("dtype"),
            )
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    originals = _layers_by_name(model)
    for name, new in _layers_by_name(copy).items():
        if name in factors:
            u, v = factors[name]
            weights = [u, v] + ([originals[name].bias] if originals[name].use_bias else [])
            new.set_weights([keras.ops.convert_to_numpy(w).astype(new.u.dtype) for w in weights])
        elif name in originals and not getattr(new, "layers", None):
            new.set_weights(originals[name].get_weights())
    compile_config = model.get_compile_config() if model.compiled else None
    if compile_config:
        compile_config["jit_compile"] = resolve_jit_compile(compile_config.get("jit_compile"))
        copy.compile_from_config(compile_config)
    copy.svdnet_plan = list(plan.values())
    if verbose:
        for item in plan.values():
            if item.rank is None:
                print(f"factorize: layer {item.name!r} stays Dense: {item.reason}.")
    return copy


def _is_graph_model(model) -> bool:
    return isinstance(model, keras.Sequential) or model.__class__.__name__ == "Functional"


def _layers_by_name(model) -> dict:
    found = {}
    for layer in walk_layers(model):
        if layer is not model:
            found.setdefault(layer.name, layer)
    return found
