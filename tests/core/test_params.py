"""Dense layer selection, parameter counts and the cost of rank-k factors."""

import keras
import pytest

from svdnet import dense_layers, parameter_counts
from tests.conftest import mlp as build_mlp
from svdnet.cost import break_even_rank, factor_size, kernel_cost, shrinks


def test_reference_architecture_has_the_published_parameter_count():
    model = build_mlp()
    assert model.count_params() == 5_012_490
    assert [layer.name for layer in dense_layers(model)] == [
        "hidden_1", "hidden_2", "hidden_3", "hidden_4", "hidden_5", "output"]
    assert [layer.units for layer in dense_layers(model)] == [1024] * 5 + [10]
    assert model.get_layer("hidden_3").activation is keras.activations.relu


def test_reference_counts_at_rank_20():
    counts = parameter_counts(build_mlp(), 20)
    # 20*(784+1024) + 4*20*(1024+1024) + 10*1024 kept dense + 5*1024+10 biases
    assert counts["factorized"] == 36_160 + 163_840 + 10_240 + 5_130
    assert counts["layers"]["output"]["rank"] is None
    assert counts["layers"]["hidden_2"]["rank"] == 20
    assert counts["ratio"] == pytest.approx(5_012_490 / 215_370)


def test_break_even_rank():
    # 1024 x 1024: k*2048 < 1024*1024 iff k < 512.
    assert shrinks(1024, 1024, 511) and break_even_rank(1024, 1024) == 511
    assert not shrinks(1024, 1024, 512)
    assert factor_size(784, 1024, 10) == 18_080
    assert kernel_cost(1024, 1024, 511) == 511 * 2048 and kernel_cost(1024, 1024, 512) == 1024**2
    counts = parameter_counts(build_mlp(), 600)
    assert counts["factorized"] == counts["dense"] and counts["ratio"] == 1.0


@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 7), (2, 2), (3, 5), (10, 1024), (784, 1024),
                                        (1024, 1024), (1000, 3)])
def test_break_even_rank_is_the_largest_rank_whose_factors_are_smaller(rows, cols):
    k = break_even_rank(rows, cols)
    assert k == 0 or factor_size(rows, cols, k) < rows * cols
    assert factor_size(rows, cols, k + 1) >= rows * cols
    for rank in range(1, min(rows, cols) + 2):
        assert shrinks(rows, cols, rank) == (rank * (rows + cols) < rows * cols)
        assert kernel_cost(rows, cols, rank) == min(rank * (rows + cols), rows * cols)


@pytest.mark.parametrize("args, error, text", [
    ((0, 5, 1), ValueError, "rows must be an integer >= 1, received 0"),
    ((5, 5, 0), ValueError, "rank must be an integer >= 1, received 0"),
    ((5, 2.5, 1), TypeError, "cols must be an integer >= 1, received 2.5"),
])
def test_cost_rejects_bad_sizes(args, error, text):
    with pytest.raises(error, match=text):
        factor_size(*args)


def _count_matches_factorize(model, **request):
    from svdnet import factorize

    counts = parameter_counts(model, **request)
    assert counts["factorized"] == factorize(model, verbose=0, **request).count_params()
    return counts


def test_grouped_convolutions_are_counted_as_factorize_leaves_them():
    inputs = keras.Input((8, 8, 8))
    x = keras.layers.Conv2D(64, 3, groups=4, name="grouped")(inputs)
    x = keras.layers.Conv2D(16, 3, name="plain")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(keras.layers.Flatten()(x)))
    counts = _count_matches_factorize(model, rank=2)
    assert counts["layers"]["grouped"]["rank"] is None
    assert "grouped convolution" in counts["layers"]["grouped"]["reason"]
    assert counts["layers"]["plain"]["rank"] == 2


def test_constrained_quantized_and_lora_layers_keep_their_size():
    inputs = keras.Input((32,))
    x = keras.layers.Dense(32, name="constrained", kernel_constraint="non_neg")(inputs)
    x = keras.layers.Dense(32, name="int8")(x)
    x = keras.layers.Dense(32, name="lora")(x)
    x = keras.layers.Dense(32, name="plain")(x)
    model = keras.Model(inputs, keras.layers.Dense(4, name="head")(x))
    model.get_layer("int8").quantize("int8")
    model.get_layer("lora").enable_lora(2)
    counts = _count_matches_factorize(model, rank=2)
    assert [key for key, item in counts["layers"].items() if item["rank"]] == ["plain", "head"]
    assert "constraint (NonNeg)" in counts["layers"]["constrained"]["reason"]


def test_an_einsum_that_is_not_a_matrix_counts_as_dense():
    inputs = keras.Input((4, 6))
    x = keras.layers.EinsumDense("abc,bcd->abd", output_shape=(4, 8), name="batched")(inputs)
    x = keras.layers.Dense(32, name="wide")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    counts = _count_matches_factorize(model, rank=2)
    assert "kernel axis 'b'" in counts["layers"]["batched"]["reason"]
    assert counts["layers"]["batched"]["factorized"] == counts["layers"]["batched"]["dense"]


@pytest.mark.parametrize("request_", [{"rank": {"hidden_1": 4, "output": 2}},
                                      {"energy": 0.8}, {"budget": 4_000}])
def test_per_layer_energy_and_budget_requests_count_what_factorize_builds(request_):
    keras.utils.set_random_seed(0)
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=48)
    counts = _count_matches_factorize(model, **request_)
    if "budget" in request_:
        assert counts["factorized"] <= request_["budget"]
