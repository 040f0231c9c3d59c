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


def layer_sensitivity(model: keras.Model, score, layers=None,
                      ranks=CANDIDATE_RANKS, conv_scheme: str = "weight") -> dict:
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

    Returns:
        Layer key to ``{rank: score}``, plus ``None: score`` for the layer left dense
        (the model's own score).
    """
    selected, _ = select_layers(model, layers, factorising=True)
    kernels = finite_kernels(selected, "while measuring sensitivity", conv_scheme)
    baseline = float(score(model))
    result = {}
    for key, kernel in kernels.items():
        rows, cols = kernel.shape
        limit = break_even_rank(rows, cols)
        tried = sorted({check_int("rank", r, minimum=1) for r in ranks if r <= limit})
        if not tried:
            continue
        full = truncated_svd(kernel, min(rows, cols), "exact")
        view = KernelView(selected[key], conv_scheme)
        scores = {None: baseline}
        try:
            for rank in tried:
                view.write(full.truncate(rank).reconstruct())
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
