"""The two models beyond the MLP: a small CNN for Fashion-MNIST and a small vision
transformer for MNIST, built from Keras' own Conv2D, Dense and MultiHeadAttention layers
(what svdnet compresses in models people train today)."""

from __future__ import annotations

import functools

import keras

from svdnet.experiments.model import ARCHITECTURES as RUN_ARCHITECTURES
from svdnet.jit import resolve_jit_compile
from svdnet.kernels import KernelView
from svdnet.layers import kernel_layer_map
from svdnet.validation import check_choice

ARCHITECTURES = tuple(name for name in RUN_ARCHITECTURES if name != "mlp")
"""The models built here: every architecture of a run but the reference MLP."""


@keras.saving.register_keras_serializable(package="svdnet_experiments")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding to each token position: ``(batch, tokens, dim)`` in and
    out."""

    def build(self, input_shape):
        self.positions = self.add_weight(name="positions", shape=tuple(input_shape[1:]),
                                         initializer=keras.initializers.RandomNormal(0.0, 0.02))

    def call(self, inputs):
        return keras.ops.add(inputs, self.positions)


def build_cnn(num_classes: int = 10, image_shape=(28, 28, 1), width: float = 1.0) -> keras.Model:
    """Three Conv2D(3x3, relu, same) blocks of 32, 64 and 64 filters (max pooling after
    the first two), then Flatten, Dense(128, relu) and the softmax: 458,570 parameters
    for 28x28 images, 88% of them in the Dense layer after Flatten.

    Takes flat 784-pixel rows (as :func:`svdnet.experiments.data.load_dataset` gives
    them) and reshapes them to ``image_shape``.

    Args:
        num_classes: Defaults to 10.
        image_shape: Defaults to ``(28, 28, 1)``.
        width: Multiplier of every layer's filters and units (rounded, at least 1): the
            same network narrowed, for the ``small`` baseline. Defaults to 1.0.
    """
    filters = [max(1, round(size * width)) for size in (32, 64, 64, 128)]
    inputs = keras.Input((image_shape[0] * image_shape[1] * image_shape[2],), name="pixels")
    x = keras.layers.Reshape(image_shape, name="image")(inputs)
    x = keras.layers.Conv2D(filters[0], 3, padding="same", activation="relu", name="conv_1")(x)
    x = keras.layers.MaxPooling2D(name="pool_1")(x)
    x = keras.layers.Conv2D(filters[1], 3, padding="same", activation="relu", name="conv_2")(x)
    x = keras.layers.MaxPooling2D(name="pool_2")(x)
    x = keras.layers.Conv2D(filters[2], 3, padding="same", activation="relu", name="conv_3")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(filters[3], activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_vit(num_classes: int = 10, image_shape=(28, 28, 1), patch: int = 7,
              dim: int = 128, heads: int = 4, blocks: int = 2) -> keras.Model:
    """A vision transformer: 7x7 patches embedded by a strided Conv2D (16 tokens of
    width 128), a learned position embedding, two pre-norm transformer blocks (Keras'
    ``MultiHeadAttention`` with 4 heads, then Dense(256, gelu) and Dense(128)), layer
    norm, mean pooling and the softmax: 274,954 parameters, 96% of them in the attention
    projections and feed-forward layers.

    Takes flat 784-pixel rows and reshapes them to ``image_shape``. ``dim`` must be a
    multiple of ``heads``.
    """
    inputs = keras.Input((image_shape[0] * image_shape[1] * image_shape[2],), name="pixels")
    x = keras.layers.Reshape(image_shape, name="image")(inputs)
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patches")(x)
    x = keras.layers.Reshape((-1, dim), name="tokens")(x)
    x = PositionEmbedding(name="positions")(x)
    for index in range(1, blocks + 1):
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"norm_{index}a")(x)
        y = keras.layers.MultiHeadAttention(heads, dim // heads,
                                            name=f"attention_{index}")(y, y)
        x = keras.layers.Add(name=f"residual_{index}a")([x, y])
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"norm_{index}b")(x)
        y = keras.layers.Dense(2 * dim, activation="gelu", name=f"mlp_{index}a")(y)
        y = keras.layers.Dense(dim, name=f"mlp_{index}b")(y)
        x = keras.layers.Add(name=f"residual_{index}b")([x, y])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="vit")


def build_architecture(name: str, num_classes: int = 10, width: float = 1.0) -> keras.Model:
    """Builds the model ``name`` (``"cnn"`` or ``"vit"``), untrained and uncompiled,
    narrowed by ``width`` (every layer's filters or units times ``width``; for the vision
    transformer the model width 128, rounded to a multiple of the 4 heads). Defaults to
    1.0, the model itself."""
    check_choice("architecture", name, ARCHITECTURES)
    if name == "cnn":
        return build_cnn(num_classes, width=width)
    return build_vit(num_classes, dim=max(4, 4 * round(128 * width / 4)))


@functools.lru_cache(maxsize=None)
def _layout(name: str, num_classes: int) -> tuple[tuple, int]:
    model = build_architecture(name, num_classes)
    shapes = tuple((key, KernelView(layer).shape)
                   for key, layer in kernel_layer_map(model).items())
    return shapes, int(model.count_params()) - sum(rows * cols for _, (rows, cols) in shapes)


def architecture_layout(name: str, num_classes: int = 10) -> tuple[dict, int]:
    """The compressible kernels of the model ``name`` and the rest of its parameters,
    read from the model built once (cached): what a run's ranks, budget and ``small``
    size are checked and computed against before training.

    Args:
        name: ``"cnn"`` or ``"vit"``.
        num_classes: Defaults to 10.

    Returns:
        ``(shapes, fixed)``: each Dense, Conv2D and EinsumDense kernel's matrix shape
        (:class:`svdnet.kernels.KernelView`, Conv2D as the ``"weight"`` scheme) by layer
        key, and the parameter count of everything else (biases, norms, position
        embeddings).
    """
    check_choice("architecture", name, ARCHITECTURES)
    shapes, fixed = _layout(name, num_classes)
    return dict(shapes), fixed


WIDTHS = tuple(step / 100 for step in range(2, 101))
"""The width multipliers :func:`width_for_parameters` tries."""


def width_for_parameters(name: str, parameters: int, num_classes: int = 10) -> float:
    """The width multiplier (one of :data:`WIDTHS`) whose narrowed model ``name`` has the
    parameter count closest to ``parameters``: the ``small`` baseline of a compressed
    model of that size."""
    check_choice("architecture", name, ARCHITECTURES)
    counts = {width: build_architecture(name, num_classes, width).count_params()
              for width in WIDTHS}
    return min(counts, key=lambda width: (abs(counts[width] - parameters), width))


def compile_model(model: keras.Model, learning_rate: float = 1e-3,
                  jit_compile="auto") -> keras.Model:
    """Compiles ``model`` with the reference recipe (Adam, sparse categorical
    cross-entropy, accuracy) and returns it."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=resolve_jit_compile(jit_compile))
    return model
