"""Calibration: the second moments of each compressible layer's inputs, streamed over data.

A data-aware SVD (:func:`svdnet.whitening.whitened_svd`) needs, for each layer, the
``m x m`` matrix ``C = X^T X`` of the input vectors ``x`` that multiply its kernel matrix
``W`` (``y = x^T W``, :mod:`svdnet.kernels`). :func:`input_covariances` runs the model
on calibration data batch by batch, catches what each selected layer receives, turns it
into those vectors (:func:`input_rows`) and adds ``X^T X`` of the batch to a float64 sum:
memory stays at one ``m x m`` matrix per layer and one batch of activations, whatever
the amount of data.

The input vectors of each layer type, row by row, in the order of its kernel matrix's
rows:

- ``Dense``: the input's last axis (every token of a sequence is a row).
- ``Conv2D``, ``"weight"`` scheme: the ``kh * kw * c_in`` input patch of every output
  position, ``(i, j, c)`` flattened in that order, with the layer's strides, padding,
  dilation and data format; ``X @ W`` is the layer's output before the bias.
- ``Conv2D``, ``"spatial"`` scheme: the ``kh x 1`` vertical patch (``kh * c_in``, ``(i,
  c)``) that the first ``kh x 1`` convolution of :class:`svdnet.LowRankConv2D` computes
  (vertical stride, dilation and padding), at every input column that the second ``1 x
  kw`` convolution reads (all of them unless the horizontal stride skips some). The
  layer's output sums ``kw`` horizontally shifted slices of ``X @ W``, so
  ``||X (W - W_k)||`` is the error of that intermediate product: the output error
  exactly when ``kw == 1``, a proxy that leaves out the cross terms between the ``kw``
  shifts otherwise.
- ``EinsumDense``: the input's contracted axes, flattened in the kernel's order of them
  (:class:`svdnet.kernels.EinsumSplit`); input axes that appear neither in the kernel
  nor in the output are summed first, as the equation does.

A layer called several times in one forward pass (shared) adds every call's inputs.

How the inputs are caught: for the forward pass only, each selected layer's ``call`` is
wrapped by an instance attribute that records its first argument, and restored
afterwards (even on error). This works on every backend, for layers nested in models and
for the projections that ``MultiHeadAttention`` calls inside its own ``call``; the model
runs eagerly, ``model(x, training=False)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import math
import warnings

import keras
import numpy as np

from svdnet.kernels import (
    KERNEL_LAYER_NAMES,
    KERNEL_LAYERS,
    KernelView,
    check_conv_scheme,
    einsum_split,
    layer_reason,
)
from svdnet.validation import check_int

DEFAULT_MAX_EXAMPLES = 2048
"""Default cap on the examples read from the calibration data."""

DEFAULT_BATCH_SIZE = 256
"""Default batch size for calibration data given as one array."""

_BLOCK_ELEMENTS = 1 << 22
"""Input vectors are turned to float64 and multiplied in blocks of at most about this
many numbers (32 MiB), so a convolution's patches never exist for a whole batch."""


@dataclasses.dataclass(frozen=True)
class Covariance:
    """The second moments of one layer's input vectors.

    Attributes:
        matrix: ``X^T X``, the ``m x m`` float64 sum of ``x x^T`` over every input
            vector ``x`` the layer received (a sum, not a mean: :attr:`mean` divides).
        examples: Number of examples of calibration data the model ran on.
        rows: Number of input vectors summed, ``examples`` times the vectors per
            example (output positions of a convolution, tokens of a sequence).
    """

    matrix: np.ndarray
    examples: int
    rows: int

    @property
    def width(self) -> int:
        """The input width ``m`` (rows of the layer's kernel matrix)."""
        return int(self.matrix.shape[0])

    @property
    def mean(self) -> np.ndarray:
        """``E[x x^T]``: :attr:`matrix` divided by :attr:`rows`."""
        return self.matrix / max(self.rows, 1)


