"""LowRankConv2D and Conv2D support in factorize, the plan and the projection callback."""

import os

import keras
import numpy as np
import pytest

from svdnet import SVDProjection, factorization_plan, factorize, factorized_ranks
from svdnet.kernels import KernelView
from svdnet.lowrank_conv import LowRankConv2D
from svdnet.params import parameter_counts
from tests.conftest import cnn

X = np.random.default_rng(0).standard_normal((16, 12, 12, 1)).astype("float32")
Y = np.arange(16) % 4


def _projected_copy(model, rank, scheme, layers=None):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    projection = SVDProjection(rank=rank, layers=layers, conv_scheme=scheme)
    projection.set_model(copy)
    projection.project()
    return copy


CASES = [{}, {"strides": 2, "padding": "same"}, {"strides": (2, 1), "padding": "valid"},
         {"padding": "same", "dilation_rate": (2, 3)}, {"strides": 3, "padding": "same"}]


@pytest.mark.parametrize("scheme", ["weight", "spatial"])
@pytest.mark.parametrize("conv", CASES, ids=lambda case: "-".join(
    f"{key}={value}" for key, value in case.items()) or "plain")
def test_factorized_conv_computes_the_projected_conv(scheme, conv):
    model = cnn(seed=0, **conv)
    factorized, plan = factorize(model, rank=3, layers=["conv_2"], conv_scheme=scheme,
                                 verbose=0, return_plan=True)
    assert [item.rank for item in plan] == [3]
    layer = factorized.get_layer("conv_2")
    assert isinstance(layer, LowRankConv2D) and layer.scheme == scheme
    expected = _projected_copy(model, 3, scheme, ["conv_2"]).predict(X, verbose=0)
    np.testing.assert_allclose(factorized.predict(X, verbose=0), expected, atol=2e-6)
    # the layer's product of factors is the projected kernel
    projected = _projected_copy(model, 3, scheme, ["conv_2"]).get_layer("conv_2").kernel
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.kernel),
                               keras.ops.convert_to_numpy(projected), atol=1e-6)


@pytest.mark.parametrize("scheme, shapes", [
    ("weight", [(3, 5, 8, 3), (1, 1, 3, 12)]), ("spatial", [(3, 1, 8, 3), (1, 5, 3, 12)])])
def test_factor_shapes_and_parameter_count(scheme, shapes):
    model = cnn(seed=0)
    factorized = factorize(model, rank=3, layers=["conv_2"], conv_scheme=scheme, verbose=0)
    layer = factorized.get_layer("conv_2")
    assert [tuple(layer.u.shape), tuple(layer.v.shape)] == shapes
    counts = parameter_counts(model, 3, layers=["conv_2"], conv_scheme=scheme)
    assert counts["factorized"] == factorized.count_params()
    rows, cols = KernelView(model.get_layer("conv_2"), scheme).shape
    assert counts["layers"]["conv_2"]["factorized"] == 3 * (rows + cols) + 12


def test_break_even_guard_per_conv_layer():
    model = cnn(seed=0)
    # conv_1: 3x3x1 -> 8 is a 9 x 8 matrix: break-even rank (72 - 1) // 17 = 4
    plan = {item.name: item for item in factorization_plan(model, rank=5)}
    assert plan["conv_1"].rank is None
    assert "break-even rank 4.2" in plan["conv_1"].reason
    assert factorization_plan(model, rank=4, layers=["conv_1"])[0].rank == 4
    # the spatial scheme reads it as 3 x 24: break-even 2
    spatial = factorization_plan(model, rank=3, layers=["conv_1"], conv_scheme="spatial")
    assert spatial[0].rank is None and "3x24 kernel" in spatial[0].reason


@pytest.mark.parametrize("scheme", ["weight", "spatial"])
def test_save_and_load_round_trip(tmp_path, scheme):
    model = cnn(seed=0, strides=2, padding="same")
    factorized = factorize(model, rank=2, conv_scheme=scheme, verbose=0)
    path = os.path.join(tmp_path, "cnn.keras")
    factorized.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0),
                                  factorized.predict(X, verbose=0))
    assert factorized_ranks(loaded) == factorized_ranks(factorized)
    assert factorized_ranks(loaded)["conv_2"] == 2
    assert loaded.get_layer("conv_2").get_config() == factorized.get_layer("conv_2").get_config()


def test_fine_tuning_the_factors_trains():
    model = cnn(seed=0)
    factorized = factorize(model, rank=2, layers=["conv_2"], verbose=0)
    before = keras.ops.convert_to_numpy(factorized.get_layer("conv_2").u).copy()
    factorized.fit(X, Y, epochs=1, verbose=0)
    assert not np.allclose(before, keras.ops.convert_to_numpy(factorized.get_layer("conv_2").u))


