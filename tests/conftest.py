"""Shared fixtures: small real data and a fast Keras setup."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import svdnet  # noqa: E402


@pytest.fixture(scope="session")
def mnist_small():
    """The first 2,000 real MNIST training examples and the full test split."""
    return svdnet.load_dataset("mnist", train_size=2000)


def matrix_with_spectrum(values, rows, cols, seed=0):
    """Returns a rows x cols matrix whose singular values are exactly ``values``."""
    rng = np.random.default_rng(seed)
    k = len(values)
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    return (u * np.asarray(values, dtype=np.float64)) @ v.T
