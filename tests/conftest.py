"""Helpers shared by every test: matrices with a known spectrum, small Keras models.

Nothing here imports the experiment harness or a Keras backend library, so the core
tests (``tests/core``) run on any Keras backend (``KERAS_BACKEND=jax`` included).
"""

import numpy as np


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