def test_grouped_conv_is_left_alone_with_the_reason_and_refused_when_named():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, groups=2, name="grouped")(inputs)
    x = keras.layers.Conv2D(8, 3, name="plain")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    plan = {item.name: item for item in factorization_plan(model, rank=2)}
    assert plan["plain"].rank == 2
    assert "grouped convolution (groups=2)" in plan["grouped"].reason
    callback = SVDProjection(rank=2)
    callback.set_model(model)
    assert "grouped convolution" in callback.skipped_reasons["grouped"]
    with pytest.raises(ValueError, match="Layer 'grouped' cannot be compressed: it is a "
                                         r"grouped convolution \(groups=2\)"):
        SVDProjection(rank=2, layers=["grouped"]).set_model(model)


def test_lowrank_conv_rejects_bad_arguments():
    with pytest.raises(ValueError, match="scheme|conv_scheme"):
        LowRankConv2D(4, 3, rank=2, scheme="tucker")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'; received 'causal'"):
        LowRankConv2D(4, 3, rank=2, padding="causal")
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair of ints; "
                                         r"received \(3, 3, 3\)"):
        LowRankConv2D(4, (3, 3, 3), rank=2)


@pytest.mark.parametrize("scheme", ["weight", "spatial"])
def test_callback_in_fit_leaves_every_conv_kernel_at_rank_k(scheme):
    model = cnn(seed=0, strides=2, padding="same")
    callback = SVDProjection(rank=2, conv_scheme=scheme)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    for key in ("conv_1", "conv_2", "head"):
        matrix = KernelView(model.get_layer(key), scheme).read()
        assert np.linalg.matrix_rank(matrix, tol=1e-5 * np.abs(matrix).max()) <= 2
    assert set(callback.projections[-1]["rank"]) == {"conv_1", "conv_2", "head"}


def test_budget_selection_covers_conv_layers():
    model = cnn(seed=0)
    budget = model.count_params() - 300
    factorized, plan = factorize(model, budget=budget, verbose=0, return_plan=True)
    assert factorized.count_params() <= budget
    assert any(item.rank for item in plan if item.name.startswith("conv"))


@pytest.mark.parametrize("scheme", ["weight", "spatial"])
def test_macs_per_layer_follow_the_output_size(scheme):
    from svdnet.compression import layer_costs, macs_per_example

    model = cnn(seed=0, strides=2, padding="same")  # conv_2: 12x12x8 -> 6x6x12
    costs = layer_costs(model)
    assert costs["conv_1"]["macs"] == 12 * 12 * (3 * 3 * 1) * 8
    assert costs["conv_2"]["macs"] == 6 * 6 * (3 * 5 * 8) * 12
    assert costs["head"]["macs"] == 12 * 4
    assert costs["conv_2"]["parameters"] == 3 * 5 * 8 * 12 + 12
    factorized = factorize(model, rank=2, layers=["conv_2"], conv_scheme=scheme, verbose=0)
    low = layer_costs(factorized)["conv_2"]
    if scheme == "weight":  # 6x6 outputs of a (120 -> 2) then a (2 -> 12) product
        assert low["macs"] == 6 * 6 * 2 * (120 + 12)
    else:  # 3x1 convolution at 6 rows x 12 columns, then 1x5 at 6x6
        assert low["macs"] == 6 * 12 * (3 * 8) * 2 + 6 * 6 * (5 * 12) * 2
    assert low["rank"] == 2 and low["type"] == "LowRankConv2D"
    assert macs_per_example(factorized) == sum(item["macs"] for item in
                                               layer_costs(factorized).values())


def test_other_convolutions_are_left_alone_with_the_reason():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(inputs)
    x = keras.layers.SeparableConv2D(4, 3, name="separable")(x)
    x = keras.layers.Conv2DTranspose(4, 3, name="transposed")(x)
    x = keras.layers.Conv2D(8, 3, name="plain")(x)
    model = keras.Model(inputs, x)
    plan = {item.name: item for item in factorization_plan(model, rank=2)}
    assert plan["plain"].rank == 2
    assert "depthwise convolution: one small filter per input channel" in plan["depthwise"].reason
    assert "already factorized" in plan["separable"].reason
    assert "not Conv2DTranspose ones" in plan["transposed"].reason
    callback = SVDProjection(rank=2)
    callback.set_model(model)
    assert set(callback.skipped_reasons) == {"depthwise", "separable", "transposed"}
    with pytest.raises(ValueError, match="Layer 'depthwise' is a DepthwiseConv2D, which svdnet "
                                         "does not compress"):
        SVDProjection(rank=2, layers=["depthwise"]).set_model(model)
