"""Comparing two models' sizes: parameters, bytes on disk and multiply-accumulates."""

from __future__ import annotations

import math
import os
import tempfile

import keras
import numpy as np

from svdnet.cost import factor_size
from svdnet.kernels import KERNEL_LAYERS, KernelView
from svdnet.layers import LOW_RANK_LAYERS, layer_map
from svdnet.lowrank_conv import LowRankConv2D
from svdnet.lowrank_einsum import LowRankEinsumDense

MAC_LAYERS = KERNEL_LAYERS + LOW_RANK_LAYERS


def layer_macs(model: keras.Model, example=None) -> dict:
    """Multiply-accumulates one example costs in each kernel layer, by key.

    Counted for ``Dense``, ``Conv2D`` and ``EinsumDense`` layers and their low-rank
    forms, nested ones (attention projections) included, from the shapes one forward
    pass sees: a Dense or EinsumDense ``m x n`` kernel matrix costs ``m * n`` per
    position it is applied at (one per example in an MLP, one per token in a
    transformer), a Conv2D one per output pixel; rank-k factors cost ``k * (m + n)`` per
    position (the spatial scheme's first convolution runs at the input's full width).
    Biases, activations, normalisation, pooling and the attention scores themselves
    are not counted.

    Args:
        model: A built Keras model.
        example: One input batch to run, or ``None`` for zeros shaped like the model's
            single input, one example. Defaults to ``None``.

    Returns:
        Layer key (see :func:`svdnet.layers.layer_map`) to MACs per example, in model
        order.

    Raises:
        ValueError: when ``example`` is ``None`` and the model has several inputs or an
            input of unknown size.
    """
    shapes = _layer_shapes(model, _example(model) if example is None else example)
    layers = layer_map(model)
    return {key: _macs(layers[key], inputs, outputs) // max(inputs[0], 1)
            for key, (inputs, outputs) in shapes.items()}


def layer_costs(model: keras.Model, example=None) -> dict:
    """Per kernel layer: its type, rank (``None`` when full), parameters and MACs per
    example (:func:`layer_macs`, same arguments), by key, in model order."""
    layers = layer_map(model)
    return {
        key: {"type": type(layers[key]).__name__,
              "rank": int(layers[key].rank) if isinstance(layers[key], LOW_RANK_LAYERS) else None,
              "parameters": int(layers[key].count_params()), "macs": macs}
        for key, macs in layer_macs(model, example).items()
    }


def macs_per_example(model: keras.Model, example=None) -> int:
    """Multiply-accumulates one example costs in the model's kernel layers: the sum of
    :func:`layer_macs` (same arguments)."""
    return int(sum(layer_macs(model, example).values()))


def _example(model):
    if len(model.inputs) != 1 or any(size is None for size in model.inputs[0].shape[1:]):
        raise ValueError(
            f"Counting MACs needs an example input for model {model.name!r}: its inputs "
            f"are {[tuple(tensor.shape) for tensor in model.inputs]}; pass example=.")
    tensor = model.inputs[0]
    return np.zeros((1, *tensor.shape[1:]), dtype=keras.backend.standardize_dtype(tensor.dtype))


def _layer_shapes(model, example) -> dict:
    """Runs ``model`` on ``example`` once, recording each kernel layer's input and output
    shapes (its ``call`` wrapped for the pass)."""
    shapes, layers = {}, {key: layer for key, layer in layer_map(model).items()
                          if isinstance(layer, MAC_LAYERS)}
    for key, layer in layers.items():
        def recording(inputs, *args, _key=key, _call=layer.call, **kwargs):
            outputs = _call(inputs, *args, **kwargs)
            shapes[_key] = (tuple(int(size) for size in inputs.shape),
                            tuple(int(size) for size in outputs.shape))
            return outputs
        object.__setattr__(layer, "call", recording)
    try:
        model(example, training=False)
    finally:
        for layer in layers.values():
            object.__delattr__(layer, "call")
    return {key: shapes[key] for key in layers if key in shapes}


def _macs(layer, inputs: tuple, outputs: tuple) -> int:
    """MACs of one call of ``layer`` on a batch (see :func:`layer_macs`)."""
    if isinstance(layer, LowRankConv2D):
        kh, kw = layer.kernel_size
        c_in = int(layer.u.shape[2])
        out_positions = math.prod(outputs) // layer.filters
        if layer.scheme == "weight":
            return out_positions * factor_size(kh * kw * c_in, layer.filters, layer.rank)
        channels_last = layer.data_format == "channels_last"
        height, in_width = (outputs[1], inputs[2]) if channels_last else (outputs[2], inputs[3])
        first = inputs[0] * height * in_width * kh * c_in * layer.rank
        return first + out_positions * kw * layer.rank * layer.filters
    if isinstance(layer, LOW_RANK_LAYERS):
        rows, cols = (layer.matrix_shape if isinstance(layer, LowRankEinsumDense)
                      else (int(layer.u.shape[0]), int(layer.v.shape[1])))
        return math.prod(outputs) // cols * factor_size(rows, cols, layer.rank)
    rows, cols = KernelView(layer).shape
    return math.prod(outputs) // cols * rows * cols


def keras_file_bytes(model: keras.Model) -> int:
    """Size in bytes of ``model`` saved as a ``.keras`` file for inference.

    The model is saved uncompiled (weights and architecture, no optimizer state), so a
    trained model and a freshly factorized one are measured alike.
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
