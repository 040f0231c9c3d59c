"""Ranks judged by accuracy: per-layer sensitivity and the budget choice from it."""

import keras
import numpy as np
import pytest

from svdnet.cost import kernel_cost
from svdnet.sensitivity import accuracy_score, layer_sensitivity, sensitivity_ranks
from tests.conftest import mlp


def test_ranks_follow_the_measured_scores_within_the_budget():
    shapes = {"a": (100, 100), "b": (100, 100)}
    sensitivity = {"a": {None: 1.0, 1: 0.50, 4: 0.90, 8: 0.99},
                   "b": {None: 1.0, 1: 0.95, 4: 0.99, 8: 0.999}}
    # 1,800 parameters: a at rank 8 (1,600) and b at rank 1 (200). Layer a loses accuracy
    # fast, so it keeps the rank; an allocation by singular values cannot know that.
    assert sensitivity_ranks(sensitivity, shapes, budget=1_800, fixed=0) == {"a": 8, "b": 1}
    # More room: both keep more, and a layer whose every rank hurts stays dense.
    assert sensitivity_ranks(sensitivity, shapes, budget=2_400, fixed=0) == {"a": 8, "b": 4}
    roomy = sensitivity_ranks(sensitivity, shapes, budget=30_000, fixed=0)
    assert roomy == {"a": None, "b": None}
    for budget in (400, 1_000, 1_800, 2_400, 5_000):
        chosen = sensitivity_ranks(sensitivity, shapes, budget=budget, fixed=0)
        size = sum(100 * 100 if r is None else kernel_cost(100, 100, r) for r in chosen.values())
        assert size <= budget


def test_a_budget_below_the_smallest_model_is_named():
    with pytest.raises(ValueError, match="budget=100 parameters is below the smallest"):
        sensitivity_ranks({"a": {None: 1.0, 1: 0.5}}, {"a": (100, 100)}, budget=100, fixed=0)
    with pytest.raises(ValueError, match="budget=500 parameters is below the smallest candidate"):
        sensitivity_ranks({"a": {None: 1.0, 4: 0.5}}, {"a": (100, 100)}, budget=500, fixed=0)


def test_sensitivity_measures_each_layer_alone_and_restores_the_weights():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 16)).astype("float32")
    y = x[:, :4].argmax(axis=1)
    model = mlp(input_dim=16, num_classes=4, depth=2, width=32)
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    score = accuracy_score(x, y)
    measured = layer_sensitivity(model, score, ranks=(1, 2, 8, 15))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # hidden_1 is 16 x 32 (break-even rank 10), hidden_2 32 x 32 (15), output 32 x 4 (3).
    assert sorted(measured["hidden_1"], key=str) == [1, 2, 8, None]
    assert sorted(measured["hidden_2"], key=str) == [1, 15, 2, 8, None]
    assert sorted(measured["output"], key=str) == [1, 2, None]
    assert measured["hidden_2"][None] == pytest.approx(score(model))
    # Truncating one layer to rank 1 costs accuracy against the model itself.
    assert measured["hidden_2"][1] < measured["hidden_2"][None]
