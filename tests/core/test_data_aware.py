"""Data-aware truncation through the public API: factorize, the plan, parameter counts
and the callback with calibration data (one pass and sequential)."""

import keras
import numpy as np
import pytest

from svdnet import SVDProjection, factorization_plan, factorize, parameter_counts
from svdnet.calibration import input_covariances
from svdnet.layers import select_layers
from svdnet.rank_selection import energy_rank
from svdnet.whitening import whitened_svd
from tests.conftest import mlp as build_mlp

RNG = np.random.default_rng(0)
# Anisotropic inputs: a few directions carry most of the energy, as real data do.
X = (RNG.standard_normal((512, 24)) * np.geomspace(5, 0.05, 24)).astype("float32")
Y = X[:, :3].argmax(axis=1).astype("int32")


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = build_mlp(input_dim=24, num_classes=3, depth=3, width=48, activation="tanh")
    model.fit(X, Y, epochs=2, verbose=0)
    return model


def _outputs(model, name, x=X):
    """The pre-activation output of layer ``name`` (its kernel product plus bias)."""
    layer = model.get_layer(name)
    inputs = keras.Model(model.inputs[0], layer.input)(x)
    return keras.ops.convert_to_numpy(keras.ops.matmul(inputs, layer.kernel))


def test_each_layer_keeps_its_output_better_than_the_weight_svd():
    model = _model()
    plain = factorize(model, 4, verbose=0)
    aware = factorize(model, 4, verbose=0, data=X)
    for name in ("hidden_1", "hidden_2", "hidden_3"):
        # one pass: every layer is calibrated on the uncompressed model's inputs
        reference = _outputs(model, name)
        inputs = keras.Model(model.inputs[0], model.get_layer(name).input)(X)
        errors = [np.linalg.norm(reference - keras.ops.convert_to_numpy(
            keras.ops.matmul(inputs, copy.get_layer(name).kernel))) for copy in (plain, aware)]
        assert errors[1] < errors[0], (name, errors)


def test_one_pass_factors_are_the_whitened_svd_of_each_kernel():
    model = _model()
    aware = factorize(model, 4, verbose=0, data=X)
    selected, _ = select_layers(model)
    covariances = input_covariances(model, selected, X)
    for name in ("hidden_1", "hidden_2"):
        kernel = keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        expected = whitened_svd(kernel, covariances[name]).truncate(4).reconstruct()
        np.testing.assert_allclose(keras.ops.convert_to_numpy(aware.get_layer(name).kernel),
                                   expected, atol=2e-5)


def test_every_example_up_to_max_examples_is_used_beyond_the_default_cap():
    # 3,000 examples with max_examples=3000: the factors are the whitened SVD on all of
    # them, not on the default cap's first 2,048.
    model = _model()
    rng = np.random.default_rng(5)
    many = (rng.standard_normal((3000, 24)) * np.geomspace(5, 0.05, 24)).astype("float32")
    many[2048:] *= np.geomspace(0.05, 5, 24).astype("float32")  # other directions after 2,048
    aware = factorize(model, 4, verbose=0, data=many, max_examples=3000)
    selected, _ = select_layers(model)
    everything = input_covariances(model, selected, many, max_examples=3000)
    kernel = keras.ops.convert_to_numpy(model.get_layer("hidden_1").kernel)
    expected = whitened_svd(kernel, everything["hidden_1"]).truncate(4).reconstruct()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(aware.get_layer("hidden_1").kernel),
                               expected, atol=2e-5)
    first = input_covariances(model, selected, many[:2048])
    assert not np.allclose(whitened_svd(kernel, first["hidden_1"]).truncate(4).reconstruct(),
                           expected, atol=2e-5)


