"""The experiment harness: svdnet measured on MNIST and Fashion-MNIST.

Data (TensorFlow Datasets), the reference MLP, run configurations and training
methods, the sweep notebook's experiment, the resumable grid runner
(``python -m svdnet.experiments.grid``), result files, provenance, the report's tables,
plots and HTML rendering. It uses the core library :mod:`svdnet`; the core never
imports it. It loads data with TensorFlow Datasets and trains with a ``tf.data``
pipeline and XLA; its results were measured on Keras' TensorFlow backend.
"""

from svdnet.experiments.config import METHODS, RunConfig
from svdnet.experiments.data import (
    DATASETS,
    Dataset,
    DatasetUnavailableError,
    load_dataset,
    training_dataset,
)
from svdnet.experiments.model import build_mlp
from svdnet.experiments.training import Run, run_reference, train

__all__ = [
    "DATASETS", "METHODS", "Dataset", "DatasetUnavailableError", "Run", "RunConfig",
    "build_mlp", "load_dataset", "run_reference", "train", "training_dataset",
]
