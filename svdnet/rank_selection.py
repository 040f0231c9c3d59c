"""Choosing each layer's rank: one rank, a per-layer mapping, an energy threshold, or a
parameter budget for the whole model."""

from __future__ import annotations

import dataclasses
import heapq
import numbers

import numpy as np

from svdnet.cost import break_even_rank, kernel_cost
from svdnet.svd import energy_curve
from svdnet.validation import check_int, check_rank

REFERENCE_RANK = 20
"""The rank used when none of ``rank``, ``energy`` and ``budget`` is given."""


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class RankRequest:
    """What a user asked for: exactly one of ``rank``, ``energy`` or ``budget``.

    Build it with :func:`rank_request`, which validates it.

    Attributes:
        rank: One rank for every layer (an int), or a mapping of layer name to rank.
        energy: Fraction ``0 < energy <= 1`` of each layer's squared singular values to
            keep, with the smallest rank that does.
        budget: Parameter count of the whole factorized model.
    """

    rank: int | dict | None = None
    energy: float | None = None
    budget: int | None = None

    @property
    def kind(self) -> str:
        """``"rank"``, ``"per_layer"``, ``"energy"`` or ``"budget"``."""
        if self.energy is not None:
            return "energy"
        if self.budget is not None:
            return "budget"
        return "per_layer" if isinstance(self.rank, dict) else "rank"

    @property
    def needs_spectrum(self) -> bool:
        """True when the ranks depend on the singular values (energy and budget)."""
        return self.kind in ("energy", "budget")

    def describe(self) -> str:
        """A short label, for example ``"rank 20"`` or ``"energy 0.9"``."""
        if self.kind == "energy":
            return f"energy {self.energy:g}"
        if self.kind == "budget":
            return f"budget {self.budget:,} parameters"
        if self.kind == "per_layer":
            return "ranks " + ", ".join(f"{name} {rank}" for name, rank in self.rank.items())
        return f"rank {self.rank}"


def rank_request(rank=None, energy=None, budget=None) -> RankRequest:
    """Validates a rank choice; with none given, rank :data:`REFERENCE_RANK` (20).

    Args:
        rank: A positive int, or a non-empty mapping of layer name to positive int.
        energy: A number with ``0 < energy <= 1``.
        budget: A positive int: the total parameter count of the factorized model.

    Returns:
        A :class:`RankRequest`.

    Raises:
        ValueError: when more than one is given, or a value is out of range.
        TypeError: for a value of the wrong type.
    """
    given = {name: value for name, value in
             (("rank", rank), ("energy", energy), ("budget", budget)) if value is not None}
    if len(given) > 1:
        received = " and ".join(f"{name}={value!r}" for name, value in given.items())
        raise ValueError(
            f"Give only one of rank, energy or budget; received {received}. Set the "
            "others to None."
        )
    if not given:
        return RankRequest(rank=REFERENCE_RANK)
    if rank is not None:
        if isinstance(rank, dict):
            if not rank:
                raise ValueError("A per-layer rank mapping must name at least one layer; "
                                 "received an empty mapping.")
            for name in rank:
                if not isinstance(name, str):
                    raise TypeError(f"Per-layer rank keys must be layer names (str); "
                                    f"received {name!r}.")
            return RankRequest(rank={name: check_rank(value, name=f"rank of layer {name!r}")
                                     for name, value in rank.items()})
        return RankRequest(rank=check_rank(rank))
    if energy is not None:
        if not _is_number(energy):
            raise TypeError(f"energy must be a number with 0 < energy <= 1; received "
                            f"{energy!r} of type {type(energy).__name__}.")
        if not 0 < energy <= 1:
            raise ValueError(f"energy must be a fraction with 0 < energy <= 1; received "
                             f"{energy!r}.")
        return RankRequest(energy=float(energy))
    return RankRequest(budget=check_int("budget", budget, minimum=1))


def energy_rank(values, energy: float) -> int:
    """The smallest rank whose squared singular values reach ``energy`` of the total.

    Args:
        values: Singular values, in decreasing order.
        energy: Fraction with ``0 < energy <= 1``.

    Returns:
        A rank between 1 and ``len(values)``.
    """
    curve = energy_curve(values)
    # A relative tolerance of a few rounding errors, so that a spectrum whose energy is
    # exactly the threshold at rank r gives r, not r + 1.
    reached = curve >= energy * (1 - 1e-12)
    return int(np.argmax(reached)) + 1 if reached.any() else len(curve)


def _energy_at(curve, rank: int, rows: int, cols: int) -> float:
    if rank >= min(rows, cols) or rank > break_even_rank(rows, cols):
        return 1.0  # left dense
    return float(curve[rank - 1])


def smallest_budget(shapes: dict, fixed: int) -> int:
    """The parameter count of the smallest model a budget can give: rank-1 factors for
    every kernel (the kernel itself where even those would not be smaller), plus the
    ``fixed`` parameters outside the kernels."""
    return fixed + sum(kernel_cost(rows, cols, 1) for rows, cols in shapes.values())


def check_budget(budget: int, shapes: dict, fixed: int) -> int:
    """Checks that a parameter budget can be met, before any work.

    Args:
        budget: Total parameters allowed for the model.
        shapes: Layer key to kernel shape ``(m, n)`` of the kernels to compress.
        fixed: Parameters outside these kernels (biases, other layers).

    Raises:
        ValueError: naming the budget and the smallest possible model.
    """
    minimum = smallest_budget(shapes, fixed)
    if budget < minimum:
        raise ValueError(
            f"budget={budget:,} parameters is below the smallest possible model: "
            f"{fixed:,} parameters outside the compressed kernels (biases and layers "
            f"left dense) plus {minimum - fixed:,} for rank-1 factors of "
            f"{len(shapes)} kernel(s) = {minimum:,}. Give a budget of at least {minimum:,}."
        )
    return budget


