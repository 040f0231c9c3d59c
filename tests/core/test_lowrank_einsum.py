"""LowRankEinsumDense, LowRankMultiHeadAttention, and EinsumDense support in factorize,
the plan and the projection callback."""

import os

import keras
import numpy as np
import pytest

from svdnet import SVDProjection, factorization_plan, factorize, factorized_ranks
from svdnet.kernels import KernelView
from svdnet.lowrank_attention import LowRankMultiHeadAttention
from svdnet.lowrank_einsum import LowRankEinsumDense
from svdnet.params import parameter_counts
from tests.conftest import vit

RNG = np.random.default_rng(0)
IMAGES = RNG.standard_normal((16, 8, 8, 1)).astype("float32")
LABELS = np.arange(16) % 4


def _projected_copy(model, rank, layers=None):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    projection = SVDProjection(rank=rank, layers=layers)
    projection.set_model(copy)
    projection.project()
    return copy


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape", [
    ("abc,cde->abde", (None, 3, 4), "de", (5, 12)),  # a query projection
    ("abcd,cde->abe", (None, 12), "e", (5, 3, 4)),  # an attention output projection
    ("...b,bc->...c", 9, "c", (4, 6)),
    ("abc,dbc->ad", 7, None, (4, 5)),  # kernel axes in another order, no bias
])
def test_factorized_einsum_computes_the_projected_einsum(equation, output_shape, bias_axes,
                                                         input_shape):
    inputs = keras.Input(input_shape)
    layer = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                                     activation="tanh", name="projection")
    model = keras.Model(inputs, layer(inputs))
    if layer.bias is not None:
        layer.bias.assign(RNG.standard_normal(layer.bias.shape).astype("float32"))
    x = RNG.standard_normal((3, *input_shape)).astype("float32")
    factorized, plan = factorize(model, rank=2, verbose=0, return_plan=True)
    assert plan[0].rank == 2
    low = factorized.get_layer("projection")
    assert isinstance(low, LowRankEinsumDense)
    projected = _projected_copy(model, 2)
    np.testing.assert_allclose(factorized.predict(x, verbose=0),
                               projected.predict(x, verbose=0), atol=2e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(low.kernel),
                               keras.ops.convert_to_numpy(projected.layers[1].kernel), atol=1e-6)
    rows, cols = KernelView(layer).shape
    assert low.matrix_shape == (rows, cols)
    assert parameter_counts(model, 2)["factorized"] == factorized.count_params()


def test_attention_projections_are_factorized_inside_multi_head_attention():
    model = vit(seed=0, blocks=2)
    keys = ["attention_1/query", "attention_1/value", "attention_2/attention_output"]
    factorized, plan = factorize(model, rank=3, layers=keys, verbose=0, return_plan=True)
    assert [(item.name, item.rank) for item in plan] == [(key, 3) for key in keys]
    first, second = factorized.get_layer("attention_1"), factorized.get_layer("attention_2")
    assert isinstance(first, LowRankMultiHeadAttention)
    assert first.projection_ranks == {"query": 3, "value": 3}
    assert second.projection_ranks == {"attention_output": 3}
    assert isinstance(first.query_dense, LowRankEinsumDense)
    assert isinstance(first.key_dense, keras.layers.EinsumDense)  # not selected
    np.testing.assert_allclose(factorized.predict(IMAGES, verbose=0),
                               _projected_copy(model, 3, keys).predict(IMAGES, verbose=0),
                               atol=2e-6)
    assert parameter_counts(model, 3, layers=keys)["factorized"] == factorized.count_params()
    ranks = factorized_ranks(factorized)
    assert ranks["attention_1/query"] == 3 and ranks["attention_1/key"] is None


def test_whole_transformer_factorized_and_saved(tmp_path):
    model = vit(seed=0)
    factorized = factorize(model, rank=2, verbose=0)
    np.testing.assert_allclose(factorized.predict(IMAGES, verbose=0),
                               _projected_copy(model, 2).predict(IMAGES, verbose=0), atol=2e-6)
    path = os.path.join(tmp_path, "vit.keras")
    factorized.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(IMAGES, verbose=0),
                                  factorized.predict(IMAGES, verbose=0))
    assert factorized_ranks(loaded) == factorized_ranks(factorized)
    assert set(factorized_ranks(loaded).values()) == {2}
    # a loaded low-rank attention trains (its factors, not the replaced kernels)
    names = {variable.path.split("/")[-1] for variable in loaded.get_layer(
        "attention_1").trainable_variables}
    assert names == {"u", "v", "bias"}
    loaded.fit(IMAGES, LABELS, epochs=1, verbose=0)


def test_factorizing_a_factorized_attention_again_adds_to_its_ranks():
    model = vit(seed=0, blocks=2)
    once = factorize(model, rank=3, layers=["attention_1/query"], verbose=0)
    twice = factorize(once, rank=2, layers=["attention_1/key"], verbose=0)
    assert twice.get_layer("attention_1").projection_ranks == {"query": 3, "key": 2}
    np.testing.assert_allclose(
        twice.predict(IMAGES, verbose=0),
        _projected_copy(once, 2, ["attention_1/key"]).predict(IMAGES, verbose=0), atol=2e-6)


