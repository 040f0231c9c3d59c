"""Distillation (Hinton et al. 2015) and the Frobenius decay of lowrank's factors."""

import keras
import numpy as np
import pytest

from svdnet.experiments.distillation import (
    DistillationLoss,
    distillation_targets,
    label_accuracy,
)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def test_weight_zero_is_plain_cross_entropy():
    rng = np.random.default_rng(0)
    probabilities = _softmax(rng.standard_normal((6, 4))).astype("float32")
    labels = rng.integers(0, 4, 6)
    targets = distillation_targets(labels, rng.standard_normal((6, 4)))
    ours = float(DistillationLoss(0.0)(targets, probabilities))
    plain = float(keras.losses.SparseCategoricalCrossentropy()(labels, probabilities))
    assert ours == pytest.approx(plain, rel=1e-6)


def test_matches_a_hand_computation():
    # One example, two classes: the student says (0.8, 0.2), the teacher's logits are (2, 0).
    student = np.array([[0.8, 0.2]], dtype="float32")
    targets = distillation_targets(np.array([0]), np.array([[2.0, 0.0]]))
    weight, temperature = 0.75, 2.0
    hard = -np.log(0.8)
    soft_teacher = _softmax(np.array([2.0, 0.0]) / temperature)
    soft_student = _softmax(np.log([0.8, 0.2]) / temperature)
    kl = np.sum(soft_teacher * np.log(soft_teacher / soft_student))
    expected = (1 - weight) * hard + weight * temperature ** 2 * kl
    assert float(DistillationLoss(weight, temperature)(targets, student)) == pytest.approx(
        expected, rel=1e-5)
    # The teacher's logits matter only up to a constant (its log-probabilities will do).
    shifted = distillation_targets(np.array([0]), np.array([[7.0, 5.0]]))
    assert float(DistillationLoss(weight, temperature)(shifted, student)) == pytest.approx(
        expected, rel=1e-5)


def test_label_accuracy_reads_the_label_column():
    targets = distillation_targets(np.array([1, 0]), np.zeros((2, 3)))
    predictions = np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]], dtype="float32")
    assert np.asarray(label_accuracy(targets, predictions)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("weight, temperature, error, text", [
    (1.5, 4, ValueError, "weight must be a number with 0 <= weight <= 1; received 1.5"),
    (0.5, -1, ValueError, "temperature must be a number with 0 < temperature; received -1.0"),
    (True, 4, TypeError, "weight must be a number with 0 <= weight <= 1; received True"),
])
def test_bad_loss_settings_are_named(weight, temperature, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        DistillationLoss(weight, temperature)


def test_targets_need_one_teacher_row_per_label():
    with pytest.raises(ValueError, match=r"one row per label \(3 rows\); received shape \(2, 10\)"):
        distillation_targets(np.arange(3), np.zeros((2, 10)))


def test_loss_survives_saving(tmp_path):
    loss = DistillationLoss(0.3, 2.5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (again.weight, again.temperature) == (0.3, 2.5)


def test_frobenius_decay_gradient_matches_its_closed_form():
    """weight_decay * ||U V||_F^2 on a LowRankDense: d/dU = 2 wd (U V) V^T and
    d/dV = 2 wd U^T (U V)."""
    import tensorflow as tf

    from svdnet.lowrank import LowRankDense

    decay = 1e-3
    layer = LowRankDense(5, rank=2, kernel_regularizer=keras.regularizers.L2(decay))
    layer.build((None, 4))
    rng = np.random.default_rng(1)
    layer.u.assign(rng.standard_normal((4, 2)).astype("float32"))
    layer.v.assign(rng.standard_normal((2, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        penalty = tf.add_n(layer.losses) if layer.losses else layer.kernel_regularizer(
            tf.matmul(layer.u, layer.v))
    grad_u, grad_v = tape.gradient(penalty, [layer.u, layer.v])
    u, v = layer.u.numpy(), layer.v.numpy()
    assert float(penalty) == pytest.approx(decay * np.sum((u @ v) ** 2), rel=1e-5)
    np.testing.assert_allclose(grad_u.numpy(), 2 * decay * (u @ v) @ v.T, rtol=1e-5)
    np.testing.assert_allclose(grad_v.numpy(), 2 * decay * u.T @ (u @ v), rtol=1e-5)
