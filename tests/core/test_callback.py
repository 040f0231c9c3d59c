"""The epoch-end SVD projection callback inside real Keras training."""

import os

import keras
import numpy as np
import pytest

from svdnet import NonFiniteWeightsError, SVDProjection
from tests.conftest import mlp as build_mlp


def _data(n=256, features=32, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = (x[:, :classes].argmax(axis=1)).astype("int32")
    return x, y


def _ranks(model):
    return {
        layer.name: np.linalg.matrix_rank(keras.ops.convert_to_numpy(layer.kernel))
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    }


def test_every_kernel_has_rank_at_most_k_after_fit_and_logs_reach_history(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=3, width=64)
    callback = SVDProjection(rank=3)
    csv_path = tmp_path / "log.csv"
    history = model.fit(
        x, y, epochs=2, batch_size=64, verbose=0,
        callbacks=[callback, keras.callbacks.CSVLogger(str(csv_path))],
    )
    for name, rank in _ranks(model).items():
        assert rank <= 3, name
    assert len(history.history["svd_energy/hidden_1"]) == 2
    assert all(0.0 < e <= 1.0 for e in history.history["svd_energy/hidden_2"])
    assert "svd_energy/hidden_3" in csv_path.read_text().splitlines()[0]
    assert [p["epoch"] for p in callback.projections] == [0, 1]
    # The 64x4 output layer has rank <= 4 > 3: it is projected too.
    assert "output" in callback.projections[0]["energy"]


def test_layers_already_low_rank_are_left_untouched():
    keras.utils.set_random_seed(1)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    callback = SVDProjection(rank=4)
    before = model.get_layer("output").get_weights()
    model.fit(x, y, epochs=1, batch_size=256, verbose=0, callbacks=[callback])
    assert callback.skipped == ["output"]
    assert "output" not in callback.projections[0]["energy"]
    # Trained but never projected: still full rank 4 and changed by training only.
    assert _ranks(model)["output"] == 4
    assert not np.allclose(model.get_layer("output").get_weights()[0], before[0])


def test_every_n_epochs_still_projects_at_the_end():
    keras.utils.set_random_seed(2)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    callback = SVDProjection(rank=2, every=2)
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    assert [p["epoch"] for p in callback.projections] == [1, None]
    assert all(rank <= 2 for rank in _ranks(model).values())
    # Logs only on projection epochs: Keras fills the gap with NaN or drops the key.
    assert "svd_seconds" in history.history


def test_selected_layers_only_and_nested_models():
    keras.utils.set_random_seed(3)
    inner = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(48, name="inner_a"),
         keras.layers.Dense(48, name="inner_b")],
        name="inner",
    )
    inputs = keras.Input((32,))
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(inner(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _data()
    everything = SVDProjection(rank=2)
    everything.set_model(model)
    assert sorted(everything._layers) == ["head", "inner_a", "inner_b"]
    only = SVDProjection(rank=2, layers=["inner_b"])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[only])
    ranks = {name: np.linalg.matrix_rank(keras.ops.convert_to_numpy(
        (inner if name.startswith("inner") else model).get_layer(name).kernel))
        for name in ("inner_a", "inner_b")}
    assert ranks["inner_b"] <= 2
    assert ranks["inner_a"] > 2


def test_projected_model_saves_and_loads_with_same_predictions(tmp_path):
    keras.utils.set_random_seed(4)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[SVDProjection(rank=5)])
    path = os.path.join(tmp_path, "projected.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    assert max(_ranks(loaded)[f"hidden_{i}"] for i in (1, 2)) <= 5


def test_randomized_backend_inside_fit():
    keras.utils.set_random_seed(5)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    model.fit(x, y, epochs=1, verbose=0,
              callbacks=[SVDProjection(rank=3, svd_method="randomized")])
    assert all(rank <= 3 for rank in _ranks(model).values())


def test_record_spectrum_keeps_full_spectrum_before_last_projection():
    keras.utils.set_random_seed(6)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=1, width=64)
    callback = SVDProjection(rank=3, record_spectrum=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    spectrum = callback.spectra["hidden_1"]
    assert spectrum.shape == (32,)
    assert np.count_nonzero(spectrum > 1e-4 * spectrum[0]) > 3  # before: full rank


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"rank": 0}, ValueError, "rank must be an integer >= 1, received 0"),
        ({"rank": -1}, ValueError, "received -1"),
        ({"rank": 2.0}, TypeError, "received 2.0 of type float"),
        ({"rank": "20"}, TypeError, "received '20' of type str"),
        ({"rank": 20, "energy": 0.9}, ValueError,
         "Give only one of rank, energy or budget; received rank=20 and energy=0.9"),
        ({"energy": 0.0}, ValueError, "energy must be a fraction with 0 < energy <= 1; received 0.0"),
        ({"energy": 1.5}, ValueError, "received 1.5"),
        ({"energy": "0.9"}, TypeError, "received '0.9' of type str"),
        ({"budget": 0}, ValueError, "budget must be an integer >= 1, received 0"),
        ({"budget": 1e5}, TypeError, "budget must be an integer >= 1, received 100000.0 of type float"),
        ({"rank": {}}, ValueError, "must name at least one layer"),
        ({"rank": 2, "every": 0}, ValueError, "every must be an integer >= 1, received 0"),
        ({"rank": 2, "svd_method": "full"}, ValueError, "received 'full'"),
        ({"rank": 2, "layers": 5}, TypeError,
         "layers must be a layer name or a list of names; received 5 of type int"),
        ({"rank": 2, "layers": []}, ValueError, "layers must name at least one layer"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, text):
    with pytest.raises(error) as info:
        SVDProjection(**kwargs)
    assert text in str(info.value)