def test_sequential_makes_up_for_the_layers_before_it():
    # Each layer's sequential factors are the best rank-k kernel for its original output
    # from the inputs of the truncated layers before it: at least as good as one pass.
    model = _model()
    one_pass = factorize(model, 3, verbose=0, data=X)
    sequential = factorize(model, 3, verbose=0, data=X, sequential=True)
    # the first layer sees unchanged inputs: same factors
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sequential.get_layer("hidden_1").kernel),
                               keras.ops.convert_to_numpy(one_pass.get_layer("hidden_1").kernel),
                               atol=1e-6)
    for name in ("hidden_2", "hidden_3"):
        errors = [np.linalg.norm(_outputs(model, name) - _outputs(copy, name))
                  for copy in (one_pass, sequential)]
        assert errors[1] <= errors[0] * 1.001, (name, errors)
    final = [np.linalg.norm(model.predict(X, verbose=0) - copy.predict(X, verbose=0))
             for copy in (one_pass, sequential)]
    assert final[1] < final[0]


def test_the_model_is_unchanged_and_the_copy_saves_and_loads(tmp_path):
    model = _model()
    before = [weight.copy() for weight in model.get_weights()]
    aware = factorize(model, 3, verbose=0, data=(X, Y), sequential=True)  # labels ignored
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    path = tmp_path / "aware.keras"
    aware.save(path)
    np.testing.assert_allclose(keras.models.load_model(path).predict(X, verbose=0),
                               aware.predict(X, verbose=0), atol=1e-6)


def test_with_data_energy_is_the_output_energy_kept():
    model = _model()
    selected, _ = select_layers(model)
    covariances = input_covariances(model, selected, X)
    plan = {item.name: item for item in factorization_plan(model, energy=0.9, data=X)}
    for name in ("hidden_1", "hidden_2", "hidden_3"):
        kernel = keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        spectrum = whitened_svd(kernel, covariances[name]).s
        assert plan[name].rank == energy_rank(spectrum, 0.9)
    weight_plan = {item.name: item.rank for item in factorization_plan(model, energy=0.9)}
    assert weight_plan != {name: item.rank for name, item in plan.items()}


@pytest.mark.parametrize("request_", [{"energy": 0.8}, {"budget": 3_000}])
def test_counts_with_data_match_what_factorize_builds(request_):
    model = _model()
    counts = parameter_counts(model, data=X, **request_)
    assert counts["factorized"] == factorize(model, verbose=0, data=X, **request_).count_params()


def test_the_callback_projects_on_the_data_and_keeps_the_rank():
    model = _model()
    callback = SVDProjection(rank=3, data=X[:256], sequential=True)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    for name in ("hidden_1", "hidden_2", "hidden_3"):
        kernel = keras.ops.convert_to_numpy(model.get_layer(name).kernel)
        assert np.linalg.matrix_rank(kernel, tol=1e-4 * np.abs(kernel).max()) <= 3
    assert 0 < callback.projections[-1]["energy"]["hidden_2"] <= 1


@pytest.mark.parametrize("kwargs, error, text", [
    ({"data": np.ones((8, 5), "float32")}, ValueError, "5"),
    ({"data": np.full((8, 24), np.nan, "float32")}, ValueError, "NaN"),
    ({"data": np.ones((0, 24), "float32")}, ValueError, "no example"),
    ({"data": np.array([["a"] * 24])}, TypeError, "dtype"),
    ({"sequential": True}, ValueError, "sequential=True calibrates layers on data; give data "
                                       r"too \(received data=None\)"),
    ({"data": X, "sequential": "yes"}, TypeError, "sequential must be True or False; "
                                                  "received 'yes'"),
    ({"data": X, "max_examples": 0}, ValueError, "max_examples must be an integer >= 1"),
])
def test_bad_calibration_requests_are_named_before_any_work(kwargs, error, text):
    model = _model()
    with pytest.raises(error, match=text):
        factorize(model, 3, verbose=0, **kwargs)
    with pytest.raises(error, match=text):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[SVDProjection(rank=3, **kwargs)])


