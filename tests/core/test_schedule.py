"""Rank annealing: the schedule reaches k exactly when stated and never goes below it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svdnet.schedule import annealed_rank


@given(rank=st.integers(1, 50), extra=st.integers(0, 1000), epochs=st.integers(0, 12))
def test_falls_to_k_at_the_stated_epoch_and_never_below(rank, extra, epochs):
    start = rank + extra
    ranks = [annealed_rank(epoch, rank, epochs, start) for epoch in range(1, epochs + 6)]
    assert all(rank <= kept <= start for kept in ranks)
    assert all(a >= b for a, b in zip(ranks, ranks[1:]))  # never rises again
    assert ranks[max(epochs, 1) - 1:] == [rank] * (len(ranks) - max(epochs, 1) + 1)
    if epochs > 1 and start >= 4 * rank:  # then epoch 1 keeps >= sqrt(start * k) >= 2k
        assert ranks[0] > rank  # it does anneal: above k before the stated epoch


def test_geometric_fall_from_the_full_rank():
    # 1024 -> 20 over 4 epochs: each epoch keeps (20/1024)^(1/4) ~ 0.374 of the rank:
    # 1024 * 0.374 = 382.9, 1024 * 0.374^2 = 143.1, 1024 * 0.374^3 = 53.5 (53.47).
    assert [annealed_rank(e, 20, 4, 1024) for e in range(1, 6)] == [383, 143, 53, 20, 20]


@pytest.mark.parametrize("args, error, text", [
    ((0, 5, 3, 10), ValueError, "epoch must be an integer >= 1, received 0"),
    ((1, 5, -1, 10), ValueError, "anneal_epochs must be an integer >= 0, received -1"),
    ((1, 5, 3, 4), ValueError, "start_rank must be an integer >= 5, received 4"),
    ((1, 2.5, 3, 10), TypeError, "rank must be an integer >= 1, received 2.5 of type float"),
])
def test_bad_arguments_are_named(args, error, text):
    with pytest.raises(error, match=text):
        annealed_rank(*args)
