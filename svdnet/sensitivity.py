"""Per-layer ranks judged by accuracy: measure how much truncating each layer alone costs
on held-out data, then choose the ranks within a parameter budget (the greedy per-layer
selection of AIMET's spatial SVD, simplified).

Energy-based budgets (:func:`svdnet.rank_selection.budget_ranks`) never look at the data,
and can starve a layer whose small singular values still matter; this measures it.
"""

from __future__ import annotations

import keras
import numpy as np

from svdnet.cost import break_even_rank, kernel_cost
from svdnet.decompose import finite_kernels
from svdnet.kernels import KernelView
from svdnet.layers import select_layers
from svdnet.rank_selection import check_budget
from svdnet.svd import truncated_svd
from svdnet.validation import check_int
from svdnet.whitening import whitened_svd

CANDIDATE_RANKS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
"""Ranks tried per layer (those below the layer's break-even rank)."""


def accuracy_score(x, y, batch_size: int = 1024):
    """A score for :func:`layer_sensitivity`: the classification accuracy of the model's
    arg-max prediction on ``(x, y)``."""
    labels = np.asarray(y).reshape(-1)

    def score(model) -> float:
        predictions = model.predict(x, batch_size=batch_size, verbose=0)
        return float(np.mean(np.argmax(predictions, axis=-1) == labels))

    return score


def loss_score(x, y, batch_size: int = 1024):
    """A score for :func:`layer_sensitivity`: minus the model's compiled loss on
    ``(x, y)`` (higher is better), as ``model.evaluate`` computes it."""

    def score(model) -> float:
        result = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        return -float(result["loss"])

    return score


def layer_sensitivity(model: keras.Model, score, layers=None,
                      ranks=CANDIDATE_RANKS, conv_scheme: str = "weight",
                      covariances: dict | None = None) -> dict:
    """The score of ``model`` with one layer at a time truncated to each candidate rank,
    the other layers untouched; the model's weights are restored afterwards.

    Args:
        model: A built Keras model.
        score: Callable taking the model and returning a number to maximise, for example
            :func:`accuracy_score` on held-out training data (not the test set).
        layers: Names of the layers to measure, or ``None`` for every Dense, Conv2D and
            EinsumDense layer. Defaults to ``None``.
        ranks: Candidate ranks; each layer is measured at those below its break-even
            rank (where factors are smaller than the kernel). Defaults to
            :data:`CANDIDATE_RANKS`.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :mod:`svdnet.kernels`). Defaults to ``"weight"``.
        covariances: Layer key to the second moments of its inputs
            (:func:`svdnet.calibration.input_covariances`), or ``None``. Given, each
            layer is truncated as the data-aware SVD does
            (:func:`svdnet.whitening.whitened_svd`). Defaults to ``None``.

    Returns:
        Layer key to ``{rank: score}``, plus ``None: score`` for the layer left dense
        (the model's own score).
    """
    selected, _ = select_layers(model, layers, factorizing=True)
    kernels = finite_kernels(selected, "while measuring sensitivity", conv_scheme)
    baseline = float(score(model))
    result = {}
    for key, kernel in kernels.items():
        rows, cols = kernel.shape
        limit = break_even_rank(rows, cols)
        tried = sorted({check_int("rank", r, minimum=1) for r in ranks if r <= limit})
        if not tried:
            continue
        full = (whitened_svd(kernel, covariances[key]) if covariances is not None
                else truncated_svd(kernel, min(rows, cols), "exact"))
        view = KernelView(selected[key], conv_scheme)
        scores = {None: baseline}
        try:
            for rank in tried:
                view.write(full.truncate(rank).reconstruct().astype(kernel.dtype, copy=False))
                scores[rank] = float(score(model))
        finally:
            view.write(kernel)
        result[key] = scores
    return result


def sensitivity_ranks(sensitivity: dict, shapes: dict, budget: int, fixed: int) -> dict:
    """Per-layer ranks within a parameter budget, chosen by measured score.

    For a score threshold t, each layer takes the smallest candidate rank whose score
    (with that layer alone truncated) is at least t, or stays dense when none is; the
    highest t whose ranks fit the budget wins (a binary choice over the measured
    scores). Layers thus lose rank in the order their accuracy allows, not in the order
    of their singular values.

    Args:
        sensitivity: From :func:`layer_sensitivity`.
        shapes: Layer key to kernel shape, for the layers of ``sensitivity``.
        budget: Parameters allowed for the whole model.
        fixed: Parameters outside these kernels (biases, other layers).

    Returns:
        Layer key to rank, or ``None`` for a layer left dense.

    Raises:
        ValueError: when even the smallest candidate ranks exceed the budget.
    """
    check_budget(budget, shapes, fixed)

    def ranks_at(threshold):
        chosen = {}
        for key, scores in sensitivity.items():
            fits = [rank for rank, value in scores.items()
                    if rank is not None and value >= threshold]
            chosen[key] = min(fits) if fits else None
        return chosen

    def size(chosen):
        return fixed + sum(rows * cols if chosen[key] is None
                           else kernel_cost(rows, cols, chosen[key])
                           for key, (rows, cols) in shapes.items())

    thresholds = sorted({value for scores in sensitivity.values() for value in scores.values()},
                        reverse=True)
    for threshold in thresholds + [-np.inf]:
        chosen = ranks_at(threshold)
        if size(chosen) <= budget:
            return chosen
    smallest = {key: min(rank for rank in scores if rank is not None)
                for key, scores in sensitivity.items()}
    raise ValueError(
        f"budget={budget:,} parameters is below the smallest candidate ranks' model "
        f"({size(smallest):,} parameters with ranks {smallest}); give a larger budget or "
        "smaller candidate ranks.")


def loss_ranks(model: keras.Model, layers: dict, budget: int, x, y, covariances: dict | None,
               conv_scheme: str = "weight") -> dict:
    """Per-layer ranks within a budget, judged by the model's loss on labelled examples.

    Each layer is truncated alone to each of :data:`CANDIDATE_RANKS` (by the data-aware
    SVD when ``covariances`` are given) and the model's compiled loss measured on
    ``(x, y)`` (:func:`layer_sensitivity` with :func:`loss_score`); then
    :func:`sensitivity_ranks` takes, for the best loss threshold that fits the budget,
    each layer's smallest rank within it.

    Args:
        model: A built, compiled Keras model.
        layers: Key to the layers to compress (as :func:`svdnet.layers.select_layers`
            gives them).
        budget: Parameters allowed for the whole model.
        x: Calibration inputs.
        y: Their labels.
        covariances: Key to input moments, or ``None`` for weight truncations.
        conv_scheme: How a Conv2D kernel is read as a matrix. Defaults to ``"weight"``.

    Returns:
        Layer key to rank (``min(m, n)`` for a layer left dense).
    """
    measured = layer_sensitivity(model, loss_score(x, y), layers=list(layers),
                                 conv_scheme=conv_scheme, covariances=covariances)
    shapes = {key: KernelView(layers[key], conv_scheme).shape for key in layers}
    fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
    chosen = sensitivity_ranks(measured, {key: shapes[key] for key in measured}, budget,
                               fixed + sum(rows * cols for key, (rows, cols) in shapes.items()
                                           if key not in measured))
    return {key: min(shapes[key]) if chosen.get(key) is None else chosen[key]
            for key in shapes}