def test_a_model_with_several_inputs_is_refused_with_data():
    first, second = keras.Input((4,)), keras.Input((4,))
    joined = keras.layers.Concatenate()([first, second])
    model = keras.Model([first, second], keras.layers.Dense(3)(keras.layers.Dense(16)(joined)))
    with pytest.raises(ValueError, match="(?i)several inputs|2 inputs"):
        factorize(model, 2, verbose=0, data=np.ones((4, 4), "float32"))


def test_an_endless_generator_is_read_up_to_the_cap():
    model = _model()

    def endless():
        while True:
            yield X[:64]

    aware = factorize(model, 3, verbose=0, data=endless(), max_examples=128)
    assert aware.get_layer("hidden_1").rank == 3


@pytest.mark.parametrize("architecture", ["cnn", "vit"])
def test_convolutions_and_attention_are_calibrated_too(architecture):
    from tests import conftest

    keras.utils.set_random_seed(0)
    shape = (12, 12, 1) if architecture == "cnn" else (8, 8, 1)
    model = getattr(conftest, architecture)(input_shape=shape, seed=0)
    images = np.random.default_rng(1).random((128, *shape)).astype("float32")
    before = [weight.copy() for weight in model.get_weights()]
    outputs = model.predict(images, verbose=0)
    errors = {}
    for mode, kwargs in {"plain": {}, "one pass": {"data": images},
                         "sequential": {"data": images, "sequential": True}}.items():
        copy = factorize(model, 2, verbose=0, **kwargs)
        errors[mode] = np.linalg.norm(copy.predict(images, verbose=0) - outputs)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert errors["one pass"] < errors["plain"], errors
    assert errors["sequential"] < errors["plain"], errors


def test_a_budget_shared_by_loss_fits_and_follows_the_measured_losses():
    from svdnet.sensitivity import CANDIDATE_RANKS, layer_sensitivity, loss_score

    model = _model()
    budget = parameter_counts(model, 3)["factorized"]
    by_loss, plan = factorize(model, budget=budget, verbose=0, data=(X, Y), allocation="loss",
                              return_plan=True)
    assert by_loss.count_params() <= budget
    assert parameter_counts(model, budget=budget, data=(X, Y), allocation="loss")[
        "factorized"] == by_loss.count_params()
    selected, _ = select_layers(model)
    measured = layer_sensitivity(model, loss_score(X, Y), covariances=input_covariances(
        model, selected, X))
    ranks = {item.name: item.rank for item in plan}
    for name, rank in ranks.items():
        if rank is not None:  # a factorized layer takes a candidate rank that was measured
            assert rank in CANDIDATE_RANKS and rank in measured[name], (name, rank)
    # the loss each chosen rank costs alone is within the worst one the allocation accepted
    accepted = min(measured[name][rank] for name, rank in ranks.items() if rank is not None)
    for name, scores in measured.items():
        smaller = [r for r in scores if r is not None and ranks[name] and r < ranks[name]]
        assert all(scores[r] < accepted for r in smaller), (name, scores, accepted)


@pytest.mark.parametrize("kwargs, text", [
    ({"rank": 3, "data": (X, Y)}, "allocation='loss' shares a budget among layers; received "
                                  "rank 3"),
    ({"budget": 3_000, "data": X}, r"give data=\(x, y\) arrays; received ndarray"),
    ({"budget": 3_000}, r"received data=None"),
    ({"budget": 3_000, "data": (X, Y[:10])}, "512 inputs and 10 labels"),
])
def test_loss_allocation_needs_a_budget_labels_and_says_so(kwargs, text):
    with pytest.raises(ValueError, match=text):
        factorize(_model(), verbose=0, allocation="loss", **kwargs)


def test_an_unknown_allocation_is_named():
    with pytest.raises(ValueError, match="allocation must be one of 'energy', 'loss'; "
                                         "received 'accuracy'"):
        factorize(_model(), budget=3_000, verbose=0, data=X, allocation="accuracy")
