"""Parameter counts of dense and rank-k factorised layers."""

from __future__ import annotations

import keras

from svdnet.cost import factor_size, shrinks
from svdnet.layers import dense_layer_map
from svdnet.validation import check_rank


def layer_parameters(layer, rank: int | None) -> dict:
    """Counts one Dense layer's parameters, dense and as rank-k factors where smaller.

    Args:
        layer: A built ``keras.layers.Dense``.
        rank: Target rank k, or ``None`` for the layer left dense.

    Returns:
        A dict with ``shape``, ``dense`` (kernel + bias), ``factorised`` (the smaller of
        the dense and factorised forms, plus bias) and ``rank`` (the rank kept, or
        ``None`` when the layer stays dense).
    """
    rows, cols = (int(size) for size in layer.kernel.shape)
    bias = int(layer.bias.shape[0]) if getattr(layer, "bias", None) is not None else 0
    dense = rows * cols + bias
    kept = None
    factorised = dense
    if rank is not None and shrinks(rows, cols, min(rank, rows, cols)):
        kept = min(rank, rows, cols)
        factorised = factor_size(rows, cols, kept) + bias
    return {"shape": [rows, cols], "dense": dense, "factorised": factorised, "rank": kept}


def parameter_counts(model: keras.Model, rank: int, layers=None) -> dict:
    """Counts a model's parameters before and after rank-k factorisation.

    Layers that are not selected, not Dense, or that would not shrink keep their size.

    Args:
        model: A built Keras model.
        rank: Target rank k.
        layers: Names of the Dense layers to factorise, or ``None`` for all. Defaults to
            ``None``.

    Returns:
        A dict with ``dense`` and ``factorised`` totals, their ``ratio``
        (dense / factorised), and ``layers``: per-layer counts from
        :func:`layer_parameters`.
    """
    rank = check_rank(rank)
    total = int(model.count_params())
    per_layer = {
        key: layer_parameters(layer, rank) for key, layer in dense_layer_map(model, layers).items()
    }
    saved = sum(item["dense"] - item["factorised"] for item in per_layer.values())
    factorised = total - saved
    return {
        "dense": total,
        "factorised": factorised,
        "ratio": total / factorised,
        "layers": per_layer,
    }
