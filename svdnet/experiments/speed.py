"""Arithmetic cost of training, and this machine's matrix-multiply peak to compare it with."""

from __future__ import annotations

import functools
import time

import keras
import numpy as np

from svdnet.layers import walk_layers
from svdnet.lowrank import LowRankDense
from svdnet.validation import check_choice, check_int

PEAK_BACKENDS = ("numpy", "tensorflow")


def training_flops_per_example(model: keras.Model) -> int:
    """Floating-point operations one training example costs in the matrix products.

    Counts 2 operations per multiply-add of every Dense and LowRankDense product, three
    times: the forward product, the gradient of its weights and the gradient of its
    inputs, except that no input gradient is needed for a product that reads the
    model's inputs directly (the first layer). Biases, activations, the loss and the
    optimizer update are not counted (under 1% in the reference MLP).

    Args:
        model: A built Keras model.

    Returns:
        Operations per example, an int.
    """
    total = 0
    first = True
    for layer in walk_layers(model):
        if isinstance(layer, LowRankDense):
            rows, rank = layer.u.shape
            cols = layer.v.shape[1]
            # x @ U (input gradient only past the first layer), then (x U) @ V.
            total += 2 * int(rows) * int(rank) * (2 if first else 3)
            total += 2 * int(rank) * int(cols) * 3
        elif isinstance(layer, keras.layers.Dense):
            rows, cols = layer.kernel.shape
            total += 2 * int(rows) * int(cols) * (2 if first else 3)
        else:
            continue
        first = False
    return total


def matmul_peak(backend: str = "numpy", size: int = 2048, repeats: int = 10) -> float:
    """Measures the single-precision matrix-multiply rate, in operations per second.

    Multiplies two random ``size x size`` float32 matrices ``repeats`` times (after one
    warm-up product) and returns ``2 * size**3 / best time``.

    Args:
        backend: ``"numpy"`` (its BLAS) or ``"tensorflow"`` (``tf.linalg.matmul``).
            Defaults to ``"numpy"``.
        size: Side of the square matrices, >= 1. Defaults to 2048.
        repeats: Timed products, >= 1. Defaults to 10.

    Returns:
        The best rate seen, in floating-point operations per second.
    """
    check_choice("backend", backend, PEAK_BACKENDS)
    size = check_int("size", size, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        a, b = tf.constant(a), tf.constant(b)

        def product():
            return tf.linalg.matmul(a, b).numpy()
    else:
        def product():
            return a @ b
    return 2.0 * size**3 / best_seconds({"product": product}, repeats)["product"]


def best_seconds(calls: dict, repeats: int = 5) -> dict:
    """Best-of-``repeats`` wall time of each call, timed in turns (one call of each per
    round, after one warm-up call each), so that the machine's load affects all alike.

    Args:
        calls: Label to a callable taking no argument.
        repeats: Timed rounds, >= 1. Defaults to 5.

    Returns:
        Label to seconds.
    """
    repeats = check_int("repeats", repeats, minimum=1)
    for call in calls.values():
        call()
    best = {label: float("inf") for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            start = time.perf_counter()
            call()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


INFERENCE_EXAMPLES = 2048
"""Test examples each inference timing predicts, in batches of 256."""


def predict_seconds(models: dict, x, repeats: int = 5, batch_size: int = 256) -> dict:
    """Best-of-``repeats`` wall time of ``model.predict(x)`` for each model, timed in
    turns (:func:`best_seconds`).

    Args:
        models: Label to Keras model.
        x: Inputs.
        repeats: Timed rounds, >= 1. Defaults to 5.
        batch_size: Defaults to 256.

    Returns:
        Label to seconds.
    """
    return best_seconds({label: functools.partial(model.predict, x, batch_size=batch_size,
                                                  verbose=0)
                         for label, model in models.items()}, repeats)
