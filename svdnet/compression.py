"""Comparing two models' sizes: parameters, bytes on disk and multiply-accumulates."""

from __future__ import annotations

import os
import tempfile

import keras

from svdnet.cost import factor_size
from svdnet.layers import walk_layers
from svdnet.lowrank import LowRankDense


def macs_per_example(model: keras.Model) -> int:
    """Multiply-accumulates one example costs in the model's Dense and LowRankDense layers.

    A Dense ``m x n`` kernel costs ``m * n``; a ``LowRankDense`` of rank k costs
    ``k * (m + n)``. Biases, activations and other layer types are not counted (they are
    negligible in an MLP).
    """
    total = 0
    for layer in walk_layers(model):
        if isinstance(layer, LowRankDense):
            total += factor_size(int(layer.u.shape[0]), int(layer.v.shape[1]), int(layer.rank))
        elif isinstance(layer, keras.layers.Dense):
            rows, cols = layer.kernel.shape
            total += int(rows) * int(cols)
    return total


def keras_file_bytes(model: keras.Model) -> int:
    """Size in bytes of ``model`` saved as a ``.keras`` file for inference.

    The model is saved uncompiled (weights and architecture, no optimizer state), so a
    trained model and a freshly factorised one are measured alike.
    """
    # from_config builds an uncompiled copy (clone_model would compile it and save the
    # optimizer's slots too, tripling a trained model's file).
    inference = model.__class__.from_config(model.get_config())
    inference.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        inference.save(path)
        return os.path.getsize(path)


def compression_summary(reference: keras.Model, compressed: keras.Model) -> dict:
    """Compares two models: parameters, ``.keras`` bytes and MACs per example.

    Args:
        reference: The uncompressed model.
        compressed: The compressed model (for example from :func:`svdnet.factorize`).

    Returns:
        ``{"reference": {...}, "compressed": {...}, "ratio": {...}}`` where each side holds
        ``parameters``, ``keras_bytes`` and ``macs_per_example``, and ``ratio`` is
        reference / compressed for each.
    """
    sides = {}
    for label, model in (("reference", reference), ("compressed", compressed)):
        sides[label] = {
            "parameters": int(model.count_params()),
            "keras_bytes": keras_file_bytes(model),
            "macs_per_example": macs_per_example(model),
        }
    sides["ratio"] = {
        key: sides["reference"][key] / sides["compressed"][key] for key in sides["reference"]
    }
    return sides
