"""svdnet: compress the Dense, Conv2D and EinsumDense (attention) layers of any Keras 3
model with truncated SVD.

The library works on every Keras backend (TensorFlow, JAX, PyTorch) and imports none
of them itself; TensorFlow is imported only by the TFLite export, when called. The
experiment harness that measures it on MNIST lives in :mod:`svdnet.experiments`.
"""

from svdnet.calibration import input_covariances
from svdnet.callback import SVDProjection
from svdnet.decompose import NonFiniteWeightsError
from svdnet.factorize import LayerPlan, factorization_plan, factorize, factorized_ranks
from svdnet.kernels import KernelView
from svdnet.layers import dense_layers, kernel_layers
from svdnet.lowrank import LowRankDense
from svdnet.lowrank_attention import LowRankMultiHeadAttention
from svdnet.lowrank_conv import LowRankConv2D
from svdnet.lowrank_einsum import LowRankEinsumDense
from svdnet.params import parameter_counts
from svdnet.rank_selection import rank_request
from svdnet.svd import TruncatedSVD, energy_curve, project, singular_values, truncated_svd
from svdnet.whitening import whitened_svd

__version__ = "0.4.0"

__all__ = [
    "KernelView", "LayerPlan", "LowRankConv2D", "LowRankDense", "LowRankEinsumDense",
    "LowRankMultiHeadAttention", "NonFiniteWeightsError", "SVDProjection", "TruncatedSVD",
    "dense_layers", "energy_curve", "factorization_plan", "factorize", "factorized_ranks",
    "input_covariances", "kernel_layers", "parameter_counts", "project", "rank_request",
    "singular_values", "truncated_svd", "whitened_svd",
]