def test_unknown_layer_name_fails_before_training():
    model = build_mlp(input_dim=32, num_classes=4, depth=1, width=8)
    x, y = _data()
    with pytest.raises(ValueError, match=r"Unknown layer name 'hiden_1'; the model's Dense, "
                                         r"Conv2D or EinsumDense layers are "
                                         r"\['hidden_1', 'output'\]"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[SVDProjection(rank=2, layers=["hiden_1"])])


def test_unsupported_layer_name_and_model_without_kernel_layers():
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    with pytest.raises(ValueError, match="Layer 'flat' is a Flatten, which svdnet does not "
                                         r"compress; the model's Dense, Conv2D or EinsumDense "
                                         r"layers are \['conv', 'head'\]"):
        SVDProjection(rank=1, layers=["flat"]).set_model(model)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.MaxPooling2D()(inputs))
    plain = keras.Model(inputs, pooled, name="convnet")
    with pytest.raises(ValueError, match="Model 'convnet' has no Dense, Conv2D or EinsumDense "
                                         "layer to compress"):
        SVDProjection(rank=1).set_model(plain)


def test_nan_weights_stop_with_layer_and_epoch():
    keras.utils.set_random_seed(7)
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=16)
    x, y = _data()
    kernel = model.get_layer("hidden_2").kernel
    poisoned = keras.ops.convert_to_numpy(kernel).copy()
    poisoned[0, 0] = np.nan

    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kernel.assign(poisoned)

    with pytest.raises(NonFiniteWeightsError,
                       match=r"Layer 'hidden_2' has NaN or infinite kernel weights at epoch 1"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[Poison(), SVDProjection(rank=2)])


def _model_with_spectra(spectra, rows=24, cols=24):
    """A 2-layer model whose Dense kernels have exactly the given singular values."""
    from tests.conftest import matrix_with_spectrum

    model = keras.Sequential([keras.Input((rows,)), keras.layers.Dense(cols, name="a"),
                              keras.layers.Dense(cols, name="b")])
    for layer, values in zip(model.layers, spectra):
        layer.kernel.assign(matrix_with_spectrum(values, rows, cols).astype("float32"))
    return model


def test_energy_projection_picks_the_exact_rank_per_layer():
    # a: four equal values (rank r keeps r/4); b: 3, 1, 1, 1 (rank 1 keeps 9/12 = 75%).
    model = _model_with_spectra([[1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 1.0, 1.0]])
    callback = SVDProjection(energy=0.75)
    callback.set_model(model)
    record = callback.project()
    assert record["rank"] == {"a": 3, "b": 1}
    assert _ranks(model) == {"a": 3, "b": 1}
    assert record["energy"]["a"] == pytest.approx(0.75)
    assert record["energy"]["b"] == pytest.approx(0.75)


