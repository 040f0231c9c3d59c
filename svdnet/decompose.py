"""The decomposition step shared by the projection callback, ``factorize`` and the
truncation analysis: read the kernels, refuse NaN, choose the ranks, take the SVDs
(of the weights alone, or, given calibration data, of each layer's output on it)."""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np

from svdnet.calibration import (
    DEFAULT_MAX_EXAMPLES,
    calibration_batches,
    input_covariances,
    paired_moments,
)
from svdnet.cost import shrinks
from svdnet.kernels import KernelView
from svdnet.rank_selection import RankRequest, choose_ranks
from svdnet.svd import DEFAULT_BACKEND, TruncatedSVD, truncated_svd
from svdnet.validation import check_bool, check_choice
from svdnet.whitening import corrected_kernel, whitened_svd


class NonFiniteWeightsError(FloatingPointError):
    """Raised when a kernel to be decomposed holds NaN or infinite values."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Calibration data for a data-aware decomposition, read once.

    Build it with :func:`calibration`, which reads and checks the data.

    Attributes:
        batches: The calibration input batches, numpy arrays (at most ``max_examples``
            examples in all).
        sequential: Calibrate each layer on the inputs that the already compressed
            layers before it produce (one pass over the batches per layer), rather
            than every layer on the uncompressed model's inputs (one pass in all).
        allocation: How a budget is shared among layers: one of :data:`ALLOCATIONS`.
        labelled: ``(x, y)`` arrays of at most ``max_examples`` calibration examples
            with their labels, for ``allocation="loss"`` (else ``None``).
    """

    batches: tuple
    sequential: bool = False
    allocation: str = "energy"
    labelled: tuple | None = None

    @property
    def examples(self) -> int:
        """The number of calibration examples read (at most the ``max_examples`` asked)."""
        return sum(len(batch) for batch in self.batches)


ALLOCATIONS = ("energy", "loss")
"""How a budget's parameters are shared among layers, with calibration data:

- ``"energy"``: the most output energy kept (the whitened spectra, no further forward
  pass): the default, since it needs no labels and no loss, and costs nothing beyond the
  calibration pass;
- ``"loss"``: each layer truncated alone to each candidate rank and the model's compiled
  loss measured on labelled calibration examples (``data=(x, y)``); the ranks of the best
  loss threshold that fits (:func:`svdnet.sensitivity.loss_ranks`). A forward pass over
  the examples per layer and candidate rank.
"""


def check_sequential(data, sequential) -> bool:
    """Checks ``sequential``: True or False, and True only with calibration data."""
    check_bool("sequential", sequential)
    if sequential and data is None:
        raise ValueError("sequential=True calibrates layers on data; give data too "
                         "(received data=None).")
    return sequential


def calibration(model, data, sequential: bool = False,
                max_examples: int = DEFAULT_MAX_EXAMPLES, allocation: str = "energy",
                request: RankRequest | None = None) -> Calibration | None:
    """Reads calibration data for ``model`` once (``None`` when ``data`` is ``None``).

    Args:
        model: The model the data are inputs of.
        data: Any form :func:`svdnet.calibration.calibration_batches` reads, or ``None``.
        sequential: See :class:`Calibration`. Defaults to ``False``.
        max_examples: Most examples read. Defaults to 2048.
        allocation: One of :data:`ALLOCATIONS`. Defaults to ``"energy"``.
        request: The rank request, to check that ``allocation="loss"`` comes with a
            budget. Defaults to ``None``.

    Raises:
        TypeError, ValueError: from :func:`svdnet.calibration.calibration_batches`,
            naming the bad data; for a ``sequential`` that is not a bool; for
            ``allocation="loss"`` without a budget, labelled data or a compiled model.
    """
    check_sequential(data, sequential)
    check_choice("allocation", allocation, ALLOCATIONS)
    labelled = None
    if allocation == "loss":
        labelled = _labelled(model, data, request, max_examples)
    if data is None:
        return None
    return Calibration(tuple(calibration_batches(data, model, max_examples)), sequential,
                       allocation, labelled)


