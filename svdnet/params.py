"""Parameter counts of full and rank-k factorized layers."""

from __future__ import annotations

import keras
import numpy as np

from svdnet.cost import factor_size, shrinks
from svdnet.factorize import factorization_plan
from svdnet.kernels import KernelView
from svdnet.layers import layer_map


def layer_parameters(layer, rank: int | None, conv_scheme: str = "weight") -> dict:
    """Counts one layer's parameters, full and as rank-k factors where smaller.

    Args:
        layer: A built ``Dense``, ``Conv2D`` or ``EinsumDense`` layer.
        rank: Target rank k, or ``None`` for the layer left as it is.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :mod:`svdnet.kernels`). Defaults to ``"weight"``.

    Returns:
        A dict with ``shape`` (the kernel's matrix shape), ``dense`` (kernel + bias),
        ``factorized`` (the smaller of the full and factorized forms, plus bias) and
        ``rank`` (the rank kept, or ``None`` when the layer stays as it is).
    """
    rows, cols = KernelView(layer, conv_scheme).shape
    bias_variable = getattr(layer, "bias", None)
    bias = int(np.prod(bias_variable.shape)) if bias_variable is not None else 0
    dense = rows * cols + bias
    kept = None
    factorized = dense
    if rank is not None and shrinks(rows, cols, min(rank, rows, cols)):
        kept = min(rank, rows, cols)
        factorized = factor_size(rows, cols, kept) + bias
    return {"shape": [rows, cols], "dense": dense, "factorized": factorized, "rank": kept}


def parameter_counts(model: keras.Model, rank=None, layers=None,
                     conv_scheme: str = "weight", energy: float | None = None,
                     budget: int | None = None, data=None,
                     allocation: str = "energy") -> dict:
    """Counts a model's parameters before and after :func:`svdnet.factorize`.

    The count follows :func:`svdnet.factorization_plan`, the plan ``factorize`` carries
    out: the same layer selection, the same ranks and the same break-even rule, so
    ``parameter_counts(model, ...)["factorized"]`` equals
    ``factorize(model, ...).count_params()``. Layers that stay as they are (not
    selected, left alone with a reason, or not shrinking) keep their size.

    Args:
        model: A built Keras model.
        rank: One rank for every selected layer, or a mapping of layer key to rank.
            Defaults to ``None``: rank 20 unless ``energy`` or ``budget`` is given.
        layers: Names of the layers to factorize, or ``None`` for all. Defaults to
            ``None``.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :mod:`svdnet.kernels`). Defaults to ``"weight"``.
        energy: Per layer, the smallest rank keeping this fraction of the squared
            singular values. Defaults to ``None``.
        budget: Parameter count of the whole factorized model. Defaults to ``None``.
        data: Calibration inputs, as for :func:`svdnet.factorize` (energy and budget
            ranks then follow the layers' output spectra). Defaults to ``None``.
        allocation: How a budget is shared with data, as for :func:`svdnet.factorize`.
            Defaults to ``"energy"``.

    Returns:
        A dict with ``dense`` and ``factorized`` totals, their ``ratio``
        (dense / factorized), and ``layers``: per planned layer, the counts of
        :func:`layer_parameters` and the ``reason`` it stays as it is (``""`` when
        factorized; ``shape`` is ``None`` for a layer left alone before any kernel was
        read).
    """
    plan = factorization_plan(model, rank, layers, energy, budget, conv_scheme, data,
                              allocation=allocation)
    found = layer_map(model)
    per_layer = {}
    for item in plan:
        layer = found[item.name]
        if item.shape:
            counts = layer_parameters(layer, item.rank, conv_scheme)
        else:
            size = int(layer.count_params())
            counts = {"shape": None, "dense": size, "factorized": size, "rank": None}
        per_layer[item.name] = {**counts, "reason": item.reason}
    total = int(model.count_params())
    factorized = total - sum(item["dense"] - item["factorized"] for item in per_layer.values())
    return {
        "dense": total,
        "factorized": factorized,
        "ratio": total / factorized,
        "layers": per_layer,
    }