def budget_ranks(spectra: dict, shapes: dict, budget: int, fixed: int) -> dict:
    """Per-layer ranks that keep the most relative spectral energy within a budget.

    Maximises the sum over layers of the fraction of each layer's squared singular
    values kept, subject to ``fixed + sum(kernel_cost) <= budget``, where a layer is
    either rank-k factors (``1 <= k <=`` its break-even rank) or left dense (rank
    ``min(m, n)``, all its energy, ``m * n`` parameters): no layer ever grows. A greedy
    pass takes the steps with the most energy per parameter; since a knapsack can
    defeat greedy choices, the best uniform rank that fits is also tried, topped up
    greedily, and the better of the two kept: the result never keeps less energy than
    the best uniform rank within the same budget.

    Args:
        spectra: Layer name to singular values (decreasing).
        shapes: Layer name to kernel shape ``(m, n)``.
        budget: Total parameters allowed for the model.
        fixed: Parameters outside these kernels (biases, other layers).

    Returns:
        Layer name to rank (``min(m, n)`` for a layer left dense).

    Raises:
        ValueError: when even rank 1 everywhere does not fit, saying the minimum.
    """
    names = list(shapes)
    check_budget(budget, shapes, fixed)
    curves = {name: energy_curve(spectra[name]) for name in names}

    def energy(ranks):
        return sum(_energy_at(curves[n], ranks[n], *shapes[n]) for n in names)

    def cost(ranks):
        return fixed + sum(kernel_cost(*shapes[n], ranks[n]) for n in names)

    def top_up(ranks):
        ranks = dict(ranks)
        left = budget - cost(ranks)
        heap = []

        def push(name):
            rows, cols = shapes[name]
            rank, full = ranks[name], min(rows, cols)
            if rank >= full:
                return
            if rank < break_even_rank(rows, cols):
                step_rank, step_cost = rank + 1, rows + cols
            else:
                step_rank, step_cost = full, rows * cols - kernel_cost(rows, cols, rank)
            gain = (_energy_at(curves[name], step_rank, rows, cols)
                    - _energy_at(curves[name], rank, rows, cols))
            priority = -np.inf if step_cost == 0 else -gain / step_cost
            heapq.heappush(heap, (priority, name, step_rank, step_cost))

        for name in names:
            push(name)
        while heap:
            _, name, step_rank, step_cost = heapq.heappop(heap)
            if step_cost <= left:
                ranks[name] = step_rank
                left -= step_cost
                push(name)
        return ranks

    # Rank 1 everywhere, except kernels too small for any factors to be smaller.
    greedy = top_up({name: 1 if break_even_rank(*shapes[name]) else min(shapes[name])
                     for name in names})
    best_uniform = None
    for rank in range(1, max(min(shape) for shape in shapes.values()) + 1):
        uniform = {n: min(rank, min(shapes[n])) if rank <= break_even_rank(*shapes[n])
                   else min(shapes[n]) for n in names}
        if cost(uniform) <= budget:
            best_uniform = uniform
    candidates = [greedy] + ([top_up(best_uniform)] if best_uniform else [])
    return max(candidates, key=energy)


def choose_ranks(request: RankRequest, shapes: dict, spectra: dict | None = None,
                 fixed: int = 0) -> dict:
    """Resolves a :class:`RankRequest` to one rank per layer.

    Args:
        request: From :func:`rank_request`.
        shapes: Layer name to kernel shape ``(m, n)``, for the layers to compress.
        spectra: Layer name to singular values; needed for energy and budget.
        fixed: For a budget: the model's parameters outside these kernels.

    Returns:
        Layer name to rank, for the layers to compress (a per-layer mapping may leave
        layers out: those stay as they are). A rank at or above ``min(m, n)`` leaves
        the kernel whole.

    Raises:
        ValueError: for a mapping naming an unknown layer or a rank above a layer's
            ``min(m, n)``, or a budget below the smallest possible model.
    """
    if request.kind == "rank":
        return {name: request.rank for name in shapes}
    if request.kind == "per_layer":
        unknown = sorted(set(request.rank) - set(shapes))
        if unknown:
            raise ValueError(f"Per-layer ranks name unknown layer(s) {unknown}; the layers "
                             f"that can be compressed are {list(shapes)}.")
        return {name: check_rank(rank, maximum=min(shapes[name]),
                                 name=f"rank of layer {name!r}")
                for name, rank in request.rank.items()}
    if spectra is None:
        raise ValueError(f"Choosing ranks by {request.kind} needs the layers' singular values.")
    if request.kind == "energy":
        return {name: energy_rank(spectra[name], request.energy) for name in shapes}
    return budget_ranks(spectra, shapes, request.budget, fixed)


def request_label(rank=None, energy=None, budget=None) -> str:
    """A file-name-safe label: ``r20``, ``e0.9``, ``p100000`` or ``rmap-hidden_1_r4-...``."""
    request = rank_request(rank, energy, budget)
    if request.kind == "energy":
        return f"e{request.energy:g}"
    if request.kind == "budget":
        return f"p{request.budget}"
    if request.kind == "per_layer":
        return "rmap-" + "-".join(f"{name}_r{rank}" for name, rank in request.rank.items())
    return f"r{request.rank}"