def _labelled(model, data, request, max_examples: int) -> tuple:
    """The ``(x, y)`` arrays that ``allocation="loss"`` judges ranks on."""
    if request is not None and request.kind != "budget":
        raise ValueError(f"allocation='loss' shares a budget among layers; received "
                         f"{request.describe()}. Give budget=... or leave allocation "
                         "at 'energy'.")
    if not (isinstance(data, tuple) and len(data) in (2, 3)):
        raise ValueError(f"allocation='loss' judges ranks by the model's loss on labelled "
                         f"examples: give data=(x, y) arrays; received "
                         f"{type(data).__name__ if data is not None else 'data=None'}.")
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        raise ValueError(f"allocation='loss' needs a compiled model (its loss judges the "
                         f"ranks); model {model.name!r} is not compiled with a loss.")
    x, y = (np.asarray(keras.ops.convert_to_numpy(part)) for part in data[:2])
    if len(x) != len(y):
        raise ValueError(f"data=(x, y) must hold as many labels as inputs; received "
                         f"{len(x)} inputs and {len(y)} labels.")
    return x[:max_examples], y[:max_examples]


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
    svd_method: str = DEFAULT_BACKEND,
    seed: int | None = 0,
    when: str = "",
    only_shrinking: bool = False,
    conv_scheme: str = "weight",
    calibrated: Calibration | None = None,
) -> Decomposition:
    """Reads the layers' kernels, chooses their ranks and takes their truncated SVDs.

    With a rank or per-layer request, each kernel whose rank is below ``min(m, n)``
    gets a truncated SVD by ``svd_method``. With an energy or budget request every kernel's
    full spectrum is needed first: each gets one exact SVD, truncated afterwards to the
    rank chosen from the spectra (the budget counts the model's other parameters as
    fixed). With ``request=None`` every kernel gets its complete exact SVD.

    With calibration data every kernel instead gets the complete data-aware SVD of its
    output on that data (:func:`svdnet.whitening.whitened_svd`, ``svd_method`` unused):
    energies, budgets and errors are then those of the layers' outputs. A sequential
    calibration chooses the ranks on the uncompressed model's inputs, then takes each
    kernel's SVD again on the inputs that the layers before it, already truncated,
    produce (the kernels are written back as they were before this returns).

    Args:
        model: The model holding ``layers`` (its parameter count sizes a budget).
        layers: Key to Dense, Conv2D or EinsumDense layer, for the layers to decompose.
        request: A :class:`svdnet.rank_selection.RankRequest`, or ``None`` for every
            singular triplet.
        svd_method: SVD backend for fixed ranks: ``"auto"``, ``"exact"`` or
            ``"randomized"``. Defaults to :data:`svdnet.svd.DEFAULT_BACKEND`.
        seed: Seed of the randomized backend. Defaults to 0.
        when: Words for a NaN error, for example ``"at epoch 3"``. Defaults to ``""``.
        only_shrinking: Decompose only the kernels whose rank-k factors are smaller
            than the kernel (what ``factorize`` stores). Defaults to ``False``.
        conv_scheme: How a Conv2D kernel is read as a matrix (see
            :func:`finite_kernels`). Defaults to ``"weight"``.
        calibrated: Calibration data from :func:`calibration`, or ``None`` for the
            SVD of the weights alone. Defaults to ``None``.

    Returns:
        A :class:`Decomposition`.

    Raises:
        NonFiniteWeightsError: when a kernel holds NaN or infinite values.
        ValueError: from rank selection (an unknown layer in a mapping, a budget below
            the smallest model).
    """
    kernels = finite_kernels(layers, when, conv_scheme)
    ranks, full, fixed = calibrated_ranks(model, layers, kernels, request, calibrated,
                                          conv_scheme)
    shapes = kernel_shapes(kernels)
    svds = {}
    for name, rank in ranks.items():
        if only_shrinking and not _shrinks(shapes[name], rank):
            continue
        if name in full:
            svds[name] = full[name].truncate(rank)
        elif rank < min(shapes[name]):
            svds[name] = truncated_svd(kernels[name], rank, svd_method=svd_method, seed=seed)
    if calibrated is not None and calibrated.sequential:
        svds = _sequential_svds(model, layers, kernels, svds, calibrated, conv_scheme)
    return Decomposition(kernels, ranks, svds, fixed)


