"""Rank annealing: the rank an epoch-end projection keeps falls from a start rank to the
target rank over the first epochs, instead of dropping to it at the first epoch."""

from __future__ import annotations

from svdnet.validation import check_int


def annealed_rank(epoch: int, rank: int, anneal_epochs: int, start_rank: int) -> int:
    """The rank kept at the end of ``epoch`` (1-based) when annealing from ``start_rank``
    to ``rank`` over ``anneal_epochs`` epochs.

    The rank falls geometrically, ``start_rank * (rank / start_rank) ** (epoch /
    anneal_epochs)`` rounded, so each epoch removes the same fraction of what is left;
    it is ``rank`` exactly from epoch ``anneal_epochs`` on, and never below ``rank`` or
    above ``start_rank``.

    Args:
        epoch: The epoch that just ended, from 1.
        rank: The target rank k, >= 1.
        anneal_epochs: Epochs over which the rank falls, >= 0; 0 keeps ``rank`` from the
            first epoch (no annealing).
        start_rank: The rank the fall starts from (for example the kernel's full rank),
            >= ``rank``.

    Returns:
        The rank to keep, an integer between ``rank`` and ``start_rank``.

    Raises:
        TypeError, ValueError: for a bad argument, naming it.
    """
    epoch = check_int("epoch", epoch, minimum=1)
    rank = check_int("rank", rank, minimum=1)
    anneal_epochs = check_int("anneal_epochs", anneal_epochs, minimum=0)
    start_rank = check_int("start_rank", start_rank, minimum=rank)
    if epoch >= anneal_epochs:
        return rank
    kept = round(start_rank * (rank / start_rank) ** (epoch / anneal_epochs))
    return min(start_rank, max(rank, kept))
