"""Training FLOP counts, the matmul peak, the tf.data pipeline and weight snapshots."""

import keras
import numpy as np
import pytest

import svdnet
from svdnet import experiments
from svdnet.experiments.snapshots import SaveWeightsAt, save_weights_atomic
from svdnet.experiments.speed import matmul_peak, predict_seconds, training_flops_per_example


def test_training_flops_of_dense_and_factorized_mlps():
    model = svdnet.experiments.build_mlp(input_dim=10, num_classes=3, depth=2, width=8)
    # First layer: forward + weight gradient (no input gradient); others all three.
    expected = 2 * (10 * 8 * 2 + 8 * 8 * 3 + 8 * 3 * 3)
    assert training_flops_per_example(model) == expected
    reference = svdnet.experiments.build_mlp()
    assert training_flops_per_example(reference) == 2 * (784 * 1024 * 2 + 4 * 1024 * 1024 * 3
                                                         + 1024 * 10 * 3)
    factorized = svdnet.factorize(reference, 20, verbose=0)
    expected = 2 * (784 * 20 * 2 + 20 * 1024 * 3 + 4 * (1024 * 20 * 3 + 20 * 1024 * 3)
                    + 1024 * 10 * 3)
    assert training_flops_per_example(factorized) == expected


def test_matmul_peak_measures_a_positive_rate_and_rejects_bad_input():
    for backend in ("numpy", "tensorflow"):
        assert matmul_peak(backend, size=64, repeats=2) > 0
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'tensorflow'; received 'torch'"):
        matmul_peak("torch")
    with pytest.raises(ValueError, match="size must be an integer >= 1, received 0"):
        matmul_peak(size=0)


def test_training_dataset_reshuffles_reproducibly_and_checks_input():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="int32")

    def epochs(seed):
        dataset = experiments.training_dataset(x, y, batch_size=4, seed=seed)
        return [np.concatenate([labels.numpy() for _, labels in dataset]) for _ in range(2)]

    first, again = epochs(0), epochs(0)
    assert sorted(first[0]) == list(range(10))
    assert not np.array_equal(first[0], first[1])  # a new order every epoch
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    with pytest.raises(ValueError, match="received 10 features and 9 labels"):
        experiments.training_dataset(x, y[:9])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, received 0"):
        experiments.training_dataset(x, y, batch_size=0)


def test_training_dataset_has_autotune_off_and_the_autotuned_batches():
    import tensorflow as tf

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20, dtype="int32")
    dataset = experiments.training_dataset(x, y, batch_size=3, seed=5)
    assert dataset.options().autotune.enabled is False
    autotuned = (tf.data.Dataset.from_tensor_slices((x, y)).cache()
                 .shuffle(20, seed=5, reshuffle_each_iteration=True).batch(3)
                 .prefetch(tf.data.AUTOTUNE))
    for _ in range(2):  # two epochs: the same reshuffled order and values
        ours = [(a.numpy(), b.numpy()) for a, b in dataset]
        theirs = [(a.numpy(), b.numpy()) for a, b in autotuned]
        assert len(ours) == len(theirs) == 7
        for (xa, ya), (xb, yb) in zip(ours, theirs):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_save_weights_at_chosen_epochs_only(tmp_path):
    keras.utils.set_random_seed(0)
    model = svdnet.experiments.build_mlp(input_dim=4, num_classes=2, depth=1, width=4)
    x = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    callback = SaveWeightsAt({2: str(tmp_path / "e2.weights.h5")})
    model.fit(x, y, epochs=3, verbose=0, callbacks=[callback])
    assert callback.saved == [str(tmp_path / "e2.weights.h5")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e2.weights.h5"]
    with pytest.raises(ValueError, match="must end in '.weights.h5'; received 'x.h5'"):
        SaveWeightsAt({1: "x.h5"})
    with pytest.raises(ValueError, match="must end in '.weights.h5'; received 'y.keras'"):
        save_weights_atomic(model, "y.keras")
    with pytest.raises(ValueError, match="epoch must be an integer >= 1, received 0"):
        SaveWeightsAt({0: str(tmp_path / "e0.weights.h5")})


def test_predict_seconds_times_every_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    times = predict_seconds({"a": model, "b": model}, np.zeros((8, 4), "float32"), repeats=2)
    assert set(times) == {"a", "b"} and all(0 < value < 60 for value in times.values())
