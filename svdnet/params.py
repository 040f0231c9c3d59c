"""Parameter counts of full and rank-k factorised layers."""

from __future__ import annotations

import keras
import numpy as np

from svdnet.cost import factor_size, shrinks
from svdnet.kernels import KernelView, check_conv_scheme
from svdnet.layers import kernel_layer_map
from svdnet.validation import check_rank


def layer_parameters(layer, rank: int | None, conv_scheme: str = "weight") -> dict:
    """Counts one layer's parameters, full and as rank-k factors where smaller.

    Args:
        layer: A built ``Dense``, ``Conv2D`` or ``EinsumDense`` layer.
        rank: Target rank k, or ``None`` for the layer left as it is.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :mod:`svdnet.kernels`). Defaults to ``"weight"``.

    Returns:
        A dict with ``shape`` (the kernel's matrix shape), ``dense`` (kernel + bias),
        ``factorised`` (the smaller of the full and factorised forms, plus bias) and
        ``rank`` (the rank kept, or ``None`` when the layer stays as it is).
    """
    rows, cols = KernelView(layer, conv_scheme).shape
    bias_variable = getattr(layer, "bias", None)
    bias = int(np.prod(bias_variable.shape)) if bias_variable is not None else 0
    dense = rows * cols + bias
    kept = None
    factorised = dense
    if rank is not None and shrinks(rows, cols, min(rank, rows, cols)):
        kept = min(rank, rows, cols)
        factorised = factor_size(rows, cols, kept) + bias
    return {"shape": [rows, cols], "dense": dense, "factorised": factorised, "rank": kept}


def parameter_counts(model: keras.Model, rank: int, layers=None,
                     conv_scheme: str = "weight") -> dict:
    """Counts a model's parameters before and after rank-k factorisation.

    Layers that are not selected, not Dense, Conv2D or EinsumDense, or that would not
    shrink keep their size.

    Args:
        model: A built Keras model.
        rank: Target rank k.
        layers: Names of the layers to factorise, or ``None`` for all. Defaults to
            ``None``.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :mod:`svdnet.kernels`). Defaults to ``"weight"``.

    Returns:
        A dict with ``dense`` and ``factorised`` totals, their ``ratio``
        (dense / factorised), and ``layers``: per-layer counts from
        :func:`layer_parameters`.
    """
    rank = check_rank(rank)
    check_conv_scheme(conv_scheme)
    total = int(model.count_params())
    per_layer = {
        key: layer_parameters(layer, rank, conv_scheme)
        for key, layer in kernel_layer_map(model, layers).items()
    }
    saved = sum(item["dense"] - item["factorised"] for item in per_layer.values())
    factorised = total - saved
    return {
        "dense": total,
        "factorised": factorised,
        "ratio": total / factorised,
        "layers": per_layer,
    }
