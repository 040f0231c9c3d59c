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