def test_budget_projection_fits_as_factors_and_ranks_are_logged_per_epoch():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    budget = 4_000
    callback = SVDProjection(budget=budget)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    ranks = callback.projections[-1]["rank"]
    factorized = model.count_params() - sum(
        rows * cols - min(ranks[layer.name] * (rows + cols), rows * cols)
        for layer in model.layers if isinstance(layer, keras.layers.Dense)
        for rows, cols in [layer.kernel.shape])
    assert factorized <= budget
    assert len(history.history["svd_rank/hidden_1"]) == 3
    assert _ranks(model)["hidden_1"] <= ranks["hidden_1"]
    from svdnet import factorize
    assert factorize(model, rank=ranks, verbose=0).count_params() <= budget


def test_per_layer_ranks_leave_other_layers_alone():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[SVDProjection(rank={"hidden_2": 3})])
    ranks = _ranks(model)
    assert ranks["hidden_2"] == 3 and ranks["hidden_1"] == 32 and ranks["output"] == 4
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['hidden_9'\]"):
        SVDProjection(rank={"hidden_9": 3}).set_model(model)


def test_default_backend_is_auto():
    # auto: randomized when k <= min(m, n) / 10 (the fast path), exact otherwise
    assert SVDProjection(rank=2).svd_method == "auto"


def test_quantized_and_lora_layers_are_left_alone_with_the_reason_or_refused_by_name():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=3, width=24)
    model.get_layer("hidden_1").quantize("int8")
    model.get_layer("hidden_2").enable_lora(4)
    codes = keras.ops.convert_to_numpy(model.get_layer("hidden_1")._kernel).copy()
    callback = SVDProjection(rank=2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])  # no AttributeError
    assert set(callback.skipped_reasons) >= {"hidden_1", "hidden_2"}
    assert "quantized ('int8')" in callback.skipped_reasons["hidden_1"]
    assert "LoRA is enabled (rank 4)" in callback.skipped_reasons["hidden_2"]
    assert set(callback.projections[-1]["rank"]) == {"hidden_3", "output"}
    # the int8 codes were not touched
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("hidden_1")._kernel), codes)
    assert _ranks(model)["hidden_3"] <= 2
    for name in ("hidden_1", "hidden_2"):
        with pytest.raises(ValueError, match=f"Layer '{name}' cannot be compressed"):
            SVDProjection(rank=2, layers=[name]).set_model(model)


def test_no_second_projection_after_early_stopping_stopped_on_a_projected_epoch():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=32)
    callback = SVDProjection(rank=3)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    model.fit(x, y, epochs=20, verbose=0, callbacks=[callback, stop])
    assert stop.stopped_epoch < 19  # it did stop early
    assert [record["epoch"] for record in callback.projections] == list(
        range(stop.stopped_epoch + 1))
    assert all(rank <= 3 for rank in _ranks(model).values())


def test_stopping_between_projections_still_projects_once_at_the_end():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=32)
    callback = SVDProjection(rank=3, every=3)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    model.fit(x, y, epochs=20, verbose=0, callbacks=[callback, stop])
    epochs = [record["epoch"] for record in callback.projections]
    assert epochs[-1] is None and epochs.count(None) == 1
    assert all(rank <= 3 for rank in _ranks(model).values())


def test_messages_go_through_keras_printing(capsys):
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=1, width=16)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[SVDProjection(rank=2, verbose=1)])
    assert "SVDProjection (rank 2): hidden_1 rank 2" in capsys.readouterr().out
    keras.config.disable_interactive_logging()
    try:
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SVDProjection(rank=2, verbose=1)])
        assert "SVDProjection" not in capsys.readouterr().out  # to absl logging instead
    finally:
        keras.config.enable_interactive_logging()


@pytest.mark.parametrize("seed, error, text", [
    (-1, ValueError, "seed must be an integer between 0 and 4294967295, received -1"),
    (2**32, ValueError, "received 4294967296"),
    ("0", TypeError, "received '0' of type str"),
])
def test_bad_seed_is_named(seed, error, text):
    with pytest.raises(error, match=text):
        SVDProjection(rank=2, seed=seed)


def test_unbuilt_model_is_named_before_training():
    model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)], name="lazy")
    with pytest.raises(ValueError, match="Model 'lazy' is not built"):
        SVDProjection(rank=1).set_model(model)