def _sequential_svds(model, layers: dict, kernels: dict, svds: dict, calibrated: Calibration,
                     conv_scheme: str) -> dict:
    """Each kernel's rank-k factors again, in model order, for the inputs that the
    already truncated layers before it produce, aimed at the layer's *original* output:
    the data-aware SVD of :func:`svdnet.whitening.corrected_kernel`. Until a first
    kernel is truncated the inputs are the uncompressed model's, and the one-pass SVDs
    stand. The kernels are written back as they were before this returns."""
    views = {name: KernelView(layers[name], conv_scheme) for name in svds}
    truncated: dict = {}

    @contextlib.contextmanager
    def original():
        for name in truncated:
            views[name].write(kernels[name])
        try:
            yield
        finally:
            for name, matrix in truncated.items():
                views[name].write(matrix)

    result = {}
    try:
        for name, svd in svds.items():
            if truncated:
                covariance, cross = paired_moments(model, name, layers[name],
                                                   calibrated.batches, original, conv_scheme)
                target = corrected_kernel(kernels[name], covariance, cross)
                svd = whitened_svd(target, covariance).truncate(svd.rank)
            result[name] = svd
            if svd.rank < min(kernels[name].shape):
                truncated[name] = svd.reconstruct().astype(kernels[name].dtype, copy=False)
                views[name].write(truncated[name])
    finally:
        for name, view in views.items():
            view.write(kernels[name])
    return result


def calibrated_ranks(model: keras.Model, layers: dict, kernels: dict,
                     request: RankRequest | None, calibrated: Calibration | None,
                     conv_scheme: str = "weight") -> tuple[dict, dict, int]:
    """:func:`choose_layer_ranks` on the layers' output spectra when calibration data
    are given (the inputs' moments taken in one pass), and by the model's loss for
    ``allocation="loss"``.

    Args:
        model: The model holding the layers.
        layers: Key to the layers to compress.
        kernels: Key to their kernel matrices (:func:`finite_kernels`).
        request: The rank request, or ``None`` for full rank.
        calibrated: From :func:`calibration`, or ``None``.
        conv_scheme: How a Conv2D kernel is read as a matrix. Defaults to ``"weight"``.

    Returns:
        ``(ranks, full, fixed)`` as :func:`choose_layer_ranks` returns them.
    """
    if calibrated is None:
        return choose_layer_ranks(model, kernels, request)
    # every example read (max_examples may exceed input_covariances' default cap)
    covariances = input_covariances(model, layers, list(calibrated.batches),
                                    max_examples=calibrated.examples, conv_scheme=conv_scheme)
    ranks, full, fixed = choose_layer_ranks(model, kernels, request, covariances)
    if calibrated.allocation == "loss":
        # Imported here: svdnet.sensitivity reads kernels through this module.
        from svdnet.sensitivity import loss_ranks

        x, y = calibrated.labelled
        ranks = loss_ranks(model, layers, request.budget, x, y, covariances, conv_scheme)
    return ranks, full, fixed


def choose_layer_ranks(model: keras.Model, kernels: dict, request: RankRequest | None,
                       covariances: dict | None = None) -> tuple[dict, dict, int]:
    """Chooses each kernel's rank; takes the SVDs that the choice needs.

    Args:
        model: The model holding the kernels (its parameter count sizes a budget).
        kernels: Layer name to kernel (from :func:`finite_kernels`).
        request: A :class:`svdnet.rank_selection.RankRequest`, or ``None`` for full rank.
        covariances: Layer name to the second moments of its inputs
            (:func:`svdnet.calibration.input_covariances`), or ``None``. Given, every
            kernel gets its complete data-aware SVD, and ranks are chosen from those
            (output) spectra. Defaults to ``None``.

    Returns:
        ``(ranks, full, fixed)``: layer name to rank; layer name to the complete exact
        (or data-aware) SVD, for energy, budget and ``None`` requests and for every
        request with ``covariances`` (empty otherwise); and the model's parameters
        outside these kernels.
    """
    shapes = kernel_shapes(kernels)
    fixed = int(model.count_params()) - sum(rows * cols for rows, cols in shapes.values())
    full: dict[str, TruncatedSVD] = {}
    if covariances is not None:
        full = {name: whitened_svd(kernel, covariances[name])
                for name, kernel in kernels.items()}
    elif request is None or request.needs_spectrum:
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
