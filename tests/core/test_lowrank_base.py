"""What the low-rank layers share (:class:`svdnet.lowrank_base.LowRankLayer`): setting the
factors from the matrices of an SVD of the kernel's matricisation."""

import keras
import numpy as np
import pytest

from svdnet import LowRankConv2D, LowRankDense, LowRankEinsumDense
from svdnet.kernels import KernelView
from svdnet.lowrank_base import LowRankLayer

RNG = np.random.default_rng(0)


def _layers():
    """A built layer of each kind and the Keras layer computing its kernel, unbuilt."""
    dense = LowRankDense(5, rank=2)
    dense.build((None, 6))
    weight = LowRankConv2D(4, 3, rank=2)
    weight.build((None, 8, 8, 3))
    spatial = LowRankConv2D(4, (3, 2), rank=2, scheme="spatial", use_bias=False)
    spatial.build((None, 8, 8, 3))
    einsum = LowRankEinsumDense("abc,cde->abde", (None, 2, 3), rank=2, bias_axes="e")
    einsum.build((None, 4, 6))
    return {"dense": (dense, keras.layers.Dense(5), (None, 6)),
            "weight": (weight, keras.layers.Conv2D(4, 3), (None, 8, 8, 3)),
            "spatial": (spatial, keras.layers.Conv2D(4, (3, 2), use_bias=False),
                        (None, 8, 8, 3)),
            "einsum": (einsum, keras.layers.EinsumDense("abc,cde->abde", (None, 2, 3),
                                                         bias_axes="e"), (None, 4, 6))}


@pytest.mark.parametrize("kind", ["dense", "weight", "spatial", "einsum"])
def test_assigned_factors_compute_the_kernel_of_their_product(kind):
    low, full, input_shape = _layers()[kind]
    assert isinstance(low, LowRankLayer)
    rows, cols = low.matrix_shape
    u = RNG.standard_normal((rows, 2)).astype("float32")
    v = RNG.standard_normal((2, cols)).astype("float32")
    low.assign_factors(u, v)
    full.build(input_shape)
    # the product, read back in the original layer's layout, is the same matrix
    KernelView(full, low.scheme if kind in ("weight", "spatial") else "weight").write(u @ v)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(low.kernel),
                               keras.ops.convert_to_numpy(full.kernel), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "spatial", "einsum"])
def test_assign_factors_refuses_a_factor_of_another_shape(kind):
    low = _layers()[kind][0]
    rows, cols = low.matrix_shape
    with pytest.raises(ValueError, match=rf"takes u as a {rows}x2 matrix; received one of "
                                         rf"shape \(2, {rows}\)"):
        low.assign_factors(np.zeros((2, rows)), np.zeros((2, cols)))
    with pytest.raises(ValueError, match=rf"takes v as a 2x{cols} matrix"):
        low.assign_factors(np.zeros((rows, 2)), np.zeros((cols, 2)))


def test_assign_factors_refuses_a_bias_for_a_layer_without_one():
    low = _layers()["spatial"][0]
    rows, cols = low.matrix_shape
    with pytest.raises(ValueError, match=r"'low_rank_conv2d.*' has no bias; received one of "
                                         r"shape \(4,\)"):
        low.assign_factors(np.zeros((rows, 2)), np.zeros((2, cols)), np.zeros(4))


def test_positional_arguments_keep_their_order():
    dense = LowRankDense(5, 2, "relu", False, "zeros")
    assert (dense.units, dense.rank, dense.use_bias) == (5, 2, False)
    assert keras.activations.serialize(dense.activation) == "relu"
    assert isinstance(dense.u_initializer, keras.initializers.Zeros)
    conv = LowRankConv2D(4, 3, 2, "spatial", 2, "same", None, 1, "relu", False)
    assert (conv.filters, conv.kernel_size, conv.rank, conv.scheme, conv.strides,
            conv.padding, conv.use_bias) == (4, (3, 3), 2, "spatial", (2, 2), "same", False)
    einsum = LowRankEinsumDense("ab,bc->ac", 4, 3, "relu", "c")
    assert (einsum.partial_output_shape, einsum.rank, einsum.bias_axes) == ((4,), 3, "c")
