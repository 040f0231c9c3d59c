"""``svdnet.layers.skip_reason``: the one rule saying why svdnet leaves a layer alone."""

import keras
import pytest

from svdnet import LowRankDense
from svdnet.layers import skip_reason


def _built(layer, input_shape):
    layer.build(input_shape)
    return layer


@pytest.mark.parametrize("layer, expected", [
    (keras.layers.Dense(4), None),
    (keras.layers.Conv2D(4, 3, groups=2), "it is a grouped convolution (groups=2)"),
    (keras.layers.EinsumDense("abc,cd->abd", (None, 4)), None),
    (keras.layers.EinsumDense("abc,acd->abd", (None, 4)), "is in both the input and the output"),
    (keras.layers.Dense(4, kernel_constraint="non_neg"), None),
    (keras.layers.LSTM(4), "it is a recurrent layer (LSTM)"),
    (keras.layers.DepthwiseConv2D(3), "it is a depthwise convolution"),
    (keras.layers.Conv1D(4, 3), "svdnet factorizes Conv2D kernels, not Conv1D ones"),
    (LowRankDense(4, rank=2), "it is already stored as rank-2 factors (LowRankDense)"),
    (keras.layers.Dropout(0.5), None),
])
def test_the_reason_a_layer_is_left_alone_or_none(layer, expected):
    reason = skip_reason(layer)
    assert reason is None if expected is None else expected in reason


def test_factorizing_adds_what_factors_cannot_keep():
    constrained = _built(keras.layers.Dense(4, kernel_constraint="non_neg"), (None, 8))
    assert skip_reason(constrained) is None
    assert "its kernel has a constraint (NonNeg)" in skip_reason(constrained, factorizing=True)
    # a kernel that cannot be compressed at all says so first
    quantized = _built(keras.layers.Dense(4, kernel_constraint="non_neg"), (None, 8))
    quantized.quantize("int8")
    assert skip_reason(quantized, factorizing=True).startswith("its kernel is quantized")


def test_factorizing_names_the_layer_that_cannot_be_rebuilt():
    attention = keras.layers.MultiHeadAttention(2, 4, name="attention")
    attention.build((None, 3, 8), (None, 3, 8))
    query, inner = attention._query_dense, keras.layers.Dense(4, name="inner")
    assert skip_reason(query, factorizing=True, ancestors=[attention]) is None
    assert "'attention''s 'inner' projection" in skip_reason(
        inner, factorizing=True, ancestors=[attention])
