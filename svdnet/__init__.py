"""svdnet: compress the Dense layers of Keras 3 models with truncated SVD."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from svdnet.callback import NonFiniteWeightsError, SVDProjection  # noqa: E402
from svdnet.data import (  # noqa: E402
    DATASETS,
    Dataset,
    DatasetUnavailableError,
    load_dataset,
    training_dataset,
)
from svdnet.factorize import factorization_plan, factorize  # noqa: E402
from svdnet.experiment import METHODS, Run, RunConfig, run_reference, train  # noqa: E402
from svdnet.layers import dense_layers  # noqa: E402
from svdnet.lowrank import LowRankDense  # noqa: E402
from svdnet.model import build_mlp  # noqa: E402
from svdnet.params import parameter_counts  # noqa: E402
from svdnet.svd import (  # noqa: E402
    TruncatedSVD,
    energy_curve,
    project,
    singular_values,
    truncated_svd,
)

__version__ = "0.1.0"

__all__ = [
    "DATASETS", "METHODS", "Dataset", "DatasetUnavailableError", "NonFiniteWeightsError",
    "LowRankDense", "Run", "RunConfig", "SVDProjection", "TruncatedSVD", "build_mlp", "dense_layers",
    "energy_curve", "factorization_plan", "factorize", "load_dataset", "parameter_counts", "project", "run_reference",
    "singular_values", "train", "training_dataset", "truncated_svd",
]
