"""Finding the Dense layers of a Keras model, nested models included, and their keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import keras


def walk_layers(layer) -> Iterable:
    """Yields ``layer`` and, depth first, every layer nested inside it."""
    yield layer
    for child in getattr(layer, "layers", ()) or ():
        yield from walk_layers(child)


def layer_map(model: keras.Model) -> dict:
    """Returns every layer nested in ``model`` (depth first, each object once) by its key.

    A layer's key is its name when no other layer of the model has that name, else its
    path through the nested models, ``"outer/inner/name"``: Keras makes names unique
    within one model, not across nested models, so two sub-models may each hold a
    ``"hidden"``. Keys are what svdnet's logs, rank mappings, plans and results use.

    Args:
        model: A Keras model.
    """
    entries, seen = [], set()

    def visit(container, prefix):
        for child in getattr(container, "layers", ()) or ():
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = prefix + child.name
            entries.append((path, child))
            visit(child, path + "/")

    visit(model, "")
    counts = Counter(layer.name for _, layer in entries)
    return {(layer.name if counts[layer.name] == 1 else path): layer for path, layer in entries}


def check_layer_names(names) -> list[str]:
    """Checks a ``layers`` argument: one name, or a non-empty list of names (strings)."""
    if isinstance(names, str):
        return [names]
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"layers must be a layer name or a list of names; received {names!r} "
                        f"of type {type(names).__name__}.") from None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"layers must name layers with strings; received {name!r} of "
                            f"type {type(name).__name__} in {names!r}.")
    if not names:
        raise ValueError("layers must name at least one Dense layer; received an empty list.")
    return names


def dense_layer_map(model: keras.Model, names: Iterable[str] | None = None) -> dict:
    """Returns the Dense layers of ``model`` by key (see :func:`layer_map`).

    Args:
        model: A Keras model (Sequential, functional or subclassed), nested models
            included.
        names: Keys or names of the layers to select (a name shared by layers of
            several sub-models must be given as a path, ``"outer/name"``), or ``None``
            for every Dense layer. Defaults to ``None``.

    Returns:
        Key to ``keras.layers.Dense`` layer, in model order, each layer once.

    Raises:
        ValueError: if the model has no Dense layer, or a name is unknown, ambiguous or
            not Dense.
        TypeError: if ``model`` is not a Keras model or ``names`` not strings.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model; received {model!r} of type "
                        f"{type(model).__name__}.")
    layers = layer_map(model)
    found = {key: layer for key, layer in layers.items() if isinstance(layer, keras.layers.Dense)}
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no Dense layer to compress; its layers are "
            f"{sorted(layers) or 'none'}."
        )
    if names is None:
        return found
    selected = {}
    for name in check_layer_names(names):
        key = name
        if name not in layers:
            matches = [k for k, layer in layers.items() if layer.name == name]
            if len(matches) > 1:
                raise ValueError(f"Layer name {name!r} is ambiguous: layers {matches} of "
                                 "nested models share it; give one of those paths.")
            if not matches:
                raise ValueError(
                    f"Unknown layer name {name!r}; the model's Dense layers are {list(found)}."
                )
            key = matches[0]
        if not isinstance(layers[key], keras.layers.Dense):
            raise ValueError(
                f"Layer {name!r} is a {type(layers[key]).__name__}, not Dense; the "
                f"model's Dense layers are {list(found)}."
            )
        selected[key] = layers[key]
    return selected


def dense_layers(model: keras.Model, names: Iterable[str] | None = None) -> list:
    """Returns the Dense layers of ``model``, searching nested models too.

    Args:
        model: A Keras model (Sequential, functional or subclassed).
        names: Keys or names of the layers to select, or ``None`` for every Dense layer
            (see :func:`dense_layer_map`). Defaults to ``None``.

    Returns:
        The selected ``keras.layers.Dense`` layers, in model order, each once.

    Raises:
        ValueError: if the model has no Dense layer, if a name is unknown or
            ambiguous, or if a named layer is not Dense.
    """
    return list(dense_layer_map(model, names).values())


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


def unfactorisable_reason(layer) -> str:
    """Says why a Dense layer cannot be stored as rank-k factors although it can be
    projected (``""`` if it can): a kernel constraint, which two factors cannot keep."""
    constraint = getattr(layer, "kernel_constraint", None)
    if constraint is None:
        return ""
    return (f"its kernel has a constraint ({type(constraint).__name__}) that rank-k factors "
            "cannot keep")


def select_layers(model: keras.Model, names: Iterable[str] | None = None,
                  factorising: bool = False) -> tuple[dict, dict]:
    """Returns the Dense layers to compress and those left alone, with the reason.

    Like :func:`dense_layer_map`, but layers whose kernel cannot be compressed (see
    :func:`unsupported_reason`) are left out when ``names`` is ``None`` and refused when
    named.

    Args:
        model: A built Keras model.
        names: Keys or names of the layers to select, or ``None`` for every Dense layer.
            Defaults to ``None``.
        factorising: Also leave out layers that cannot become factors (see
            :func:`unfactorisable_reason`). Defaults to ``False``.

    Returns:
        ``(selected, skipped)``: key to layer for the layers to compress, in model
        order, and key to the reason a layer is left alone.

    Raises:
        ValueError: for an unbuilt model or layer, a model with no Dense layer, an
            unknown, ambiguous or non-Dense name, or a named layer that cannot be
            compressed.
        TypeError: when ``model`` is not a Keras model.
    """
    layers = dense_layer_map(model, names)
    unbuilt = [key for key, layer in layers.items() if not layer.built]
    if unbuilt:
        raise ValueError(
            f"Model {model.name!r} is not built: layer(s) {unbuilt} have no kernel yet. "
            "Build it first (call it on data, or model.build(input_shape))."
        )
    selected, skipped = {}, {}
    for key, layer in layers.items():
        reason, verb = unsupported_reason(layer), "compressed"
        if not reason and factorising:
            reason, verb = unfactorisable_reason(layer), "factorised"
        if not reason:
            selected[key] = layer
        elif names is not None:
            raise ValueError(f"Layer {key!r} cannot be {verb}: {reason}.")
        else:
            skipped[key] = reason
    return selected, skipped