def test_annealing_lowers_the_rank_to_k_and_training_ends_at_k():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=64)
    callback = SVDProjection(rank=3, anneal_epochs=3, layers=["hidden_2"])
    history = model.fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[callback])
    kept = history.history["svd_rank/hidden_2"]
    assert kept == [23, 8, 3, 3]  # 64 * (3/64)^(e/3) = 23.1, 8.3, 3: the full rank 64 falls to 3
    assert _ranks(model)["hidden_2"] <= 3
    # Shorter training than the annealing: the last epoch keeps k all the same.
    short = SVDProjection(rank=3, anneal_epochs=5, layers=["hidden_2"])
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[short])
    assert history.history["svd_rank/hidden_2"][-1] == 3 > 0
    assert history.history["svd_rank/hidden_2"][0] > 3
    with pytest.raises(ValueError, match="anneal_epochs=2 needs a rank .* received energy 0.9"):
        SVDProjection(energy=0.9, anneal_epochs=2)


@pytest.mark.parametrize("order", ["stopping first", "projection first"])
def test_restore_best_weights_still_ends_at_rank_k_in_either_order(order):
    # EarlyStopping restores, at the end of training, weights it saved before that
    # epoch's projection when it comes first: the callback must project them again.
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=32)
    projection = SVDProjection(rank=2)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=5, restore_best_weights=True)
    callbacks = [stop, projection] if order == "stopping first" else [projection, stop]
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=callbacks)
    assert stop.best_weights is not None
    assert all(rank <= 2 for rank in _ranks(model).values()), _ranks(model)
    # a final projection only where the restore undid the last one
    final = [record["epoch"] for record in projection.projections][-1]
    assert (final is None) == (order == "stopping first")


@pytest.mark.parametrize("flag", ["no", 1, None, "False"])
def test_record_spectrum_takes_only_true_or_false(flag):
    with pytest.raises(TypeError,
                       match=f"record_spectrum must be True or False; received {flag!r}"):
        SVDProjection(rank=2, record_spectrum=flag)


def test_a_budget_below_the_smallest_model_fails_before_training():
    x, y = _data()
    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=32)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"budget=5 parameters is below the smallest possible "
                                         r"model.*Give a budget of at least"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[SVDProjection(budget=5)])
    # refused before the first step: nothing trained
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_recurrent_and_factorized_layers_are_listed_as_left_alone():
    from svdnet import factorize

    inputs = keras.Input((5, 3))
    x = keras.layers.LSTM(8, name="lstm")(inputs)
    x = keras.layers.Reshape((8, 1))(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(4, name="gru"), name="bi")(x)
    x = keras.layers.Dense(16, name="hidden")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    callback = SVDProjection(rank=2)
    callback.set_model(model)
    for key in ("lstm", "forward_gru", "backward_gru"):
        assert "recurrent layer" in callback.skipped_reasons[key], key
    assert "lstm_cell" not in callback.skipped_reasons  # the cell is named through its layer
    factorized = factorize(model, 2, layers=["hidden"], verbose=0)
    later = SVDProjection(rank=2)
    later.set_model(factorized)
    assert "already stored as rank-2 factors (LowRankDense)" in later.skipped_reasons["hidden"]


def test_a_rank_below_a_factorized_layers_rank_is_refused_before_training():
    from svdnet import factorize

    model = build_mlp(input_dim=32, num_classes=4, depth=2, width=32)
    factorized = factorize(model, 6, layers=["hidden_1"], verbose=0)
    with pytest.raises(ValueError, match=r"\{'hidden_1': 6\}.*already stored as factors of a "
                                         r"higher rank than the rank 3 asked for"):
        SVDProjection(rank=3).set_model(factorized)
    SVDProjection(rank=3, layers=["hidden_2"]).set_model(factorized)  # named: fine
    SVDProjection(rank=8).set_model(factorized)  # not below: fine


def test_the_former_name_method_still_works_with_a_deprecation_warning():
    with pytest.deprecated_call(match="SVDProjection"):
        assert SVDProjection(rank=2, method="exact").svd_method == "exact"
    with pytest.raises(TypeError, match="give the SVD backend once"):
        SVDProjection(rank=2, svd_method="randomized", method="exact")
    with pytest.raises(TypeError, match="give the SVD backend once"):
        SVDProjection(rank=2, svd_method="auto", method="exact")
    with pytest.deprecated_call(match="svd_method"):
        assert SVDProjection(rank=2).method == "auto"  # the former attribute, read
