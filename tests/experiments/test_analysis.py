"""Post-training truncation sweep."""

import keras
import numpy as np
import pytest

from svdnet.experiments import RunConfig, build_mlp
from svdnet.experiments.analysis import load_or_train_dense, truncation_sweep


def _model_and_data():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 20)).astype("float32")
    y = x[:, :3].argmax(axis=1).astype("int32")
    model = build_mlp(input_dim=20, num_classes=3, depth=2, width=32)
    model.fit(x, y, epochs=3, verbose=0)
    return model, x, y


def test_sweep_restores_weights_and_full_rank_matches_dense():
    model, x, y = _model_and_data()
    before = [w.copy() for w in model.get_weights()]
    dense_accuracy = model.evaluate(x, y, verbose=0)[1]
    sweep = truncation_sweep(model, x, y, [1, 4, 32])
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert list(sweep["rank"]) == [1, 4, 32]
    assert sweep["test accuracy"].iloc[-1] == pytest.approx(dense_accuracy)
    assert sweep["mean energy kept"].is_monotonic_increasing
    assert sweep["factorized parameters"].iloc[0] < sweep["parameters"].iloc[0]


def test_sweep_rejects_bad_rank():
    model, x, y = _model_and_data()
    with pytest.raises(ValueError, match="rank must be an integer >= 1, received 0"):
        truncation_sweep(model, x, y, [5, 0])


@pytest.mark.slow
def test_load_or_train_saves_then_loads(mnist_small, tmp_path):
    path = str(tmp_path / "dense.keras")
    config = RunConfig(depth=1, width=32, epochs=1)
    trained = load_or_train_dense(mnist_small, config, path)
    loaded = load_or_train_dense(mnist_small, config.replace(epochs=5), path)
    np.testing.assert_array_equal(trained.get_weights()[0], loaded.get_weights()[0])
    with pytest.raises(ValueError, match="model_path must end in '.keras'; received 'x.h5'"):
        load_or_train_dense(mnist_small, config, "x.h5")
