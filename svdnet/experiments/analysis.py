"""Post-training analysis: how accuracy falls as trained kernels are truncated."""

from __future__ import annotations

import os

import keras
import numpy as np
import pandas as pd

from svdnet.experiments.data import Dataset
from svdnet.experiments.config import RunConfig
from svdnet.experiments.training import train
from svdnet.decompose import decompose
from svdnet.experiments.results import atomic_path
from svdnet.layers import kernel_layer_map
from svdnet.params import parameter_counts
from svdnet.validation import check_rank


def load_or_train_dense(data: Dataset, config: RunConfig, model_path: str = "") -> keras.Model:
    """Loads a trained dense model from ``model_path``, or trains one and saves it there.

    Args:
        data: The dataset to train on.
        config: Training configuration; its method is forced to ``"dense"``.
        model_path: A ``.keras`` file. When it exists it is loaded (and must match the
            data's input size); when it does not, the trained model is saved there. An
            empty string trains without saving. Defaults to ``""``.

    Returns:
        A compiled, trained Keras model.
    """
    if model_path and not model_path.endswith(".keras"):
        raise ValueError(f"model_path must end in '.keras'; received {model_path!r}.")
    if model_path and os.path.exists(model_path):
        model = keras.models.load_model(model_path)
        if model.input_shape[-1] != data.input_dim:
            raise ValueError(
                f"The model in {model_path!r} takes {model.input_shape[-1]} inputs but "
                f"dataset {data.name!r} has {data.input_dim}."
            )
        return model
    model = train(data, config.dense_twin()).model
    if model_path:
        with atomic_path(model_path, suffix=".keras") as temporary:
            model.save(temporary)  # never a half-written model at model_path
    return model


def truncation_sweep(model: keras.Model, x, y, ranks, layers=None, batch_size: int = 1024) -> pd.DataFrame:
    """Truncates a trained model's Dense kernels at each rank and tests it.

    Each selected kernel is decomposed once (exact SVD); each rank then reuses that
    decomposition. Kernels with ``min(m, n) <= rank`` are left as they are. The model's
    weights are restored afterwards.

    Args:
        model: A trained, compiled Keras model with an accuracy metric.
        x: Test features.
        y: Test labels.
        ranks: Ranks to try, positive integers.
        layers: Names of the Dense layers to truncate, or ``None`` for all. Defaults to
            ``None``.
        batch_size: Evaluation batch size. Defaults to 1024.

    Returns:
        One row per rank: ``rank``, ``test accuracy``, ``test loss``, ``parameters``
        (dense), ``factorized parameters``, ``compression`` and ``mean energy kept``.
    """
    ranks = [check_rank(rank) for rank in ranks]
    selected = kernel_layer_map(model, layers)
    parts = decompose(model, selected, None)  # NaN check, every singular triplet, exact
    original, full = parts.kernels, parts.svds
    rows = []
    try:
        for rank in ranks:
            energies = []
            for key, layer in selected.items():
                if min(original[key].shape) <= rank:
                    layer.kernel.assign(original[key])
                    continue
                truncated = full[key].truncate(rank)
                layer.kernel.assign(truncated.reconstruct().astype(original[key].dtype))
                energies.append(truncated.energy_kept())
            loss, accuracy = model.evaluate(x, y, batch_size=batch_size, verbose=0)[:2]
            counts = parameter_counts(model, rank, layers)
            rows.append({
                "rank": rank,
                "test accuracy": float(accuracy),
                "test loss": float(loss),
                "parameters": counts["dense"],
                "factorized parameters": counts["factorized"],
                "compression": counts["ratio"],
                "mean energy kept": float(np.mean(energies)) if energies else 1.0,
            })
    finally:
        for key, layer in selected.items():
            layer.kernel.assign(original[key])
    return pd.DataFrame(rows)
