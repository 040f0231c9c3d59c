"""The reference MLP builder, Dense layer selection and parameter counts."""

import keras
import pytest

from svdnet import build_mlp, dense_layers, parameter_counts
from svdnet.params import factorisation_shrinks, factorised_kernel_size


def test_reference_architecture_has_the_published_parameter_count():
    model = build_mlp()
    assert model.count_params() == 5_012_490
    assert [layer.name for layer in dense_layers(model)] == [
        "hidden_1", "hidden_2", "hidden_3", "hidden_4", "hidden_5", "output"]
    assert [layer.units for layer in dense_layers(model)] == [1024] * 5 + [10]
    assert model.get_layer("hidden_3").activation is keras.activations.relu


def test_depth_width_activation_are_arguments():
    model = build_mlp(input_dim=10, num_classes=3, depth=2, width=7, activation="tanh")
    assert len(dense_layers(model)) == 3
    assert model.get_layer("hidden_2").units == 7
    assert model.get_layer("hidden_1").activation is keras.activations.tanh


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"depth": 0}, "depth must be an integer >= 1, received 0"),
        ({"width": -4}, "width must be an integer >= 1, received -4"),
        ({"activation": "relux"}, "received 'relux'"),
    ],
)
def test_builder_rejects_bad_arguments(kwargs, text):
    with pytest.raises(ValueError, match=text):
        build_mlp(**kwargs)


def test_reference_counts_at_rank_20():
    counts = parameter_counts(build_mlp(), 20)
    # 20*(784+1024) + 4*20*(1024+1024) + 10*1024 kept dense + 5*1024+10 biases
    assert counts["factorised"] == 36_160 + 163_840 + 10_240 + 5_130
    assert counts["layers"]["output"]["rank"] is None
    assert counts["layers"]["hidden_2"]["rank"] == 20
    assert counts["ratio"] == pytest.approx(5_012_490 / 215_370)


def test_break_even_rank():
    # 1024 x 1024: k*2048 < 1024*1024 iff k < 512.
    assert factorisation_shrinks(1024, 1024, 511)
    assert not factorisation_shrinks(1024, 1024, 512)
    assert factorised_kernel_size(784, 1024, 10) == 18_080
    counts = parameter_counts(build_mlp(), 600)
    assert counts["factorised"] == counts["dense"] and counts["ratio"] == 1.0
