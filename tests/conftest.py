"""Helpers shared by every test: matrices with a known spectrum, small Keras models.

Nothing here imports the experiment harness or a Keras backend library, so the core
tests (``tests/core``) run on any Keras backend (``KERAS_BACKEND=jax`` included); on the
TensorFlow backend :func:`pytest_configure` pins the session's threads first.
"""

import numpy as np


def pytest_configure(config):
    """On the TensorFlow backend, hold the whole session to the runs' execution rule (one
    thread, :mod:`svdnet.experiments.execution`) before collection: some test modules run
    TensorFlow operations when collected, after which the thread counts cannot be set, and
    the harness tests train and write results as the sweep does. Other backends are left
    alone (nothing of TensorFlow is imported there)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        from svdnet.experiments.execution import pin_threads

        pin_threads()


def matrix_with_spectrum(values, rows, cols, seed=0):
    """Returns a rows x cols matrix whose singular values are exactly ``values``."""
    rng = np.random.default_rng(seed)
    k = len(values)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    return (u * np.asarray(values, dtype=np.float64)) @ v.T


def mlp(input_dim=784, num_classes=10, depth=5, width=1024, activation="relu", seed=None):
    """A compiled functional MLP named like the reference model (``hidden_1``..., ``output``),
    built with Keras alone, so that core tests need no part of the harness."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    x = inputs
    for index in range(depth):
        x = keras.layers.Dense(width, activation=activation, name=f"hidden_{index + 1}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    model = keras.Model(inputs, outputs, name="mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn(input_shape=(12, 12, 1), num_classes=4, seed=None, **conv):
    """A compiled small CNN: two Conv2D blocks (``conv_1``, ``conv_2``, with ``conv``'s
    strides, padding or dilation on ``conv_2``) and a Dense head (``head``)."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="conv_1")(inputs)
    x = keras.layers.Conv2D(12, (3, 5), activation="relu", name="conv_2", **conv)(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def vit(input_shape=(8, 8, 1), patch=4, dim=16, heads=2, blocks=1, num_classes=4, seed=None):
    """A compiled tiny vision transformer: patch embedding (Conv2D), ``blocks``
    transformer blocks of Keras' ``MultiHeadAttention`` (``attention_i``) and a Dense
    feed-forward (``mlp_i``), mean pooling and a Dense head."""
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Conv2D(dim, patch, strides=patch, name="patches")(inputs)
    x = keras.layers.Reshape((-1, dim), name="tokens")(x)
    for index in range(1, blocks + 1):
        y = keras.layers.LayerNormalization(name=f"norm_{index}a")(x)
        y = keras.layers.MultiHeadAttention(heads, dim // heads, name=f"attention_{index}")(y, y)
        x = keras.layers.Add(name=f"residual_{index}a")([x, y])
        y = keras.layers.LayerNormalization(name=f"norm_{index}b")(x)
        y = keras.layers.Dense(2 * dim, activation="gelu", name=f"mlp_{index}")(y)
        y = keras.layers.Dense(dim, name=f"mlp_{index}_out")(y)
        x = keras.layers.Add(name=f"residual_{index}b")([x, y])
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="vit")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
