"""Knowledge distillation (Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural
Network", 2015): a student learns from the labels and from a teacher's softened outputs.

The teacher's outputs are computed once for the training set and travel with the labels
(``y`` becomes ``[label, teacher log-probabilities...]``), so the tf.data pipeline
shuffles them together and any Keras backend trains the student with a plain ``fit``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from svdnet.validation import check_number

EPSILON = 1e-7
"""Probabilities are clipped to ``[EPSILON, 1]`` before their logarithm."""


def teacher_log_probabilities(teacher: keras.Model, x, batch_size: int = 1024) -> np.ndarray:
    """The teacher's log-probabilities on ``x``: its logits up to a constant per example,
    which the softmax of the distillation ignores (the reference model ends in a softmax,
    so this works on its outputs).

    Returns:
        A float32 array of shape ``(len(x), classes)``.
    """
    probabilities = teacher.predict(x, batch_size=batch_size, verbose=0)
    return np.log(np.clip(probabilities, EPSILON, 1.0)).astype(np.float32)


def distillation_targets(labels, teacher_outputs) -> np.ndarray:
    """Labels and teacher log-probabilities side by side, as ``fit``'s ``y``: column 0
    is the label, the rest the teacher's outputs (see :class:`DistillationLoss`).

    Raises:
        ValueError: when the two do not have one row per example each.
    """
    labels = np.asarray(labels).reshape(-1, 1).astype(np.float32)
    teacher_outputs = np.asarray(teacher_outputs, dtype=np.float32)
    if teacher_outputs.ndim != 2 or len(teacher_outputs) != len(labels):
        raise ValueError(f"teacher_outputs must have one row per label ({len(labels)} rows); "
                         f"received shape {teacher_outputs.shape}.")
    return np.concatenate([labels, teacher_outputs], axis=1)


@keras.saving.register_keras_serializable(package="svdnet")
class DistillationLoss(keras.losses.Loss):
    """``(1 - weight) * CE(label, p) + weight * T^2 * KL(softmax(t / T) || softmax(log p / T))``,
    where ``p`` are the student's probabilities and ``t`` the teacher's logits.

    The ``T^2`` factor keeps the soft targets' gradients on the scale of the hard ones
    (Hinton et al.). The student's logits are taken as ``log p`` (a softmax output), which
    differs from its pre-softmax logits by a constant per example that the tempered softmax
    ignores.

    Args:
        weight: Weight of the teacher's soft targets, in [0, 1]. 0 is plain cross-entropy.
        temperature: Softmax temperature T, > 0. Defaults to 4.
        name: Name of the loss. Defaults to ``"distillation"``.
    """

    def __init__(self, weight: float, temperature: float = 4.0, name: str = "distillation",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = check_number("weight", weight, minimum=0, maximum=1)
        self.temperature = check_number("temperature", temperature, minimum=0,
                                        include_minimum=False)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true[:, 0], "int32")
        teacher = y_true[:, 1:]
        hard = keras.losses.sparse_categorical_crossentropy(labels, y_pred)
        student = ops.log(ops.clip(y_pred, EPSILON, 1.0)) / self.temperature
        soft_teacher = ops.softmax(teacher / self.temperature, axis=-1)
        log_teacher = ops.log_softmax(teacher / self.temperature, axis=-1)
        kl = ops.sum(soft_teacher * (log_teacher - ops.log_softmax(student, axis=-1)), axis=-1)
        return (1 - self.weight) * hard + self.weight * self.temperature ** 2 * kl

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "temperature": self.temperature}


def label_accuracy(y_true, y_pred):
    """Accuracy against the label column of distillation targets."""
    return keras.metrics.sparse_categorical_accuracy(y_true[:, :1], y_pred)


def compile_for_distillation(model: keras.Model, weight: float, temperature: float) -> dict:
    """Recompiles ``model`` to train on distillation targets: the same optimizer (fresh
    state, same settings) and XLA setting, :class:`DistillationLoss`, and the label
    accuracy reported as ``accuracy``.

    Returns:
        The compile config it had, for :func:`restore_compile`.
    """
    config = model.get_compile_config()
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    model.compile(optimizer=optimizer,
                  loss=DistillationLoss(weight, temperature),
                  metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")],
                  jit_compile=config.get("jit_compile", "auto"))
    return config


def restore_compile(model: keras.Model, config: dict) -> None:
    """Compiles ``model`` back as ``config`` says (for testing on plain labels)."""
    model.compile_from_config(config)
