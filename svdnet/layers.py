"""Finding the Dense layers of a Keras model, nested models included."""

from __future__ import annotations

from collections.abc import Iterable

import keras


def walk_layers(layer) -> Iterable:
    """Yields ``layer`` and, depth first, every layer nested inside it."""
    yield layer
    for child in getattr(layer, "layers", ()) or ():
        yield from walk_layers(child)


def dense_layers(model: keras.Model, names: Iterable[str] | None = None) -> list:
    """Returns the Dense layers of ``model``, searching nested models too.

    Args:
        model: A Keras model (Sequential, functional or subclassed).
        names: Names of the layers to select, or ``None`` for every Dense layer.
            Defaults to ``None``.

    Returns:
        The selected ``keras.layers.Dense`` layers, in model order, each once.

    Raises:
        ValueError: if the model has no Dense layer, if a name is unknown, or if a
            named layer is not Dense.
    """
    found, seen = [], set()
    by_name = {}
    for layer in walk_layers(model):
        if id(layer) in seen or layer is model:
            continue
        seen.add(id(layer))
        by_name.setdefault(layer.name, layer)
        if isinstance(layer, keras.layers.Dense):
            found.append(layer)
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no Dense layer to compress; its layers are "
            f"{sorted(by_name) or 'none'}."
        )
    if names is None:
        return found
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("layers must name at least one Dense layer; received an empty list.")
    dense_names = [layer.name for layer in found]
    selected = []
    for name in names:
        if name not in by_name:
            raise ValueError(
                f"Unknown layer name {name!r}; the model's Dense layers are {dense_names}."
            )
        if not isinstance(by_name[name], keras.layers.Dense):
            raise ValueError(
                f"Layer {name!r} is a {type(by_name[name]).__name__}, not Dense; the "
                f"model's Dense layers are {dense_names}."
            )
        if by_name[name] not in selected:
            selected.append(by_name[name])
    return selected


def unsupported_reason(layer) -> str:
    """Says why a Dense layer's kernel cannot be projected or factorised (``""`` if it can).

    Keras' ``Dense.quantize(...)`` stores integer codes and scales instead of a float
    kernel, and ``Dense.enable_lora(rank)`` freezes the kernel and trains a low-rank
    update beside it; neither holds one float matrix that an SVD could replace.
    """
    mode = getattr(layer, "quantization_mode", None)
    if mode:
        return (f"its kernel is quantized ({mode!r}): it stores integer codes and scales, "
                "not a float matrix; compress the float model, then quantize")
    if getattr(layer, "lora_enabled", False):
        return (f"LoRA is enabled (rank {getattr(layer, 'lora_rank', '?')}): the kernel is "
                "frozen and a low-rank update trains beside it; compress before "
                "enable_lora, or after merging the update into the kernel")
    return ""


def select_layers(model: keras.Model, names: Iterable[str] | None = None) -> tuple[list, dict]:
    """Returns the Dense layers to compress and those left alone, with the reason.

    Like :func:`dense_layers`, but layers whose kernel cannot be compressed (see
    :func:`unsupported_reason`) are left out when ``names`` is ``None`` and refused when
    named.

    Args:
        model: A built Keras model.
        names: Names of the layers to select, or ``None`` for every Dense layer.
            Defaults to ``None``.

    Returns:
        ``(selected, skipped)``: the layers to compress, in model order, and a mapping
        of layer name to the reason it is left alone.

    Raises:
        ValueError: for an unbuilt model or layer, a model with no Dense layer, an
            unknown or non-Dense name, or a named layer that cannot be compressed.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model; received {model!r} of type "
                        f"{type(model).__name__}.")
    layers = dense_layers(model, names)
    unbuilt = [layer.name for layer in layers if not layer.built]
    if unbuilt:
        raise ValueError(
            f"Model {model.name!r} is not built: layer(s) {unbuilt} have no kernel yet. "
            "Build it first (call it on data, or model.build(input_shape))."
        )
    selected, skipped = [], {}
    for layer in layers:
        reason = unsupported_reason(layer)
        if not reason:
            selected.append(layer)
        elif names is not None:
            raise ValueError(f"Layer {layer.name!r} cannot be compressed: {reason}.")
        else:
            skipped[layer.name] = reason
    return selected, skipped
