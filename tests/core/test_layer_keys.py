"""Layers are identified by object and keyed by name, or by path where nested models share
a name: the callback, the plan, factorize, rank maps and logs all use the same keys."""

import keras
import numpy as np
import pytest

import svdnet
from svdnet.layers import kernel_layer_map, layer_map


def _nested(seed=0):
    """Two sub-models that each hold a Dense named 'hidden' (the issue's example)."""
    keras.utils.set_random_seed(seed)

    def block(name):
        inputs = keras.Input((12,))
        return keras.Model(inputs, keras.layers.Dense(12, name="hidden")(inputs), name=name)

    inputs = keras.Input((12,))
    outputs = keras.layers.Dense(3, name="out")(block("b2")(block("b1")(inputs)))
    return keras.Model(inputs, outputs)


def _kernel(model, path):
    outer, inner = path.split("/")
    return keras.ops.convert_to_numpy(model.get_layer(outer).get_layer(inner).kernel)


def test_shared_names_get_paths_unique_names_stay():
    model = _nested()
    assert list(kernel_layer_map(model)) == ["b1/hidden", "b2/hidden", "out"]
    assert "b1" in layer_map(model) and "out" in layer_map(model)
    with pytest.raises(ValueError, match=r"Layer name 'hidden' is ambiguous: layers "
                                         r"\['b1/hidden', 'b2/hidden'\]"):
        kernel_layer_map(model, ["hidden"])
    assert list(kernel_layer_map(model, ["b2/hidden"])) == ["b2/hidden"]


def test_factorize_puts_each_sub_models_factors_into_its_own_layer():
    model = _nested()
    factorized, plan = svdnet.factorize(model, 2, verbose=0, return_plan=True)
    assert [(item.name, item.rank) for item in plan] == [
        ("b1/hidden", 2), ("b2/hidden", 2), ("out", 2)]
    for path in ("b1/hidden", "b2/hidden"):
        layer = factorized.get_layer(path.split("/")[0]).get_layer("hidden")
        product = keras.ops.convert_to_numpy(layer.u) @ keras.ops.convert_to_numpy(layer.v)
        np.testing.assert_allclose(product, svdnet.project(_kernel(model, path), 2), atol=1e-5)
    x = np.random.default_rng(1).standard_normal((5, 12)).astype("float32")
    projected = keras.models.clone_model(model)
    projected.set_weights(model.get_weights())
    callback = svdnet.SVDProjection(rank=2)
    callback.set_model(projected)
    callback.project()
    np.testing.assert_allclose(factorized.predict(x, verbose=0), projected.predict(x, verbose=0),
                               atol=1e-5)
    assert svdnet.factorized_ranks(factorized) == {"b1/hidden": 2, "b2/hidden": 2, "out": 2}


def test_callback_projects_both_layers_and_logs_them_by_path():
    model = _nested()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((64, 12)).astype("float32")
    y = (x[:, :3].argmax(axis=1)).astype("int32")
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[svdnet.SVDProjection(rank=2)])
    for path in ("b1/hidden", "b2/hidden"):
        assert np.linalg.matrix_rank(_kernel(model, path)) <= 2
        assert history.history[f"svd_rank/{path}"] == [2]


def test_rank_maps_and_layers_name_layers_by_path():
    model = _nested()
    factorized = svdnet.factorize(model, rank={"b2/hidden": 3}, verbose=0)
    assert svdnet.factorized_ranks(factorized) == {"b1/hidden": None, "b2/hidden": 3, "out": None}
    only = svdnet.SVDProjection(rank=1, layers=["b1/hidden"])
    only.set_model(model)
    only.project()
    assert np.linalg.matrix_rank(_kernel(model, "b1/hidden")) == 1
    assert np.linalg.matrix_rank(_kernel(model, "b2/hidden")) == 12
