"""The reference MLP builder."""

import keras
import pytest

from svdnet import dense_layers
from svdnet.experiments import build_mlp


def test_reference_architecture_has_the_published_parameter_count():
    model = build_mlp()
    assert model.count_params() == 5_012_490
    assert [layer.name for layer in dense_layers(model)] == [
        "hidden_1", "hidden_2", "hidden_3", "hidden_4", "hidden_5", "output"]


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