def input_covariances(
    model: keras.Model,
    layers: dict,
    data,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    conv_scheme: str = "weight",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict:
    """Streams calibration data through a model and returns each layer's input moments.

    One eager forward pass per batch, ``model(x, training=False)``, with only the
    layers in ``layers`` caught; nothing is stored beyond one ``m x m`` float64 sum per
    layer. The covariances are those of the model *as it is now*: for a sequential
    compression (each layer calibrated on the inputs of the already compressed layers
    before it) call this once per layer, or per group, with ``{key: layer}`` between
    compressions, each call one pass over the data. To read a generator or a dataset
    only once, collect its batches first and pass the list each time:
    ``batches = list(calibration_batches(data, model))``.

    Args:
        model: A built Keras model with one input.
        layers: Key to built ``Dense``, ``Conv2D`` or ``EinsumDense`` layer of
            ``model`` (for example the first result of
            :func:`svdnet.layers.select_layers`); keys are returned as given.
        data: Calibration inputs, any form :func:`calibration_batches` reads: an
            array, ``(x, y)`` or ``(x, y, sample_weight)`` (labels and weights are
            ignored), a ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or any iterable
            of batches.
        max_examples: Most examples read; a longer or endless source is cut there.
            Defaults to :data:`DEFAULT_MAX_EXAMPLES` (2048).
        conv_scheme: Matricisation of Conv2D kernels whose rows the vectors follow,
            ``"weight"`` or ``"spatial"`` (see the module). Defaults to ``"weight"``.
        batch_size: Batch size when ``data`` is one array; batches of an iterable are
            taken as they come. Defaults to :data:`DEFAULT_BATCH_SIZE` (256).

    Returns:
        Key to :class:`Covariance`, in the order of ``layers``. A layer that saw fewer
        input vectors than its input width ``m`` gets a singular matrix and a
        ``UserWarning`` naming it; :func:`svdnet.whitening.whitened_svd`'s damping keeps
        it usable.

    Raises:
        TypeError: when ``model`` is not a Keras model, a layer is not of a compressible
            type, or ``data`` has a form or dtype that is not allowed (see
            :func:`calibration_batches`).
        ValueError: for an empty ``layers``, an unbuilt or unsupported layer, a layer
            the forward pass never calls, and every data error of
            :func:`calibration_batches` (shape, NaN, no examples, several model inputs,
            a bad cap).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model; received {model!r} of type "
                        f"{type(model).__name__}.")
    check_conv_scheme(conv_scheme)
    views = _views(layers, conv_scheme)
    sums = {key: np.zeros((view.shape[0],) * 2) for key, view in views.items()}
    rows = dict.fromkeys(views, 0)

    def record(key, inputs):
        for block in _row_blocks(views[key].layer, inputs, conv_scheme):
            block = block.astype(np.float64)
            sums[key] += block.T @ block
            rows[key] += block.shape[0]

    examples = 0
    with _catching_inputs(views, record):
        for batch in calibration_batches(data, model, max_examples, batch_size):
            model(batch, training=False)
            examples += batch.shape[0]
    result = {}
    for key, view in views.items():
        width = view.shape[0]
        if rows[key] == 0:
            raise ValueError(
                f"Layer {key!r} was never called when model {model.name!r} ran on the "
                "calibration data: it is not part of the model's forward pass, so its "
                "inputs cannot be measured."
            )
        if rows[key] < width:
            warnings.warn(
                f"Layer {key!r} saw {rows[key]} input vectors (from {examples} examples), "
                f"fewer than its input width {width}: its input covariance is singular "
                f"(rank at most {rows[key]}), and whitened_svd's damping alone sets the "
                f"directions the data never reached. Give more calibration examples (at least "
                f"{width} input vectors; a cap of max_examples={max_examples} stops the "
                "reading) for a covariance of full rank.",
                stacklevel=2,
            )
        matrix = sums[key]
        result[key] = Covariance(0.5 * (matrix + matrix.T), examples, rows[key])
    return result


def paired_moments(model: keras.Model, key: str, layer, batches, original,
                   conv_scheme: str = "weight") -> tuple[Covariance, np.ndarray]:
    """The second moments of a layer's inputs as the model is now, and their cross
    moments with its inputs under other weights, on the same batches.

    For each batch the model runs twice: once inside ``original()`` (a context manager
    that puts the other weights in place, for example the uncompressed kernels, and
    takes them out again), catching the layer's inputs ``X``, and once as it is,
    catching ``X'``. Only one batch of inputs is held at a time.

    Args:
        model: A built Keras model with one input.
        key: The layer's key, for messages.
        layer: A ``Dense``, ``Conv2D`` or ``EinsumDense`` layer of ``model``.
        batches: Calibration input batches (numpy arrays, as
            :func:`calibration_batches` yields).
        original: A callable returning a context manager, as described above.
        conv_scheme: Matricisation of a Conv2D kernel. Defaults to ``"weight"``.

    Returns:
        ``(covariance, cross)``: ``X'^T X'`` as a :class:`Covariance` and ``X'^T X``,
        both float64 sums over every input vector.

    Raises:
        ValueError: when the layer is not called in the forward pass.
    """
    views = _views({key: layer}, conv_scheme)
    width = views[key].shape[0]
    moments, cross = np.zeros((width, width)), np.zeros((width, width))
    rows = examples = 0
    caught: list = []
    with _catching_inputs(views, lambda _, inputs: caught.append(inputs)):
        for batch in batches:
            caught.clear()
            with original():
                model(batch, training=False)
            before = list(caught)
            caught.clear()
            model(batch, training=False)
            for old, new in zip(before, caught, strict=True):
                pairs = zip(_row_blocks(layer, old, conv_scheme),
                            _row_blocks(layer, new, conv_scheme), strict=True)
                for reference, changed in pairs:
                    changed = changed.astype(np.float64)
                    moments += changed.T @ changed
                    cross += changed.T @ reference.astype(np.float64)
                    rows += changed.shape[0]
            examples += batch.shape[0]
    if rows == 0:
        raise ValueError(f"Layer {key!r} was never called when model {model.name!r} ran on "
                         "the calibration data, so its inputs cannot be measured.")
    return Covariance(0.5 * (moments + moments.T), examples, rows), cross


def _views(layers, conv_scheme) -> dict:
    if not isinstance(layers, dict):
        raise TypeError(f"layers must be a dict of key to layer (as "
                        f"svdnet.layers.select_layers returns); received {layers!r} of type "
                        f"{type(layers).__name__}.")
    if not layers:
        raise ValueError("layers must hold at least one layer; received an empty dict.")
    views = {}
    for key, layer in layers.items():
        if not isinstance(layer, KERNEL_LAYERS):
            raise TypeError(f"Layer {key!r} must be a {KERNEL_LAYER_NAMES} layer; received "
                            f"{layer!r} of type {type(layer).__name__}.")
        if not layer.built:
            raise ValueError(f"Layer {key!r} is not built: it has no kernel yet. Build the "
                             "model first (call it on data, or model.build(input_shape)).")
        reason = layer_reason(layer)
        if reason:
            raise ValueError(f"Layer {key!r} has no kernel matrix: {reason}.")
        views[key] = KernelView(layer, conv_scheme)
    return views


@contextlib.contextmanager
def _catching_inputs(views: dict, record):
    """Wraps each layer's ``call`` so that ``record(key, inputs)`` sees its first
    argument as a numpy array; restores every ``call`` on exit."""
    saved = {}

    def wrapper(key, original):
        first = next(iter(inspect.signature(original).parameters))

        def call(*args, **kwargs):
            inputs = args[0] if args else kwargs[first]
            record(key, keras.ops.convert_to_numpy(inputs))
            return original(*args, **kwargs)
        return call

    try:
        for key, view in views.items():
            attributes = vars(view.layer)
            saved[key] = attributes.get("call", _ABSENT)
            attributes["call"] = wrapper(key, view.layer.call)
        yield
    finally:
        for key, previous in saved.items():
            attributes = vars(views[key].layer)
            if previous is _ABSENT:
                attributes.pop("call", None)
            else:
                attributes["call"] = previous


_ABSENT = object()


def input_rows(layer, inputs, conv_scheme: str = "weight") -> np.ndarray:
    """Returns a layer's input vectors for one input: the rows ``X`` with ``X @ W`` the
    layer's kernel product (see the module for each layer type).

    Args:
        layer: A built ``Dense``, ``Conv2D`` or ``EinsumDense`` layer.
        inputs: What the layer is called with, batch axis first (array or tensor).
        conv_scheme: ``"weight"`` or ``"spatial"``, for a Conv2D. Defaults to
            ``"weight"``.

    Returns:
        A ``(rows, m)`` array in the inputs' dtype, ``m`` the rows of the layer's kernel
        matrix (:class:`svdnet.kernels.KernelView`).
    """
    check_conv_scheme(conv_scheme)
    blocks = list(_row_blocks(layer, keras.ops.convert_to_numpy(inputs), conv_scheme))
    if not blocks:
        return np.zeros((0, KernelView(layer, conv_scheme).shape[0]))
    return np.concatenate(blocks)


def _row_blocks(layer, inputs: np.ndarray, conv_scheme: str):
    """Yields the input vectors of ``inputs`` in blocks of about ``_BLOCK_ELEMENTS``."""
    view = KernelView(layer, conv_scheme)
    width = view.shape[0]
    if view.kind == "conv2d":
        per_example = max(1, math.prod(inputs.shape[1:]) * math.prod(layer.kernel_size))
        step = max(1, _BLOCK_ELEMENTS // per_example)
        for start in range(0, inputs.shape[0], step):
            yield _conv_rows(layer, inputs[start:start + step], conv_scheme)
        return
    if view.kind == "einsum":
        split = einsum_split(layer.equation)
        kept = "".join(letter for letter in split.inputs.replace("...", "")
                       if letter not in split.contracted and letter in split.output)
        prefix = "..." if split.inputs.startswith("...") else ""
        inputs = np.einsum(f"{split.inputs}->{prefix}{kept}{split.contracted}", inputs)
    rows = inputs.reshape(-1, width)
    step = max(1, _BLOCK_ELEMENTS // width)
    for start in range(0, rows.shape[0], step):
        yield rows[start:start + step]


def _conv_rows(layer, inputs: np.ndarray, conv_scheme: str) -> np.ndarray:
    """The patches of a Conv2D's input: ``(positions, kh * kw * c_in)`` for the weight
    scheme, ``(positions, kh * c_in)`` (the ``kh x 1`` first factor's) for the spatial
    one."""
    if layer.data_format == "channels_first":
        inputs = inputs.transpose(0, 2, 3, 1)
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    if conv_scheme == "spatial":
        inputs = inputs[:, :, _used_columns(inputs.shape[2], kw, sw, dw, layer.padding)]
        kw, sw, dw = 1, 1, 1
    padding = [_padding(inputs.shape[axis], size, stride, dilation, layer.padding)
               for axis, size, stride, dilation in ((1, kh, sh, dh), (2, kw, sw, dw))]
    padded = np.pad(inputs, ((0, 0), *padding, (0, 0)))
    out_h = (padded.shape[1] - (kh - 1) * dh - 1) // sh + 1
    out_w = (padded.shape[2] - (kw - 1) * dw - 1) // sw + 1
    if out_h <= 0 or out_w <= 0:
        return np.zeros((0, kh * kw * inputs.shape[3]), dtype=inputs.dtype)
    patches = np.stack(
        [padded[:, i * dh:i * dh + (out_h - 1) * sh + 1:sh,
                j * dw:j * dw + (out_w - 1) * sw + 1:sw] for i in range(kh) for j in range(kw)],
        axis=3,
    )  # (batch, out_h, out_w, kh * kw, c_in): (i, j, c) in the kernel's order
    return patches.reshape(-1, kh * kw * inputs.shape[3])


def _used_columns(width: int, kernel: int, stride: int, dilation: int,
                  padding: str) -> np.ndarray:
    """The input columns that some output position's ``1 x kw`` second factor reads
    (padding left out), ascending."""
    before, after = _padding(width, kernel, stride, dilation, padding)
    outputs = (width + before + after - (kernel - 1) * dilation - 1) // stride + 1
    columns = (np.arange(kernel)[:, None] * dilation
               + np.arange(max(outputs, 0))[None, :] * stride).ravel() - before
    return np.unique(columns[(columns >= 0) & (columns < width)])


def _padding(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple:
    """Keras' (TensorFlow's) padding before and after one spatial axis; ``"same"`` puts
    the odd extra one after."""
    if padding != "same":
        return 0, 0
    extent = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def calibration_batches(data, model: keras.Model | None = None,
                        max_examples: int = DEFAULT_MAX_EXAMPLES,
                        batch_size: int = DEFAULT_BATCH_SIZE):
    """Reads calibration data as numpy input batches, checked, at most ``max_examples``.

    The one reader of calibration data; labels and sample weights are dropped (a
    covariance of inputs needs none). The last batch is cut so that exactly
    ``max_examples`` examples come out when the data hold more, so an endless generator
    is fine.

    Args:
        data: One of:
            - an array (numpy, or a tensor of any backend): the inputs, cut into
              batches of ``batch_size``;
            - a tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of such arrays;
            - a ``keras.utils.PyDataset`` (read by index; endless when its
              ``num_batches`` is ``None``);
            - a ``tf.data.Dataset`` of batches, or any other iterable (a list, a
              generator) of batches, each an array or an ``(x, ...)`` tuple; taken as
              they come, ``batch_size`` unused.
        model: The model the batches are for, or ``None``. When given, a model with
            several inputs is refused and each batch's shape is checked against its
            input's. Defaults to ``None``.
        max_examples: Most examples read, a positive integer. Defaults to
            :data:`DEFAULT_MAX_EXAMPLES` (2048).
        batch_size: Batch size for an array, a positive integer. Defaults to
            :data:`DEFAULT_BATCH_SIZE` (256).

    Yields:
        Numpy arrays, batch axis first, of the data's numeric dtype.

    Raises:
        TypeError: for ``data`` of another form (a dict, a string, a number), a batch
            that is not numeric (strings, objects, complex numbers), or a cap or batch
            size that is not an integer.
        ValueError: for a model with several inputs, a batch whose shape does not fit
            the model's input, a batch with NaN or infinite values, data with no
            example, or a cap or batch size below 1.
    """
    max_examples = check_int("max_examples", max_examples, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    expected = _input_shape(model)
    seen = 0
    for index, batch in enumerate(_raw_batches(data, batch_size)):
        batch = _checked(batch, index, expected, model)
        batch = batch[:max_examples - seen]
        if batch.shape[0] == 0:
            continue
        seen += batch.shape[0]
        yield batch
        if seen >= max_examples:
            return
    if seen == 0:
        raise ValueError(f"The calibration data hold no examples: received "
                         f"{_describe(data)}, which gave no non-empty batch.")


def _raw_batches(data, batch_size: int):
    if isinstance(data, tuple):
        if not 1 <= len(data) <= 3:
            raise TypeError(f"Calibration data given as a tuple must be (x,), (x, y) or "
                            f"(x, y, sample_weight); received a tuple of {len(data)} items.")
        data = data[0]
    if _is_array(data):
        array = _to_numpy(data)
        if array.ndim == 0:
            raise ValueError(f"Calibration data must have a batch axis; received a scalar "
                             f"array {array!r}.")
        for start in range(0, max(array.shape[0], 1), batch_size):
            yield array[start:start + batch_size]
        return
    if isinstance(data, (dict, str, bytes)) or not _is_iterable(data):
        if isinstance(data, dict):
            _several_inputs(f"a dict with keys {sorted(data)}")
        raise TypeError(
            "Calibration data must be an array, a tuple (x, y) or (x, y, sample_weight), "
            "a tf.data.Dataset, a keras.utils.PyDataset or an iterable of batches; "
            f"received {_describe(data)}."
        )
    if isinstance(data, keras.utils.PyDataset):
        try:
            count = data.num_batches
        except NotImplementedError:
            count = None
        indices = itertools.count() if count is None else range(count)
        batches = (data[index] for index in indices)
    else:
        batches = iter(data)
    for batch in batches:
        if isinstance(batch, (tuple, list)):
            if not 1 <= len(batch) <= 3:
                raise TypeError(f"Each batch must be x or a tuple (x, y) or (x, y, "
                                f"sample_weight); received a tuple of {len(batch)} items.")
            batch = batch[0]
        if isinstance(batch, dict):
            _several_inputs(f"batches of a dict with keys {sorted(batch)}")
        if isinstance(batch, (tuple, list)):
            _several_inputs(f"batches whose x is a {type(batch).__name__} of "
                            f"{len(batch)} arrays")
        yield batch


def _checked(batch, index: int, expected, model) -> np.ndarray:
    if not _is_array(batch):
        raise TypeError(f"Batch {index} of the calibration data is {_describe(batch)}; "
                        "expected an array of inputs.")
    array = _to_numpy(batch)
    if not _is_numeric(array.dtype):
        raise TypeError(f"Calibration data must be numeric (floats, integers or "
                        f"booleans); batch {index} has dtype {array.dtype}.")
    if array.ndim == 0:
        raise ValueError(f"Batch {index} of the calibration data is a scalar; expected "
                         "an array with a batch axis first.")
    if expected is not None:
        fits = array.ndim == len(expected) and all(
            want is None or want == got for want, got in zip(expected[1:], array.shape[1:]))
        if not fits:
            hint = (" (it looks like one example: batch the data, for example "
                    "dataset.batch(32))"
                    if array.shape == tuple(expected[1:]) else "")
            raise ValueError(f"Calibration data must have shape {_shape_text(expected)} for "
                             f"the input of model {model.name!r}; received a batch of shape "
                             f"{array.shape}{hint}.")
    if array.dtype.kind not in "biu":
        finite = np.isfinite(array.astype(np.float32) if array.dtype.kind == "V" else array)
        bad = int(finite.size - np.count_nonzero(finite))
        if bad:
            raise ValueError(f"Batch {index} of the calibration data holds {bad} NaN or "
                             f"infinite values (of {array.size}); input moments need "
                             "finite inputs. Drop or clean those examples.")
    return array


def _input_shape(model):
    """The model's one input shape (``None`` for a model that does not declare it)."""
    if model is None:
        return None
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    if len(inputs) > 1:
        _several_inputs(f"model {model.name!r} with {len(inputs)} inputs "
                        f"{[getattr(t, 'name', '?') for t in inputs]}")
    return tuple(inputs[0].shape)


def _several_inputs(what: str):
    raise ValueError(
        f"Calibration supports models with one input for now; received {what}. Each "
        "batch is read as one array and checked against the model's one input; matching "
        "several arrays to several inputs is not implemented yet."
    )


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or keras.ops.is_tensor(value) or (
        hasattr(value, "__array__") and hasattr(value, "shape"))


def _to_numpy(value) -> np.ndarray:
    if keras.ops.is_tensor(value):
        return np.asarray(keras.ops.convert_to_numpy(value))
    return np.asarray(value)


def _is_iterable(value) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _is_numeric(dtype) -> bool:
    if dtype.kind in "biuf":
        return True
    try:
        return keras.backend.is_float_dtype(keras.backend.standardize_dtype(dtype))
    except (TypeError, ValueError):
        return False


def _shape_text(shape) -> str:
    return "(" + ", ".join("batch" if size is None and axis == 0 else str(size)
                           for axis, size in enumerate(shape)) + ")"


def _describe(value) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} of type {type(value).__name__}"
