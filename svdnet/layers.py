"""Finding the compressible layers of a Keras model (Dense, Conv2D, EinsumDense; nested
models and the projections inside layers such as ``MultiHeadAttention`` included), and
their keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import keras

from svdnet.kernels import KERNEL_LAYER_NAMES, KERNEL_LAYERS, layer_reason
from svdnet.lowrank import LowRankDense
from svdnet.lowrank_attention import PROJECTIONS
from svdnet.lowrank_conv import LowRankConv2D
from svdnet.lowrank_einsum import LowRankEinsumDense

LOW_RANK_LAYERS = (LowRankDense, LowRankConv2D, LowRankEinsumDense)
"""The layers :func:`svdnet.factorize` builds, each with a ``rank``."""


def children(layer) -> list:
    """The layers directly inside ``layer``: a model's ``layers``, or the sub-layers a
    layer such as ``MultiHeadAttention`` builds for itself."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    if isinstance(layer, keras.layers.Layer):
        return list(layer._flatten_layers(include_self=False, recursive=False))
    return []


def walk_layers(layer) -> Iterable:
    """Yields ``layer`` and, depth first, every layer nested inside it."""
    yield layer
    for child in children(layer):
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
        for child in children(container):
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
        raise ValueError("layers must name at least one layer; received an empty list.")
    return names


