"""svdnet: compress the Dense layers of any Keras 3 model with truncated SVD.

The library works on every Keras backend (TensorFlow, JAX, PyTorch) and imports none
of them itself; TensorFlow is imported only by the TFLite export, when called. The
experiment harness that measures it on MNIST lives in :mod:`svdnet.experiments`.
"""

from svdnet.callback import SVDProjection
from svdnet.decompose import NonFiniteWeightsError
from svdnet.factorize import LayerPlan, factorization_plan, factorize, factorized_ranks
from svdnet.layers import dense_layers
from svdnet.lowrank import LowRankDense
from svdnet.params import parameter_counts
from svdnet.rank_selection import rank_request
from svdnet.svd import TruncatedSVD, energy_curve, project, singular_values, truncated_svd

__version__ = "0.2.0"

__all__ = [
    "LayerPlan", "LowRankDense", "NonFiniteWeightsError", "SVDProjection", "TruncatedSVD",
    "dense_layers", "energy_curve", "factorization_plan", "factorize", "factorized_ranks",
    "parameter_counts", "project", "rank_request", "singular_values", "truncated_svd",
]
