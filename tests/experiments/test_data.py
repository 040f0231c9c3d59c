"""Loading real MNIST and Fashion-MNIST through TFDS."""

import numpy as np
import pytest

from svdnet.experiments import DatasetUnavailableError, load_dataset
from svdnet.experiments.data import default_data_dir


def test_mnist_subset_is_flat_scaled_and_labelled(mnist_small):
    data = mnist_small
    assert data.x_train.shape == (2000, 784) and data.x_test.shape == (10000, 784)
    assert data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # Real MNIST: mean pixel near 0.1307, all ten digits present.
    assert abs(float(data.x_test.mean()) - 0.1325) < 0.01
    assert set(np.unique(data.y_test)) == set(range(10))
    assert data.num_classes == 10 and data.input_dim == 784


def test_fashion_mnist_loads_and_differs_from_mnist(mnist_small):
    fashion = load_dataset("fashion_mnist", train_size=100)
    assert fashion.x_train.shape == (100, 784)
    assert not np.allclose(fashion.x_test[:10], mnist_small.x_test[:10])


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match=r"dataset must be one of 'mnist', 'fashion_mnist'; "
                                         r"received 'cifar10'"):
        load_dataset("cifar10")


def test_bad_train_size():
    with pytest.raises(ValueError, match="train_size must be an integer between 0 and 60000, received -5"):
        load_dataset("mnist", train_size=-5)


def test_missing_data_offline_says_dataset_place_and_variable(tmp_path):
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("fashion_mnist", data_dir=str(tmp_path), download=False)
    message = str(info.value)
    assert "'fashion_mnist'" in message
    assert str(tmp_path) in message
    assert "TFDS_DATA_DIR" in message


def test_offline_without_prepared_data_fails_at_once_naming_the_host(tmp_path, monkeypatch):
    import socket

    import tensorflow_datasets as tfds

    def unresolvable(host, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    def no_download(*args, **kwargs):
        raise AssertionError("tfds.load must not start a download that cannot succeed")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    monkeypatch.setattr(tfds, "load", no_download)
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "download host storage.googleapis.com cannot be resolved" in message
    assert str(tmp_path) in message and "TFDS_DATA_DIR" in message


def test_prepared_data_needs_no_network(monkeypatch):
    import socket

    def unresolvable(host, *args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    assert load_dataset("mnist", train_size=10).x_train.shape == (10, 784)


def test_default_data_dir_honours_environment(monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", "/some/where")
    assert default_data_dir() == "/some/where"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert default_data_dir().endswith("tensorflow_datasets")