def test_callback_in_fit_leaves_every_transformer_kernel_at_rank_k():
    model = vit(seed=0)
    callback = SVDProjection(rank=2)
    model.fit(IMAGES, LABELS, epochs=2, verbose=0, callbacks=[callback])
    projected = callback.projections[-1]["rank"]
    # one block: the projections' names are unique, so they are their keys
    assert {"query", "key", "value", "attention_output", "patches"} <= set(projected)
    for key, layer in callback._layers.items():
        matrix = KernelView(layer).read()
        assert np.linalg.matrix_rank(matrix, tol=1e-5 * np.abs(matrix).max()) <= 2, key


class _Wrapper(keras.layers.Layer):
    """A custom layer that builds an EinsumDense of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.EinsumDense("ab,bc->ac", 6, name="inner")

    def call(self, inputs):
        return self.inner(inputs)


def test_einsum_inside_a_custom_layer_is_projected_but_not_factorized():
    inputs = keras.Input((10,))
    model = keras.Model(inputs, _Wrapper(name="wrapper")(inputs))
    plan = factorization_plan(model, rank=2)
    assert plan[0].rank is None
    assert "built inside the _Wrapper layer 'wrapper', which factorize cannot rebuild" \
        in plan[0].reason
    with pytest.raises(ValueError, match="Layer 'inner' cannot be factorized: it is built "
                                         "inside the _Wrapper layer"):
        factorize(model, rank=2, layers=["inner"], verbose=0)
    callback = SVDProjection(rank=2)
    callback.set_model(model)
    callback.project()
    assert np.linalg.matrix_rank(KernelView(model.layers[1].inner).read(), tol=1e-5) == 2


def test_unsupported_equation_is_left_alone_with_the_reason():
    inputs = keras.Input((5, 6), batch_size=4)  # the kernel spans the batch axis
    stacked = keras.layers.EinsumDense("abc,acd->abd", (None, 3), name="stacked")
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(stacked(inputs)))
    plan = {item.name: item for item in factorization_plan(model, rank=1)}
    assert plan["head"].rank == 1
    assert "kernel axis 'a' is in both the input and the output" in plan["stacked"].reason


def test_low_rank_attention_rejects_unknown_projections():
    with pytest.raises(ValueError, match=r"unknown projection\(s\) \['gate'\]; allowed: "
                                         r"\['query', 'key', 'value', 'attention_output'\]"):
        LowRankMultiHeadAttention(2, 4, projection_ranks={"gate": 2})
    with pytest.raises(ValueError, match="rank"):
        LowRankMultiHeadAttention(2, 4, projection_ranks={"query": 0})


def test_macs_per_layer_count_each_token():
    from svdnet.compression import layer_costs

    model = vit(seed=0)  # 8x8 image, 4x4 patches: 4 tokens of width 16
    costs = layer_costs(model)
    assert costs["query"]["macs"] == 4 * 16 * 16
    assert costs["attention_output"]["macs"] == 4 * 16 * 16
    assert costs["mlp_1"]["macs"] == 4 * 16 * 32
    assert costs["patches"]["macs"] == 4 * (4 * 4 * 1) * 16
    assert costs["head"]["macs"] == 16 * 4
    low = layer_costs(factorize(model, rank=2, verbose=0))
    assert low["query"]["macs"] == 4 * 2 * (16 + 16)
    assert low["mlp_1"]["macs"] == 4 * 2 * (16 + 32)
    assert low["query"]["type"] == "LowRankEinsumDense"


def test_break_even_guard_per_einsum_layer():
    inputs = keras.Input((5, 6))
    layer = keras.layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d", name="small")
    model = keras.Model(inputs, layer(inputs))
    # a 6 x 4 matrix: factors are smaller only up to rank (24 - 1) // 10 = 2
    plan = factorization_plan(model, rank=3)
    assert plan[0].rank is None and "break-even rank 2.4" in plan[0].reason
    assert factorization_plan(model, rank=2)[0].rank == 2
    unchanged = factorize(model, rank=3, verbose=0)
    assert type(unchanged.get_layer("small")) is keras.layers.EinsumDense


def test_low_rank_projections_keep_their_place_when_keras_tracker_sees_a_reused_id(monkeypatch):
    # Keras' tracker remembers the id() of each sub-layer it has tracked. A new layer at
    # the address of a freed one is taken for one already tracked and not appended: made
    # certain here by answering "already tracked" for every low-rank projection.
    from keras.src.utils import tracking

    seen = tracking.Tracker.is_in_store
    monkeypatch.setattr(tracking.Tracker, "is_in_store", lambda self, store, value: (
        isinstance(value, LowRankEinsumDense) or seen(self, store, value)))
    ranks = {"query": 2, "key": 2, "value": 2, "attention_output": 2}
    layer = LowRankMultiHeadAttention(2, 8, projection_ranks=ranks)
    layer.build((None, 4, 16), (None, 4, 16))
    inner = layer._flatten_layers(include_self=False, recursive=False)
    assert [type(sub).__name__ for sub in inner] == [
        "LowRankEinsumDense", "LowRankEinsumDense", "LowRankEinsumDense", "Softmax",
        "Dropout", "LowRankEinsumDense"]
    assert [sub.name for sub in inner] == [
        "query", "key", "value", inner[3].name, inner[4].name, "attention_output"]
    assert all(getattr(layer, attribute) is sub for attribute, sub in zip(
        ("_query_dense", "_key_dense", "_value_dense", "_output_dense"),
        (inner[0], inner[1], inner[2], inner[5])))
    # Only the factors and biases: no full-rank kernel left behind.
    assert len(layer.weights) == 4 * 3
