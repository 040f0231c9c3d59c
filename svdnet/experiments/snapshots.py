"""Saving a dense run's weights at chosen epochs, so later methods can start from them."""

from __future__ import annotations

import keras

from svdnet.experiments.results import atomic_path
from svdnet.validation import check_int


def save_weights_atomic(model: keras.Model, path: str) -> str:
    """Saves ``model``'s weights to ``path`` (``.weights.h5``), never half-written
    (see :func:`svdnet.experiments.results.atomic_path`)."""
    if not path.endswith(".weights.h5"):
        raise ValueError(f"path must end in '.weights.h5'; received {path!r}.")
    with atomic_path(path, suffix=".weights.h5") as temporary:
        model.save_weights(temporary)
    return path


class SaveWeightsAt(keras.callbacks.Callback):
    """Saves the model's weights at the end of chosen epochs.

    Unlike ``keras.callbacks.ModelCheckpoint``, which saves every epoch or on
    improvement, this saves exactly the epochs asked for, each to its own file,
    atomically (see :func:`save_weights_atomic`).

    Args:
        paths: Mapping of epoch number (1-based: 1 is the end of the first epoch) to a
            ``.weights.h5`` path.
    """

    def __init__(self, paths: dict):
        super().__init__()
        self.paths = {check_int("epoch", epoch, minimum=1): path for epoch, path in paths.items()}
        for path in self.paths.values():
            if not str(path).endswith(".weights.h5"):
                raise ValueError(f"paths must end in '.weights.h5'; received {path!r}.")
        self.saved: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        path = self.paths.get(epoch + 1)
        if path is not None:
            self.saved.append(save_weights_atomic(self.model, path))
