"""Factorized export: LowRankDense and factorize."""

import os

import keras
import numpy as np
import pytest

from svdnet import SVDProjection
from tests.conftest import mlp as build_mlp
from svdnet.compression import compression_summary, macs_per_example
from svdnet.factorize import factorization_plan, factorize, factorized_ranks
from svdnet.lowrank import LowRankDense

X = np.random.default_rng(0).standard_normal((64, 30)).astype("float32")
Y = X[:, :4].argmax(axis=1).astype("int32")


def _trained(depth=2, width=40):
    keras.utils.set_random_seed(0)
    model = build_mlp(input_dim=30, num_classes=4, depth=depth, width=width)
    model.fit(X, Y, epochs=2, verbose=0)
    return model


def _projected_copy(model, rank, layers=None):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    projection = SVDProjection(rank=rank, layers=layers, svd_method="exact")
    projection.set_model(copy)
    projection.project()
    return copy


def test_factorized_outputs_equal_projected_dense_outputs():
    model = _trained()
    factorized = factorize(model, 5, verbose=0)
    np.testing.assert_allclose(
        factorized.predict(X, verbose=0), _projected_copy(model, 5).predict(X, verbose=0),
        rtol=1e-5, atol=1e-6,
    )
    assert isinstance(factorized.get_layer("hidden_1"), LowRankDense)
    assert factorized.get_layer("hidden_1").u.shape == (30, 5)
    assert factorized.get_layer("hidden_2").v.shape == (5, 40)
    assert factorized.count_params() < model.count_params()


def test_model_itself_is_unchanged():
    model = _trained()
    before = [w.copy() for w in model.get_weights()]
    factorize(model, 3, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_break_even_layers_stay_dense_and_are_reported(capsys):
    model = _trained()
    plan = {item.name: item for item in factorization_plan(model, 5)}
    # 40 x 4 output kernel: rank 4 factors hold 176 > 160 numbers.
    assert plan["output"].rank is None and "break-even rank 3.6" in plan["output"].reason
    assert plan["hidden_2"].rank == 5
    factorized = factorize(model, 5)
    assert "layer 'output' stays Dense" in capsys.readouterr().out
    assert type(factorized.get_layer("output")) is keras.layers.Dense
    # A rank at the break-even point (40*40/80 = 20) leaves hidden_2 dense too.
    assert {p.name for p in factorization_plan(model, 20) if p.rank is None} >= {"hidden_2"}


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    factorized = factorize(_trained(), 4, verbose=0)
    path = os.path.join(tmp_path, "factorized.keras")
    factorized.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("hidden_1"), LowRankDense)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), factorized.predict(X, verbose=0))


def test_factorized_model_trains_further():
    factorized = factorize(_trained(), 4, verbose=0)
    before = factorized.get_layer("hidden_1").u.numpy().copy()
    history = factorized.fit(X, Y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert "accuracy" in history.history
    assert not np.allclose(before, factorized.get_layer("hidden_1").u.numpy())


def test_sequential_and_nested_models():
    keras.utils.set_random_seed(1)
    sequential = keras.Sequential([keras.Input((30,)), keras.layers.Dense(32, activation="relu",
                                   name="a"), keras.layers.Dropout(0.1), keras.layers.Dense(4, name="b")])
    factorized = factorize(sequential, 3, verbose=0)
    assert isinstance(factorized, keras.Sequential)
    np.testing.assert_allclose(factorized.predict(X, verbose=0),
                               _projected_copy(sequential, 3).predict(X, verbose=0), atol=1e-5)
    inputs = keras.Input((30,))
    outputs = keras.layers.Dense(4, name="head")(sequential(inputs))
    nested = keras.Model(inputs, outputs)
    only_a = factorize(nested, 3, layers=["a"], verbose=0)
    np.testing.assert_allclose(only_a.predict(X, verbose=0),
                               _projected_copy(nested, 3, ["a"]).predict(X, verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"rank": 0}, ValueError, "rank must be an integer >= 1, received 0"),
        ({"rank": 1.5}, TypeError, "received 1.5"),
        ({"rank": 2, "layers": ["hidden_9"]}, ValueError, "Unknown layer name 'hidden_9'"),
        ({"rank": 2, "svd_method": "svd"}, ValueError, "received 'svd'"),
        ({"rank": 2, "svd_method": "auto", "method": "randomized"}, TypeError,
         "give the SVD backend once, as svd_method"),
    ],
)
def test_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text):
        factorize(_trained(), **kwargs)


