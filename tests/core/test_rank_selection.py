"""Rank selection on matrices with known spectra: energy, budget and per-layer ranks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svdnet.rank_selection import (
    RankRequest,
    budget_ranks,
    choose_ranks,
    energy_rank,
    rank_request,
    request_label,
)
from svdnet.cost import break_even_rank, kernel_cost
from svdnet.svd import energy_curve


def total_energy(ranks, spectra, shapes):
    kept = 0.0
    for name, rank in ranks.items():
        rows, cols = shapes[name]
        dense = rank >= min(rows, cols) or rank > break_even_rank(rows, cols)
        kept += 1.0 if dense else energy_curve(spectra[name])[rank - 1]
    return kept


def cost(ranks, shapes, fixed=0):
    return fixed + sum(kernel_cost(*shapes[name], rank) for name, rank in ranks.items())


@pytest.mark.parametrize("energy, expected", [(0.25, 1), (0.5, 2), (0.50001, 3), (0.75, 3), (1.0, 4)])
def test_energy_picks_exact_rank_on_flat_spectrum(energy, expected):
    # Four equal singular values: each carries exactly a quarter of the energy.
    assert energy_rank([2.0, 2.0, 2.0, 2.0], energy) == expected


def test_energy_on_geometric_spectrum():
    values = 0.5 ** np.arange(10)  # energies 1, 1/4, 1/16, ...: rank 1 keeps 75%
    assert energy_rank(values, 0.75) == 1
    assert energy_rank(values, 0.76) == 2
    assert energy_rank(values, 0.9375) == 2  # 1 + 1/4 of 4/3 (the total)
    assert energy_rank(values, 0.99) == 4


def test_no_request_means_reference_rank_and_labels():
    assert rank_request() == RankRequest(rank=20)
    assert request_label(rank=20) == "r20"
    assert request_label(energy=0.9) == "e0.9"
    assert request_label(budget=100000) == "p100000"
    assert request_label(rank={"hidden_1": 4, "output": 2}) == "rmap-hidden_1_r4-output_r2"
    assert rank_request(energy=0.9).describe() == "energy 0.9"
    assert rank_request(budget=100000).describe() == "budget 100,000 parameters"


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"rank": 20, "energy": 0.9}, ValueError,
         "Give only one of rank, energy or budget; received rank=20 and energy=0.9"),
        ({"energy": 0.9, "budget": 10}, ValueError, "received energy=0.9 and budget=10"),
        ({"energy": 0}, ValueError, "energy must be a fraction with 0 < energy <= 1; received 0"),
        ({"energy": -0.1}, ValueError, "received -0.1"),
        ({"energy": 1.01}, ValueError, "received 1.01"),
        ({"energy": True}, TypeError, "received True of type bool"),
        ({"energy": "0.9"}, TypeError, "received '0.9' of type str"),
        ({"budget": 0}, ValueError, "budget must be an integer >= 1, received 0"),
        ({"budget": 2.5}, TypeError, "received 2.5 of type float"),
        ({"rank": 0}, ValueError, "rank must be an integer >= 1, received 0"),
        ({"rank": {}}, ValueError, "must name at least one layer"),
        ({"rank": {1: 3}}, TypeError, "keys must be layer names (str); received 1"),
        ({"rank": {"hidden_1": 0}}, ValueError, "rank of layer 'hidden_1' must be an integer >= 1"),
    ],
)
def test_contradictory_or_impossible_requests(kwargs, error, text):
    with pytest.raises(error) as info:
        rank_request(**kwargs)
    assert text in str(info.value)


def test_per_layer_mapping_checks_names_and_sizes():
    shapes = {"a": (30, 20), "b": (20, 10)}
    assert choose_ranks(rank_request(rank={"b": 3}), shapes) == {"b": 3}
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['c'\]; the layers that can be "
                                         r"compressed are \['a', 'b'\]"):
        choose_ranks(rank_request(rank={"c": 3}), shapes)
    with pytest.raises(ValueError, match="rank of layer 'b' must be an integer between 1 and 10, received 11"):
        choose_ranks(rank_request(rank={"b": 11}), shapes)


def test_budget_prefers_the_layer_whose_energy_is_spread_out():
    # Layer "steep" keeps 99% at rank 1; "flat" needs many ranks. With room for six
    # rank steps beyond rank 1 everywhere, they should all go to "flat".
    shapes = {"steep": (40, 40), "flat": (40, 40)}
    spectra = {"steep": np.r_[10.0, np.full(39, 0.1)], "flat": np.ones(40)}
    budget = cost({"steep": 1, "flat": 7}, shapes)
    ranks = budget_ranks(spectra, shapes, budget, fixed=0)
    assert ranks == {"steep": 1, "flat": 7}


def test_budget_can_leave_a_layer_dense_but_never_grows_it():
    shapes = {"a": (10, 10)}  # break-even rank 4: rank 5 factors (100) are not smaller
    assert break_even_rank(10, 10) == 4
    ranks = budget_ranks({"a": np.ones(10)}, shapes, budget=100, fixed=0)
    assert ranks == {"a": 10} and cost(ranks, shapes) == 100
    ranks = budget_ranks({"a": np.ones(10)}, shapes, budget=99, fixed=0)
    assert ranks == {"a": 4} and cost(ranks, shapes) == 80


def test_budget_below_the_smallest_model_says_the_minimum():
    shapes = {"a": (100, 50), "b": (50, 10)}
    with pytest.raises(ValueError) as info:
        budget_ranks({"a": np.ones(50), "b": np.ones(10)}, shapes, budget=200, fixed=60)
    message = str(info.value)
    assert "budget=200 parameters is below the smallest possible model" in message
    assert "60 parameters outside the compressed kernels" in message
    assert "at least 270" in message  # 60 + (100 + 50) + (50 + 10)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(2, 40), st.integers(2, 40)), min_size=1, max_size=4),
    st.integers(0, 10_000),
    st.integers(1, 30),
    st.integers(0, 50),
)
def test_budget_fits_and_beats_the_best_uniform_rank(shapes_list, seed, uniform, fixed):
    rng = np.random.default_rng(seed)
    shapes = {f"layer{i}": shape for i, shape in enumerate(shapes_list)}
    spectra = {name: np.sort(rng.gamma(0.5, size=min(shape)))[::-1] + 1e-3
               for name, shape in shapes.items()}
    # The budget is exactly the size of a uniform-rank model.
    uniform_ranks = {name: min(uniform, min(shape)) if uniform <= break_even_rank(*shape)
                     else min(shape) for name, shape in shapes.items()}
    budget = cost(uniform_ranks, shapes, fixed)
    ranks = budget_ranks(spectra, shapes, budget, fixed)
    assert cost(ranks, shapes, fixed) <= budget
    assert all(kernel_cost(*shapes[n], r) <= shapes[n][0] * shapes[n][1] for n, r in ranks.items())
    assert total_energy(ranks, spectra, shapes) >= total_energy(uniform_ranks, spectra, shapes) - 1e-12


def test_energy_choice_per_layer():
    shapes = {"a": (8, 8), "b": (8, 8)}
    spectra = {"a": np.array([1.0] * 8), "b": np.array([4.0, 1, 1, 1, 1, 1, 1, 1])}
    # b: 16 of 23 energy at rank 1 (70%); a: 1/8 per rank.
    assert choose_ranks(rank_request(energy=0.7), shapes, spectra) == {"a": 6, "b": 2}
    assert choose_ranks(rank_request(energy=0.69), shapes, spectra) == {"a": 6, "b": 1}
