"""Loading the image classification datasets through TensorFlow Datasets.

Data comes from the standard :func:`tensorflow_datasets.load`, which reads prepared data
from ``data_dir`` (default: the ``TFDS_DATA_DIR`` environment variable, else
``~/tensorflow_datasets``) and downloads it there when missing and the network allows.
"""

from __future__ import annotations

import dataclasses
import os
import socket

import numpy as np

from svdnet.validation import check_choice, check_int

DATASETS = ("mnist", "fashion_mnist")

SPLITS = {
    "mnist": {"train": 60_000, "test": 10_000, "features": 784, "classes": 10},
    "fashion_mnist": {"train": 60_000, "test": 10_000, "features": 784, "classes": 10},
}
"""What each dataset of :data:`DATASETS` holds (TFDS 3.0.1), known before loading it, so
that a run's configuration is checked before any work."""


DOWNLOAD_HOST = "storage.googleapis.com"
"""Where TFDS downloads MNIST and Fashion-MNIST from."""


class DatasetUnavailableError(RuntimeError):
    """Raised when a dataset is neither prepared locally nor downloadable."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset as flat float32 features in [0, 1] and integer labels.

    Attributes:
        name: TFDS name, for example ``"mnist"``.
        x_train: Training features, shape ``(n_train, features)``.
        y_train: Training labels, shape ``(n_train,)``.
        x_test: Test features, shape ``(n_test, features)``.
        y_test: Test labels, shape ``(n_test,)``.
        num_classes: Number of classes.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_dim(self) -> int:
        """Number of features per example."""
        return int(self.x_train.shape[1])


def default_data_dir() -> str:
    """Returns where ``tfds.load`` looks when no ``data_dir`` is given."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), "tensorflow_datasets"
    )


def check_train_size(dataset: str, train_size) -> int:
    """Checks a number of training examples: 0 (the whole split) up to the split's size
    (60,000 for both datasets), before anything is loaded.

    Raises:
        TypeError, ValueError: naming the value and the split's size.
    """
    return check_int("train_size", train_size, minimum=0, maximum=SPLITS[dataset]["train"])


def _prepared(tfds, name: str, data_dir: str | None) -> bool:
    """True when ``name`` is already prepared in ``data_dir`` (no download needed)."""
    try:
        return (tfds.builder(name, data_dir=data_dir).data_path / "dataset_info.json").exists()
    except Exception:  # an unreadable folder: let tfds.load say what is wrong
        return True


def _check_download_host(name: str, where: str) -> None:
    """Fails at once, rather than after minutes of download retries, when the data is
    missing and its download host cannot even be resolved (no network)."""
    try:
        socket.getaddrinfo(DOWNLOAD_HOST, 443)
    except OSError as error:
        raise DatasetUnavailableError(
            f"Could not load dataset {name!r}: it is not prepared under {where!r}, and "
            f"its download host {DOWNLOAD_HOST} cannot be resolved ({error}): this machine "
            "looks offline. Point the TFDS_DATA_DIR environment variable (or data_dir) at "
            "a folder of prepared TensorFlow Datasets, for example "
            "../shared/tensorflow_datasets."
        ) from error


def _flatten(images) -> np.ndarray:
    images = np.asarray(images)
    return (images.reshape(images.shape[0], -1).astype(np.float32)) / np.float32(255.0)


def load_dataset(
    name: str = "mnist",
    data_dir: str | None = None,
    train_size: int | None = None,
    download: bool = True,
) -> Dataset:
    """Loads a TFDS image classification dataset as flat arrays scaled to [0, 1].

    Args:
        name: One of :data:`DATASETS`. Defaults to ``"mnist"``.
        data_dir: Folder of prepared TFDS data. Defaults to ``None``: ``TFDS_DATA_DIR`` or
            ``~/tensorflow_datasets``, as ``tfds.load`` does.
        train_size: Keep only the first ``train_size`` training examples (TFDS' own
            shuffled order), for quick runs. ``None`` or 0 keeps all. The test split is
            always complete. Defaults to ``None``.
        download: Let TFDS download and prepare missing data. Defaults to ``True``.

    Returns:
        A :class:`Dataset`.

    Raises:
        ValueError: for an unknown dataset name or a bad ``train_size``.
        DatasetUnavailableError: when the data is not prepared in ``data_dir`` and
            cannot be downloaded (at once when the download host cannot be resolved).
    """
    check_choice("dataset", name, DATASETS)
    if train_size is not None:
        train_size = check_train_size(name, train_size)
    import tensorflow_datasets as tfds

    where = data_dir or default_data_dir()
    train_split = f"train[:{train_size}]" if train_size else "train"
    if download and not _prepared(tfds, name, data_dir):
        _check_download_host(name, where)
    try:
        ((x_train, y_train), (x_test, y_test)), info = tfds.load(
            name,
            split=[train_split, "test"],
            batch_size=-1,
            as_supervised=True,
            data_dir=data_dir,
            download=download,
            with_info=True,
        )
    except Exception as error:  # TFDS raises many types: network, not found, I/O.
        raise DatasetUnavailableError(
            f"Could not load dataset {name!r}: it is not prepared under {where!r} and "
            f"{'downloading it failed' if download else 'downloading is disabled'} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Point the TFDS_DATA_DIR environment variable (or data_dir) at a folder of "
            "prepared TensorFlow Datasets, for example ../shared/tensorflow_datasets."
        ) from error
    y_train = np.asarray(y_train).astype(np.int32)
    return Dataset(
        name=name,
        x_train=_flatten(x_train),
        y_train=y_train,
        x_test=_flatten(x_test),
        y_test=np.asarray(y_test).astype(np.int32),
        num_classes=int(info.features["label"].num_classes),
    )


PREFETCH_BATCHES = 2  # batches ready ahead of the training step


def training_dataset(x, y, batch_size: int = 128, seed: int = 0):
    """Returns a ``tf.data`` pipeline over in-memory arrays for ``Model.fit``.

    The pipeline caches the examples, reshuffles them every epoch (from ``seed``, so
    the batch order is reproducible), batches them and prefetches the next
    :data:`PREFETCH_BATCHES` batches while a step runs. tf.data's autotuning is off:
    its background thread sleeps in periods that double up to a minute, and
    TensorFlow 2.21 waits for the current period to end when ``fit`` discards an
    epoch's iterator, which stalled every epoch of the reference model at the next
    period boundary (10 ms x (2^k - 1): a 22 s epoch took 40.95 s). Autotuning only
    sizes buffers and threads, so the batches are the same either way.

    Args:
        x: Features, an array of shape ``(n, ...)``.
        y: Labels, an array of shape ``(n,)``.
        batch_size: Examples per batch, >= 1. Defaults to 128.
        seed: Seed of the shuffle, >= 0. Defaults to 0.

    Returns:
        A ``tf.data.Dataset`` of ``(features, labels)`` batches.
    """
    import tensorflow as tf

    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if len(x) != len(y):
        raise ValueError(
            f"x and y must hold as many examples; received {len(x)} features and "
            f"{len(y)} labels."
        )
    options = tf.data.Options()
    options.autotune.enabled = False
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(PREFETCH_BATCHES)
        .with_options(options)
    )
