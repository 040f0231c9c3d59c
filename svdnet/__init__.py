"""svdnet: compress the Dense, Conv2D and EinsumDense (attention) layers of any Keras 3
model with truncated SVD.

The library works on every Keras backend (TensorFlow, JAX, PyTorch) and imports none
of them itself; TensorFlow is imported only by the TFLite export, when called. The
experiment harness that measures it on MNIST lives in :mod:`svdnet.experiments`.
"""

from svdnet import package_api as _package_api

__version__ = "0.4.0"

_package_api.package_api(__name__, {
    "svdnet.calibration": ("input_covariances",),
    "svdnet.callback": ("SVDProjection",),
    "svdnet.decompose": ("NonFiniteWeightsError",),
    "svdnet.factorize": ("LayerPlan", "factorization_plan", "factorize", "factorized_ranks"),
    "svdnet.kernels": ("KernelView",),
    "svdnet.layers": ("dense_layers", "kernel_layers"),
    "svdnet.lowrank": ("LowRankDense",),
    "svdnet.lowrank_attention": ("LowRankMultiHeadAttention",),
    "svdnet.lowrank_conv": ("LowRankConv2D",),
    "svdnet.lowrank_einsum": ("LowRankEinsumDense",),
    "svdnet.params": ("parameter_counts",),
    "svdnet.rank_selection": ("rank_request",),
    "svdnet.svd": ("TruncatedSVD", "energy_curve", "project", "singular_values",
                   "truncated_svd"),
    "svdnet.whitening": ("whitened_svd",),
}, globals())