def test_the_former_name_method_still_works_with_a_deprecation_warning():
    model = _trained()
    with pytest.deprecated_call(match=r"factorize\(method=...\)"):
        old = factorize(model, rank=2, method="randomized", verbose=0)
    new = factorize(model, rank=2, svd_method="randomized", verbose=0)
    for a, b in zip(old.get_weights(), new.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_non_dense_layer_name_is_rejected():
    inputs = keras.Input((30,))
    x = keras.layers.Dense(8, name="d")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, x)
    with pytest.raises(ValueError, match="Layer 'bn' is a BatchNormalization, which svdnet does not compress"):
        factorize(model, 2, layers=["bn"])


def test_lowrank_dense_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank must be an integer >= 1, received 0"):
        LowRankDense(4, 0)
    with pytest.raises(ValueError, match="units must be an integer >= 1, received -1"):
        LowRankDense(-1, 2)


def test_compression_summary_counts_parameters_bytes_and_macs():
    model = build_mlp()
    factorized = factorize(model, 20, verbose=0)
    summary = compression_summary(model, factorized)
    assert summary["reference"]["parameters"] == 5_012_490
    assert summary["compressed"]["parameters"] == 215_370
    assert summary["reference"]["macs_per_example"] == 784 * 1024 + 4 * 1024**2 + 10240
    assert macs_per_example(factorized) == 20 * 1808 + 4 * 20 * 2048 + 10240
    # Weights dominate the file: the byte ratio tracks the parameter ratio.
    assert summary["ratio"]["keras_bytes"] > 15
    assert summary["ratio"]["parameters"] == pytest.approx(5_012_490 / 215_370)


def test_keras_file_bytes_leave_out_optimizer_state():
    from svdnet.compression import keras_file_bytes

    model = _trained(width=256)  # trained: Adam holds two slots per weight
    weights_bytes = 4 * model.count_params()
    assert weights_bytes < keras_file_bytes(model) < 1.5 * weights_bytes


def test_energy_and_budget_choose_ranks_from_the_trained_spectra():
    from svdnet.rank_selection import energy_rank
    from svdnet.svd import singular_values

    model = _trained(depth=2, width=40)
    spectra = {layer.name: singular_values(keras.ops.convert_to_numpy(layer.kernel))
               for layer in model.layers if isinstance(layer, keras.layers.Dense)}
    by_energy, plan = factorize(model, energy=0.8, verbose=0, return_plan=True)
    expected = {name: energy_rank(values, 0.8) for name, values in spectra.items()}
    for item in plan:
        assert item.rank in (expected[item.name], None)  # None: left Dense at break-even
    for budget in (1_000, 1_500, 2_500):
        by_budget = factorize(model, budget=budget, verbose=0)
        assert by_budget.count_params() <= budget
        x = X[:8]
        assert by_budget.predict(x, verbose=0).shape == (8, 4)
    with pytest.raises(ValueError, match="Give a budget of at least"):
        factorize(model, budget=200, verbose=0)  # biases 84 + rank-1 factors 194
    with pytest.raises(ValueError, match="received rank=5 and budget=1000"):
        factorize(model, rank=5, budget=1000, verbose=0)
    plan = factorization_plan(model, rank={"hidden_1": 3})
    assert [(item.name, item.rank) for item in plan] == [
        ("hidden_1", 3), ("hidden_2", None), ("output", None)]


def test_nan_kernel_is_named_not_a_linalg_error():
    from svdnet import NonFiniteWeightsError

    model = _trained()
    kernel = keras.ops.convert_to_numpy(model.get_layer("hidden_2").kernel).copy()
    kernel[0, 0] = np.inf
    model.get_layer("hidden_2").kernel.assign(kernel)
    with pytest.raises(NonFiniteWeightsError, match="Layer 'hidden_2' has NaN or infinite kernel weights"):
        factorize(model, 5, verbose=0)


def test_plan_is_returned_and_ranks_survive_save_load_and_clone(tmp_path):
    from svdnet import factorized_ranks

    model = _trained(depth=2, width=40)
    factorized, plan = factorize(model, 4, verbose=0, return_plan=True)
    # 30x40 (break-even rank 16), 40x40 (19), 40x4 (3, and rank 4 is its full rank)
    assert [(item.name, item.rank) for item in plan] == [
        ("hidden_1", 4), ("hidden_2", 4), ("output", None)]
    assert "break-even rank 3.6" in plan[2].reason
    expected = {item.name: item.rank for item in plan}
    assert factorized_ranks(factorized) == expected
    path = str(tmp_path / "f.keras")
    factorized.save(path)
    assert factorized_ranks(keras.models.load_model(path)) == expected
    assert factorized_ranks(keras.models.clone_model(factorized)) == expected
    assert factorized_ranks(model) == {"hidden_1": None, "hidden_2": None, "output": None}


