"""Kernel matricisation: each layer type's kernel read and written as a matrix."""

import keras
import numpy as np
import pytest

from svdnet.kernels import (
    KernelView,
    check_conv_scheme,
    einsum_split,
    from_matrix,
    layer_reason,
    matrix_shape,
    to_matrix,
)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("kind, kernel_shape, scheme, equation, expected", [
    ("dense", (6, 4), "weight", None, (6, 4)),
    ("conv2d", (3, 5, 2, 7), "weight", None, (30, 7)),
    ("conv2d", (3, 5, 2, 7), "spatial", None, (6, 35)),
    ("einsum", (16, 2, 8), "weight", "abc,cde->abde", (16, 16)),
    ("einsum", (2, 8, 16), "weight", "abcd,cde->abe", (16, 16)),
    ("einsum", (6, 7), "weight", "...b,bc->...c", (6, 7)),
    ("einsum", (4, 3, 5), "weight", "abc,dbc->ad", (15, 4)),  # kernel axes out of order
])
def test_matrix_shape_and_round_trip(kind, kernel_shape, scheme, equation, expected):
    kernel = RNG.standard_normal(kernel_shape).astype("float32")
    matrix = to_matrix(kernel, kind, scheme, equation)
    assert matrix.shape == expected == matrix_shape(kind, kernel_shape, scheme, equation)
    np.testing.assert_array_equal(from_matrix(matrix, kind, kernel_shape, scheme, equation),
                                  kernel)


def test_conv_matricisations_place_each_weight_where_the_factors_expect_it():
    kernel = RNG.standard_normal((3, 5, 2, 7))
    weight = to_matrix(kernel, "conv2d", "weight")
    spatial = to_matrix(kernel, "conv2d", "spatial")
    i, j, c, o = 2, 4, 1, 6
    assert weight[(i * 5 + j) * 2 + c, o] == kernel[i, j, c, o]  # rows (kh, kw, c_in)
    assert spatial[i * 2 + c, j * 7 + o] == kernel[i, j, c, o]  # (kh, c_in) x (kw, c_out)


def test_einsum_split_of_attention_projections():
    query = einsum_split("abc,cde->abde")
    assert (query.contracted, query.free) == ("c", "de")
    assert query.first_equation == "abc,cf->abf"
    assert query.second_equation == "abf,fde->abde"
    output = einsum_split("abcd,cde->abe")
    assert (output.contracted, output.free) == ("cd", "e")
    assert einsum_split("...b,bc->...c").first_equation == "...b,ba->...a"


@pytest.mark.parametrize("equation, text", [
    ("ab,bc", "is not of the form 'input,kernel->output'"),
    ("abc,acd->abd", "kernel axis 'a' is in both the input and the output"),
    ("ab,b->a", "is not a matrix product over the kernel's axes"),
    ("ab,...c->ac", "has an ellipsis in the kernel"),
    ("a...b,bc->a...c", "has an ellipsis that is not at the start"),
    ("ab,bcd->ac", "is not a matrix product"),  # kernel axis d goes nowhere
])
def test_einsum_split_rejects_what_is_not_one_matrix_product(equation, text):
    with pytest.raises(ValueError, match=text) as info:
        einsum_split(equation)
    assert repr(equation) in str(info.value)


def test_kernel_view_reads_and_writes_the_layer_kernel():
    conv = keras.layers.Conv2D(7, (3, 5))
    conv.build((None, 9, 9, 2))
    view = KernelView(conv, "spatial")
    assert view.shape == (6, 35) and view.kind == "conv2d"
    matrix = RNG.standard_normal((6, 35)).astype("float32")
    view.write(matrix)
    np.testing.assert_array_equal(view.read(), matrix)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(conv.kernel),
                                  from_matrix(matrix, "conv2d", (3, 5, 2, 7), "spatial"))


def test_layer_reason_names_grouped_convolutions_and_unsupported_equations():
    grouped = keras.layers.Conv2D(4, 3, groups=2)
    grouped.build((None, 6, 6, 4))
    assert "grouped convolution (groups=2)" in layer_reason(grouped)
    stacked = keras.layers.EinsumDense("abc,acd->abd", output_shape=(None, 3))
    stacked.build((4, 5, 6))
    assert "stack of matrices" in layer_reason(stacked)
    plain = keras.layers.Conv2D(4, 3)
    plain.build((None, 6, 6, 4))
    assert layer_reason(plain) == ""


def test_bad_conv_scheme_is_named():
    with pytest.raises(ValueError, match=r"conv_scheme must be one of \('weight', "
                                         r"'spatial'\); received 'depthwise'"):
        check_conv_scheme("depthwise")
