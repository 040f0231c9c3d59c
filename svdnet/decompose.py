"""The decomposition step shared by the projection callback, ``factorize`` and the
truncation analysis: read the kernels, refuse NaN, choose the ranks, take the SVDs."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from svdnet.cost import shrinks
from svdnet.kernels import KernelView
from svdnet.rank_selection import RankRequest, choose_ranks
from svdnet.svd import TruncatedSVD, truncated_svd


class NonFiniteWeightsError(FloatingPointError):
    """Raised when a kernel to be decomposed holds NaN or infinite values."""


@dataclasses.dataclass(frozen=True)
class Decomposition:
    """The kernels of some layers, the rank chosen for each, and their SVDs.

    Attributes:
        kernels: Layer key to kernel matrix (:mod:`svdnet.kernels`), as a numpy array
            in the kernel's dtype (keys as :func:`svdnet.layers.layer_map` gives them).
        ranks: Layer key to the rank chosen for it (a per-layer mapping may leave
            layers out; a rank at or above ``min(m, n)`` leaves the kernel whole).
        svds: Layer key to its :class:`svdnet.svd.TruncatedSVD` at the chosen rank,
            for the layers that have one (see :func:`decompose`).
        fixed: Parameters of the model outside these kernels.
    """

    kernels: dict
    ranks: dict
    svds: dict
    fixed: int

    @property
    def shapes(self) -> dict:
        """Layer key to kernel shape ``(m, n)``."""
        return kernel_shapes(self.kernels)


def kernel_shapes(kernels: dict) -> dict:
    """Layer key to the shape ``(m, n)`` of its kernel, as Python ints."""
    return {key: tuple(int(size) for size in kernel.shape) for key, kernel in kernels.items()}


def finite_kernels(layers: dict, when: str = "", conv_scheme: str = "weight") -> dict:
    """Returns each layer's kernel matrix as a numpy array, refusing NaN and infinity.

    Args:
        layers: Key to built Dense, Conv2D or EinsumDense layer (see
            :func:`svdnet.layers.layer_map`).
        when: Words placed in the error message, for example ``"at epoch 3"``.
            Defaults to ``""``.
        conv_scheme: How a Conv2D kernel is read as a matrix, ``"weight"`` or
            ``"spatial"`` (see :mod:`svdnet.kernels`). Defaults to ``"weight"``.

    Raises:
        NonFiniteWeightsError: naming the first layer whose kernel is not finite.
    """
    kernels = {}
    for key, layer in layers.items():
        kernel = KernelView(layer, conv_scheme).read()
        if not np.all(np.isfinite(kernel)):
            when_text = f" {when}" if when else ""
            raise NonFiniteWeightsError(
                f"Layer {key!r} has NaN or infinite kernel weights{when_text}; "
                "training diverged before the SVD. Lower the learning rate or check the "
                "input data."
            )
        kernels[key] = kernel
    return kernels


def decompose(
    model: keras.Model,
    layers,
    request: RankRequest | None,
    method: str = "auto",
    seed: int | None = 0,
    when: str = "",
    only_shrinking: bool = False,
    conv_scheme: str = "weight",
) -> Decomposition:
    """Reads the layers' kernels, chooses their ranks and takes their truncated SVDs.

    With a rank or per-layer request, each kernel whose rank is below ``min(m, n)``
    gets a truncated SVD by ``method``. With an energy or budget request every kernel's
    full spectrum is needed first: each gets one exact SVD, truncated afterwards to the
    rank chosen from the spectra (the budget counts the model's other parameters as
    fixed). With ``request=None`` every kernel gets its complete exact SVD.

    Args:
        model: The model holding ``layers`` (its parameter count sizes a budget).
        layers: Key to Dense, Conv2D or EinsumDense layer, for the layers to decompose.
        request: A :class:`svdnet.rank_selection.RankRequest`, or ``None`` for every
            singular triplet.
        method: SVD backend for fixed ranks: ``"auto"``, ``"exact"`` or
            ``"randomized"``. Defaults to ``"auto"``.
        seed: Seed of the randomized backend. Defaults to 0.
        when: Words for a NaN error, for example ``"at epoch 3"``. Defaults to ``""``.
        only_shrinking: Decompose only the kernels whose rank-k factors are smaller
            than the kernel (what ``factorize`` stores). Defaults to ``False``.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :func:`finite_kernels`). Defaults to ``"weight"``.

    Returns:
        A :class:`Decomposition`.

    Raises:
        NonFiniteWeightsError: when a kernel holds NaN or infinite values.
        ValueError: from rank selection (an unknown layer in a mapping, a budget below
            the smallest model).
    """
    kernels = finite_kernels(layers, when, conv_scheme)
    ranks, full, fixed = choose_layer_ranks(model, kernels, request)
    shapes = kernel_shapes(kernels)
    svds = {}
    for name, rank in ranks.items():
        if only_shrinking and not _shrinks(shapes[name], rank):
            continue
        if name in full:
            svds[name] = full[name].truncate(rank)
        elif rank < min(shapes[name]):
            svds[name] = truncated_svd(kernels[name], rank, method=method, seed=seed)
    return Decomposition(kernels, ranks, svds, fixed)


def choose_layer_ranks(model: keras.Model, kernels: dict,
                       request: RankRequest | None) -> tuple[dict, dict, int]:
    """Chooses each kernel's rank; takes the exact SVDs that the choice needs.

    Args:
        model: The model holding the kernels (its parameter count sizes a budget).
        kernels: Layer name to kernel (from :func:`finite_kernels`).
        request: A :class:`svdnet.rank_selection.RankRequest`, or ``None`` for full rank.

    Returns:
        ``(ranks, full, fixed)``: layer name to rank; layer name to the complete exact
        SVD, for energy, budget and ``None`` requests (empty otherwise); and the
        model's parameters outside these kernels.
    """
    shapes = kernel_shapes(kernels)
    fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
    full: dict[str, TruncatedSVD] = {}
    if request is None or request.needs_spectrum:
        full = {name: truncated_svd(kernel, min(kernel.shape), "exact")
                for name, kernel in kernels.items()}
    if request is None:
        ranks = {name: min(shape) for name, shape in shapes.items()}
    else:
        ranks = choose_ranks(request, shapes, {name: svd.s for name, svd in full.items()}
                             if full else None, fixed)
    return ranks, full, fixed


def _shrinks(shape, rank) -> bool:
    rows, cols = shape
    return shrinks(rows, cols, min(rank, rows, cols))