def test_frozen_layers_stay_frozen():
    model = _trained(depth=2, width=40)
    model.get_layer("hidden_1").trainable = False
    factorized = factorize(model, 3, verbose=0)
    assert not factorized.get_layer("hidden_1").trainable
    assert factorized.get_layer("hidden_2").trainable
    before = [w.copy() for w in factorized.get_layer("hidden_1").get_weights()]
    factorized.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    factorized.fit(X, Y, epochs=1, verbose=0)
    after = factorized.get_layer("hidden_1").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_quantized_and_lora_layers_stay_dense_with_the_reason_or_are_refused_by_name():
    model = _trained(depth=3, width=40)
    model.get_layer("hidden_1").quantize("int8")
    model.get_layer("hidden_2").enable_lora(2)
    factorized, plan = factorize(model, 3, verbose=0, return_plan=True)
    reasons = {item.name: item.reason for item in plan if item.rank is None}
    assert "quantized ('int8')" in reasons["hidden_1"]
    assert "LoRA is enabled (rank 2)" in reasons["hidden_2"]
    assert isinstance(factorized.get_layer("hidden_3"), LowRankDense)
    np.testing.assert_allclose(factorized.predict(X[:8], verbose=0)[:, 0].shape, (8,))
    for name in ("hidden_1", "hidden_2"):
        with pytest.raises(ValueError, match=f"Layer '{name}' cannot be compressed"):
            factorize(model, 3, layers=[name], verbose=0)


def test_kernel_regularizer_carries_over_as_the_penalty_of_the_product(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((30,))
    hidden = keras.layers.Dense(40, activation="relu", name="hidden",
                                kernel_regularizer=keras.regularizers.L2(0.01),
                                bias_regularizer=keras.regularizers.L1(0.1))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(hidden))
    model(X[:2])
    factorized = factorize(model, 5, verbose=0)
    layer = factorized.get_layer("hidden")
    factorized(X[:2])
    product = keras.ops.convert_to_numpy(layer.kernel)
    bias = keras.ops.convert_to_numpy(layer.bias)
    expected = 0.01 * np.sum(product**2) + 0.1 * np.sum(np.abs(bias))
    assert float(sum(keras.ops.convert_to_numpy(loss) for loss in factorized.losses)) == \
        pytest.approx(expected, rel=1e-5)
    path = str(tmp_path / "regularized.keras")
    factorized.save(path)
    loaded = keras.models.load_model(path).get_layer("hidden")
    assert isinstance(loaded.kernel_regularizer, keras.regularizers.L2)


def test_a_kernel_constraint_keeps_the_layer_dense_with_the_reason():
    inputs = keras.Input((30,))
    hidden = keras.layers.Dense(40, name="hidden",
                                kernel_constraint=keras.constraints.NonNeg())(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(hidden))
    factorized, plan = factorize(model, 3, verbose=0, return_plan=True)
    reasons = {item.name: item.reason for item in plan}
    assert "kernel has a constraint (NonNeg)" in reasons["hidden"]
    assert not isinstance(factorized.get_layer("hidden"), LowRankDense)
    with pytest.raises(ValueError, match="Layer 'hidden' cannot be factorized: its kernel has"):
        factorize(model, 3, layers=["hidden"], verbose=0)


@pytest.mark.parametrize("model, kwargs, error, text", [
    (None, {}, TypeError, "factorize needs a Sequential or functional Keras model; received "
                          "None of type NoneType"),
    ("keras", {}, TypeError, "received 'keras' of type str"),
    ("mlp", {"layers": 5}, TypeError, "layers must be a layer name or a list of names; "
                                      "received 5 of type int"),
    ("mlp", {"layers": [1]}, TypeError, "received 1 of type int"),
    ("lazy", {}, ValueError, "Model 'lazy' is not built"),
])
def test_bad_models_and_layer_arguments_get_a_sentence(model, kwargs, error, text):
    if model == "mlp":
        model = build_mlp(input_dim=8, num_classes=3, depth=1, width=4)
    elif model == "lazy":
        model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)], name="lazy")
    elif model == "keras":
        model = "keras"
    with pytest.raises(error, match=text):
        factorize(model, 2, verbose=0, **kwargs)


@keras.saving.register_keras_serializable(package="svdnet_tests")
class _Gated(keras.layers.Layer):
    """A custom layer with a weight of its own beside a child Dense layer."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = keras.layers.Dense(units, name="inner")

    def build(self, input_shape):
        self.inner.build(input_shape)
        self.gate = self.add_weight(name="gate", shape=(), initializer="zeros")

    def call(self, inputs):
        return self.inner(inputs) * self.gate

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_custom_layers_own_weight_beside_a_child_layer_is_copied():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((30,))
    x = keras.layers.Dense(32, name="a")(inputs)
    x = _Gated(32, name="gated")(x)
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(x))
    model.get_layer("gated").gate.assign(0.7)
    factorized = factorize(model, 2, verbose=0)
    assert float(keras.ops.convert_to_numpy(factorized.get_layer("gated").gate)) == pytest.approx(0.7)
    np.testing.assert_allclose(factorized.predict(X, verbose=0),
                               _projected_copy(model, 2, ["a", "out"]).predict(X, verbose=0),
                               atol=1e-5)


@keras.saving.register_keras_serializable(package="svdnet_tests")
class _Block(keras.Model):
    """A subclassed model, used as a layer of a functional one."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(32, name="first")
        self.second = keras.layers.Dense(32, name="second")

    def call(self, inputs):
        return self.second(self.first(inputs))


