"""Fixtures of the harness tests: small real MNIST data, on the TensorFlow backend."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from svdnet import experiments  # noqa: E402


@pytest.fixture(scope="session")
def mnist_small():
    """The first 2,000 real MNIST training examples and the full test split."""
    return experiments.load_dataset("mnist", train_size=2000)