def kernel_layer_map(model: keras.Model, names: Iterable[str] | None = None) -> dict:
    """Returns the compressible layers of ``model`` (``Dense``, ``Conv2D`` and
    ``EinsumDense``, see :data:`svdnet.kernels.KERNEL_LAYERS`) by key (see
    :func:`layer_map`).

    Args:
        model: A Keras model (Sequential, functional or subclassed), nested models
            included.
        names: Keys or names of the layers to select (a name shared by layers of
            several sub-models must be given as a path, ``"outer/name"``), or ``None``
            for every such layer. Defaults to ``None``.

    Returns:
        Key to layer, in model order, each layer once.

    Raises:
        ValueError: if the model has no such layer, or a name is unknown, ambiguous or
            not of such a layer.
        TypeError: if ``model`` is not a Keras model or ``names`` not strings.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model; received {model!r} of type "
                        f"{type(model).__name__}.")
    layers = layer_map(model)
    found = {key: layer for key, layer in layers.items() if isinstance(layer, KERNEL_LAYERS)}
    if not found:
        raise ValueError(
            f"Model {model.name!r} has no {KERNEL_LAYER_NAMES} layer to compress; its "
            f"layers are {sorted(layers) or 'none'}."
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
                    f"Unknown layer name {name!r}; the model's {KERNEL_LAYER_NAMES} "
                    f"layers are {list(found)}."
                )
            key = matches[0]
        if not isinstance(layers[key], KERNEL_LAYERS):
            raise ValueError(
                f"Layer {name!r} is a {type(layers[key]).__name__}, which svdnet does not "
                f"compress; the model's {KERNEL_LAYER_NAMES} layers are {list(found)}."
            )
        selected[key] = layers[key]
    return selected


def kernel_layers(model: keras.Model, names: Iterable[str] | None = None) -> list:
    """Returns the compressible layers of ``model`` (Dense, Conv2D, EinsumDense),
    searching nested models and layers too.

    Args:
        model: A Keras model (Sequential, functional or subclassed).
        names: Keys or names of the layers to select, or ``None`` for every such layer
            (see :func:`kernel_layer_map`). Defaults to ``None``.

    Returns:
        The selected layers, in model order, each once.

    Raises:
        ValueError: if the model has no such layer, if a name is unknown or
            ambiguous, or if a named layer is not of such a type.
    """
    return list(kernel_layer_map(model, names).values())


def dense_layers(model: keras.Model, names: Iterable[str] | None = None) -> list:
    """Returns the ``keras.layers.Dense`` layers among :func:`kernel_layers`."""
    return [layer for layer in kernel_layers(model, names)
            if isinstance(layer, keras.layers.Dense)]


def skip_reason(layer, factorizing: bool = False, ancestors=()) -> str | None:
    """Says why svdnet leaves a layer alone, or ``None`` when it compresses it.

    The one rule every selection follows (:func:`select_layers`, hence the callback,
    :func:`svdnet.factorize` and its plan): a Dense, Conv2D or EinsumDense layer is left
    alone when its kernel cannot be compressed (:func:`unsupported_reason`) or, when
    factorizing, cannot be stored as factors (:func:`unfactorizable_reason`); any other
    layer when :func:`other_layer_reason` names it (another kind of convolution, a
    recurrent layer, a layer already stored as factors), and never for a layer without
    such weights.

    Args:
        layer: The layer.
        factorizing: Whether the layer is to be stored as factors (``factorize``), not
            only projected (``SVDProjection``). Defaults to ``False``.
        ancestors: The models and layers that hold it, innermost first, without the
            model itself (:func:`ancestors`); read only when factorizing. Defaults to
            ``()`` (a layer of the model itself).

    Returns:
        The reason, a clause without a final period (``"it is a grouped convolution
        ..."``), or ``None``.
    """
    if not isinstance(layer, KERNEL_LAYERS):
        return other_layer_reason(layer) or None
    reason = unsupported_reason(layer)
    if not reason and factorizing:
        reason = unfactorizable_reason(layer, ancestors)
    return reason or None


def unsupported_reason(layer) -> str:
    """Says why a layer's kernel cannot be projected or factorized (``""`` if it can).

    Keras' ``quantize(...)`` stores integer codes and scales instead of a float kernel,
    and ``enable_lora(rank)`` freezes the kernel and trains a low-rank update beside it;
    neither holds one float matrix that an SVD could replace. A grouped Conv2D and an
    EinsumDense whose equation is not one matrix product have no single kernel matrix
    (:func:`svdnet.kernels.layer_reason`). One part of :func:`skip_reason`.
    """
    mode = getattr(layer, "quantization_mode", None)
    if mode:
        return (f"its kernel is quantized ({mode!r}): it stores integer codes and scales, "
                "not a float matrix; compress the float model, then quantize")
    if getattr(layer, "lora_enabled", False):
        return (f"LoRA is enabled (rank {getattr(layer, 'lora_rank', '?')}): the kernel is "
                "frozen and a low-rank update trains beside it; compress before "
                "enable_lora, or after merging the update into the kernel")
    return layer_reason(layer)


def is_graph_model(model) -> bool:
    """True for a Sequential or functional model (one built from a graph of layers, a
    functional model made through a ``keras.Model`` subclass included): what
    ``keras.models.clone_model`` can rebuild layer by layer."""
    return isinstance(model, keras.Sequential) or any(
        cls.__name__ == "Functional" for cls in type(model).__mro__)


def unfactorizable_reason(layer, ancestors=()) -> str:
    """Says why a layer cannot be stored as rank-k factors although it can be projected
    (``""`` if it can): a kernel constraint, which two factors cannot keep, or a layer
    built inside something ``factorize`` cannot rebuild: a layer other than a model
    (except ``MultiHeadAttention``'s query, key, value and output projections), or a
    subclassed model.

    Args:
        layer: The layer.
        ancestors: The models and layers that hold it, innermost first, without the
            model being factorized. Defaults to ``()`` (a layer of the model itself).

    One part of :func:`skip_reason`.
    """
    constraint = getattr(layer, "kernel_constraint", None)
    if constraint is not None:
        return (f"its kernel has a constraint ({type(constraint).__name__}) that rank-k "
                "factors cannot keep")
    for depth, parent in enumerate(ancestors):
        if isinstance(parent, keras.Model):
            if not is_graph_model(parent):
                return (f"it is inside the subclassed model {parent.name!r} "
                        f"({type(parent).__name__}), which factorize cannot rebuild; "
                        "SVDProjection can still project it")
            continue
        if isinstance(parent, keras.layers.MultiHeadAttention) and depth == 0:
            if layer.name in PROJECTIONS:
                continue
            return (f"it is {parent.name!r}'s {layer.name!r} projection; factorize rebuilds "
                    f"only a MultiHeadAttention's {', '.join(PROJECTIONS)} projections")
        return (f"it is built inside the {type(parent).__name__} layer {parent.name!r}, "
                "which factorize cannot rebuild; SVDProjection can still project it")
    return ""


def ancestors(layer, parents: dict, model) -> list:
    """The models and layers holding ``layer``, innermost first, up to (without)
    ``model``; ``parents`` is :func:`parent_map`'s."""
    chain, parent = [], parents.get(id(layer))
    while parent is not None and parent is not model:
        chain.append(parent)
        parent = parents.get(id(parent))
    return chain


def parent_map(model: keras.Model) -> dict:
    """Returns ``id(layer)`` to the model or layer that holds it, for every nested layer."""
    parents = {}
    for container in walk_layers(model):
        for child in children(container):
            parents.setdefault(id(child), container)
    return parents


def select_layers(model: keras.Model, names: Iterable[str] | None = None,
                  factorizing: bool = False) -> tuple[dict, dict]:
    """Returns the layers to compress and those left alone, with the reason.

    Like :func:`kernel_layer_map`, but layers that svdnet leaves alone (see
    :func:`skip_reason`) are left out when ``names`` is ``None`` and refused when named;
    with ``names=None`` the other convolutions (depthwise, separable, transposed, 1D and
    3D), recurrent layers and layers already stored as factors are listed as left alone
    too.

    Args:
        model: A built Keras model.
        names: Keys or names of the layers to select, or ``None`` for every Dense,
            Conv2D and EinsumDense layer. Defaults to ``None``.
        factorizing: Also leave out layers that cannot become factors (see
            :func:`skip_reason`). Defaults to ``False``.

    Returns:
        ``(selected, skipped)``: key to layer for the layers to compress, in model
        order, and key to the reason a layer is left alone.

    Raises:
        ValueError: for an unbuilt model or layer, a model with no compressible layer,
            an unknown or ambiguous name, a name of another kind of layer, or a named
            layer that cannot be compressed.
        TypeError: when ``model`` is not a Keras model.
    """
    layers = kernel_layer_map(model, names)
    parents = parent_map(model) if factorizing else {}
    unbuilt = [key for key, layer in layers.items() if not layer.built]
    if unbuilt:
        raise ValueError(
            f"Model {model.name!r} is not built: layer(s) {unbuilt} have no kernel yet. "
            "Build it first (call it on data, or model.build(input_shape))."
        )
    selected, skipped = {}, {}
    for key, layer in layers.items():
        reason = skip_reason(layer, factorizing, ancestors(layer, parents, model))
        if reason is None:
            selected[key] = layer
        elif names is not None:
            # "factorized" when the layer could be projected, but not stored as factors
            verb = "factorized" if factorizing and skip_reason(layer) is None else "compressed"
            raise ValueError(f"Layer {key!r} cannot be {verb}: {reason}.")
        else:
            skipped[key] = reason
    if names is None:
        skipped.update({key: reason for key, layer in layer_map(model).items()
                        if not isinstance(layer, KERNEL_LAYERS)
                        and (reason := skip_reason(layer)) is not None})
    return selected, skipped


def other_layer_reason(layer) -> str:
    """Says why a layer with weights that svdnet could be expected to compress is left
    alone (``""`` for any other layer): a convolution of another type than ``Conv2D``, a
    recurrent layer (LSTM, GRU, SimpleRNN), or a layer already stored as factors. One
    part of :func:`skip_reason`."""
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return ("it is a depthwise convolution: one small filter per input channel, no "
                "matrix across channels to factorize")
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        return ("it is a separable convolution, already factorized into a depthwise and a "
                "pointwise convolution")
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv3D, keras.layers.Conv1DTranspose,
                          keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)):
        return f"svdnet factorizes Conv2D kernels, not {type(layer).__name__} ones"
    if isinstance(layer, keras.layers.RNN):
        return (f"it is a recurrent layer ({type(layer).__name__}): its kernels are stacks of "
                "gate matrices used inside the recurrent cell, which svdnet does not factorize")
    if isinstance(layer, LOW_RANK_LAYERS):
        return (f"it is already stored as rank-{layer.rank} factors "
                f"({type(layer).__name__}); svdnet does not factorize factors again")
    return ""


def check_factorized_ranks(model: keras.Model, rank: int) -> None:
    """Refuses one rank for a model whose factorized layers keep a higher one.

    Layers already stored as factors (:data:`LOW_RANK_LAYERS`) are left as they are by
    the callback and ``factorize``; asking for a lower rank than theirs would leave them
    above it without a word.

    Args:
        model: A Keras model.
        rank: The one rank asked for.

    Raises:
        ValueError: naming those layers, their ranks and the rank asked for.
    """
    above = {key: int(layer.rank) for key, layer in layer_map(model).items()
             if isinstance(layer, LOW_RANK_LAYERS) and layer.rank > rank}
    if above:
        raise ValueError(
            f"Layer(s) {above} of model {model.name!r} are already stored as factors of "
            f"a higher rank than the rank {rank} asked for, and svdnet does not factorize "
            f"factors again. Factorize the original (uncompressed) model at rank {rank}, "
            "or name the layers to compress with layers=[...].")