class _NoKwargsBlock(keras.Model):
    def __init__(self):
        super().__init__(name="strict")
        self.inner = keras.layers.Dense(8, name="inner_dense")

    def call(self, inputs):
        return self.inner(inputs)


def test_layers_of_a_subclassed_sub_model_are_left_alone_with_the_reason():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((30,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(_Block(name="block")(inputs)))
    plan = {item.name: item for item in factorization_plan(model, 3)}
    for key in ("first", "second"):
        assert plan[key].rank is None
        assert "inside the subclassed model 'block' (_Block)" in plan[key].reason
    factorized = factorize(model, 3, verbose=0)  # no RuntimeError
    assert factorized_ranks(factorized) == {"first": None, "second": None, "out": 3}
    np.testing.assert_allclose(factorized.predict(X, verbose=0),
                               _projected_copy(model, 3, ["out"]).predict(X, verbose=0),
                               atol=1e-5)
    with pytest.raises(ValueError, match="Layer 'first' cannot be factorized: it is inside"):
        factorize(model, 3, layers=["first"], verbose=0)


def test_a_sub_model_that_cannot_be_rebuilt_gets_a_sentence():
    inputs = keras.Input((30,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(_NoKwargsBlock()(inputs)))
    with pytest.raises(ValueError, match=r"(?s)layer 'strict' \(_NoKwargsBlock\) cannot be "
                                         r"rebuilt.*\*\*kwargs"):
        factorize(model, 3, verbose=0)


def test_a_functional_model_built_through_a_subclass_is_accepted():
    class Functional(keras.Model):
        def __init__(self):
            inputs = keras.Input((30,))
            hidden = keras.layers.Dense(32, name="hidden")(inputs)
            super().__init__(inputs, keras.layers.Dense(4, name="out")(hidden))

    model = Functional()
    factorized = factorize(model, 3, verbose=0)
    assert factorized_ranks(factorized) == {"hidden": 3, "out": 3}
    np.testing.assert_allclose(factorized.predict(X, verbose=0),
                               _projected_copy(model, 3).predict(X, verbose=0), atol=1e-5)


def test_a_factorized_model_is_not_factorized_again_at_a_lower_rank_silently():
    model = _trained(width=64)
    once = factorize(model, 20, layers=["hidden_1", "hidden_2"], verbose=0)
    with pytest.raises(ValueError, match=r"\{'hidden_1': 20, 'hidden_2': 20\}.*higher rank "
                                         r"than the rank 5 asked for.*original"):
        factorize(once, 5, verbose=0)
    with pytest.raises(ValueError, match="higher rank than the rank 5"):
        factorization_plan(once, 5)
    twice = factorize(once, 3, layers=["output"], verbose=0)  # named: fine
    assert factorized_ranks(twice) == {"hidden_1": 20, "hidden_2": 20, "output": 3}
    # with an energy the factorized layers stay as they are, and the plan says why
    _, plan = factorize(once, energy=0.9, verbose=0, return_plan=True)
    reasons = {item.name: item.reason for item in plan}
    assert "already stored as rank-20 factors (LowRankDense)" in reasons["hidden_1"]


def test_the_default_export_is_the_optimal_rank_k_kernel_on_a_flat_spectrum():
    # "auto" would take the randomized SVD here (8 <= 100 / 10): a one-off export must
    # give the exact (Eckart-Young) projection.
    from tests.conftest import matrix_with_spectrum

    inputs = keras.Input((100,))
    model = keras.Model(inputs, keras.layers.Dense(120, name="flat")(inputs))
    kernel = matrix_with_spectrum(np.ones(100), 100, 120, seed=2).astype("float32")
    model.get_layer("flat").kernel.assign(kernel)
    factorized = factorize(model, 8, verbose=0)
    product = keras.ops.convert_to_numpy(factorized.get_layer("flat").kernel)
    from svdnet import project

    np.testing.assert_allclose(product, project(kernel, 8, svd_method="exact"), atol=1e-5)


@pytest.mark.parametrize("flag", ["no", 0, None])
def test_return_plan_takes_only_true_or_false(flag):
    model = build_mlp(input_dim=8, num_classes=3, depth=1, width=4)
    with pytest.raises(TypeError, match=f"return_plan must be True or False; received {flag!r}"):
        factorize(model, 2, verbose=0, return_plan=flag)
