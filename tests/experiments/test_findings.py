"""The report's generated prose: each sentence follows the results it quotes."""

import pandas as pd

from svdnet.experiments import findings
from svdnet.experiments.report import load_results


def _frame(folder):
    return load_results(str(folder))[0]


def test_against_small_names_the_loss_and_follows_a_changed_result(sweep_results, write_result):
    before = findings.against_small(_frame(sweep_results))
    assert "loses at 2 (9 to 10x fewer parameters, by 2.0 to 3.0 points)" in before
    assert "at every size from 9x on" in before and "wins at none" in before
    for seed in (0, 1):  # the small network gets worse: now svdnet wins at rank 2
        write_result(sweep_results, "small", seed, 0.80, 101, rank=2)
    after = findings.against_small(_frame(sweep_results))
    assert after != before
    assert "wins at rank 2 (10x: `lowrank` 93.05% against 80.00%)" in after


def test_reference_rank_quotes_each_method_against_dense(sweep_results):
    text = findings.at_reference_rank(_frame(sweep_results), rank=20)
    assert "**At the reference rank 20** (2.5x fewer parameters)" in text
    assert "(dense 98.05 ± 0.07%)" in text
    assert "`finetune` 97.85 ± 0.07% (-0.20)" in text
    assert findings.at_reference_rank(_frame(sweep_results), rank=7) == ""


def test_posthoc_holds_down_to_the_lowest_close_rank(sweep_results):
    text = findings.truncating_once(_frame(sweep_results), tolerance=1.0)
    assert "stays within 1 point of dense down to rank 200, then falls: rank 20 90.1 ± 0.1%" in text
    assert "At 1 of those 1 ranks a method that trains" in text


def test_training_accuracy_trap_is_read_from_the_history(sweep_results):
    text = findings.training_accuracy_trap(_frame(sweep_results))
    assert "rank 2 trained at 95.0 to 95.1% and tests at 50.0 ± 0.1%" in text
    assert "from rank 20 up the gap is within 1 point of the dense network's own (1.0 points)" \
        in text


def test_budget_comparison_uses_the_real_parameter_counts(sweep_results):
    text = findings.budget_against_uniform(_frame(sweep_results))
    # The nearest uniform model has 100 parameters, not the budget's 110: say so.
    assert ("110 parameters 94.05 ± 0.07% beats rank 2 (100 parameters, the budget model "
            "10% larger) 90.05 ± 0.07%") in text


def test_goal_and_summary_follow_the_results(sweep_results, write_result):
    frame = _frame(sweep_results)
    goal = findings.compression_goal(frame, minimum=5, tolerance=0.5)
    assert "missed: the best model with at least 5x fewer parameters is `finetune` budget 110" \
        in goal
    assert "the most compressed within 0.5 points is `finetune` rank 20" in goal
    summary = " ".join(findings.summary(frame, tolerance=0.5, minimum=5))
    assert "The dense network reaches 98.05 ± 0.07% on MNIST" in summary
    assert "wins at 0 of 2 dataset-size pairs, ties at 0 and loses at 2" in summary
    for seed in (0, 1):  # a budget model now close to dense: the goal is reached
        write_result(sweep_results, "finetune", seed, 0.979, 110, budget=110)
    assert "reached" in findings.compression_goal(_frame(sweep_results), minimum=5, tolerance=0.5)


def test_empty_results_give_no_prose():
    frame = pd.DataFrame(columns=[
        "dataset", "method", "choice", "value", "rank", "chosen ranks", "seed", "epochs",
        "finetune epochs", "test accuracy", "test loss", "train accuracy", "parameters",
        "factorised parameters", "compression", "width", "train s", "svd s", "wall s",
        "commit", "file"])
    assert findings.conclusions(frame) == [] and findings.summary(frame) == []


def test_variants_are_set_beside_the_method_alone_and_matched_to_their_own_size(
        sweep_results, write_result):
    from svdnet.experiments.report import small_comparison
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):
        for method, accuracy, size in (("lowrank", 0.95, 120), ("small", 0.97, 121)):
            name = f"mnist-{method}-r2-outdense-kd0.9t4-seed{seed}.json"
            write_json_atomic(sweep_results / name, {
                "config": {"dataset": "mnist", "method": method, "rank": 2, "seed": seed,
                           "epochs": 10, "output_layer": "dense", "distill": 0.9},
                "quick": False, "run": {
                    "test_accuracy": accuracy + 0.001 * seed, "test_loss": 0.1,
                    "params": {"dense": 1000, "factorised": size, "ratio": 1000 / size},
                    "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    text = findings.variants(frame)
    assert ("rank 2 `lowrank` 93.05 ± 0.07% (100 parameters), `lowrank+denseout+kd` "
            "95.05 ± 0.07% (120 parameters)") in text
    table = small_comparison(frame).set_index("size")
    # The option's own size: set against the small network sized like it, not the plain one.
    assert table.loc["rank 2, output dense", "best method"] == "lowrank+denseout+kd"
    assert table.loc["rank 2, output dense", "small method"] == "small+denseout+kd"
    assert table.loc["rank 2", "best method"] == "lowrank"


def test_allocation_by_accuracy_is_set_against_energy_at_each_budget(sweep_results):
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):
        write_json_atomic(sweep_results / f"mnist-finetune-p110-alaccuracy-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "finetune", "rank": None, "budget": 110,
                       "seed": seed, "epochs": 10, "allocation": "accuracy"},
            "quick": False, "run": {
                "test_accuracy": 0.96 + 0.001 * seed, "test_loss": 0.1,
                "params": {"dense": 1000, "factorised": 108, "ratio": 1000 / 108},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    text = findings.budget_options(_frame(sweep_results))
    assert ("budget 110: `finetune+accuracy` 96.05 ± 0.07% (108 parameters) against "
            "94.05 ± 0.07% (110): better (+2.00 points)") in text


def test_a_longer_budget_is_set_apart_from_the_main_comparison(sweep_results, write_result):
    from svdnet.experiments.report import small_comparison
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):
        write_json_atomic(sweep_results / f"mnist-small-r2-e30-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "small", "rank": 2, "seed": seed,
                       "epochs": 30},
            "quick": False, "run": {
                "test_accuracy": 0.99, "test_loss": 0.1,
                "params": {"dense": 1000, "factorised": 101, "ratio": 1000 / 101},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    text = findings.ceiling(frame)
    assert ("`small+30ep` rank 2 99.00 ± 0.00% (101 parameters) against 96.05 ± 0.07% "
            "with 10 epochs (+2.95 points)") in text
    table = small_comparison(frame).set_index("size")
    assert table.loc["rank 2", "small method"] == "small"  # the 30-epoch run is not the bar


def test_setup_states_the_budget_and_the_longer_runs(sweep_results):
    from svdnet.experiments.results import write_json_atomic

    frame = _frame(sweep_results)
    assert findings.setup(frame).startswith(
        f"{len(frame)} runs. The dense network has 1,000 parameters; every run trains for 10 "
        "epochs in all (seeds 0, 1)")
    write_json_atomic(sweep_results / "mnist-small-r2-e30-seed0.json", {
        "config": {"dataset": "mnist", "method": "small", "rank": 2, "seed": 0, "epochs": 30},
        "quick": False, "run": {"test_accuracy": 0.99, "test_loss": 0.1,
                                "params": {"dense": 1000, "factorised": 101, "ratio": 9.9},
                                "train_seconds": 5.0, "svd_seconds": 0.5}})
    assert "10 epochs in all (30 for the runs marked +30ep)" in findings.setup(_frame(sweep_results))
