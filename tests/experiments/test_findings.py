"""The report's generated prose: each sentence carries the numbers and verdicts of the
results it quotes. The checks read numbers and counts out of the sentences (or the table a
sentence is generated from), not their exact wording."""

import re

import pandas as pd
import pytest

from svdnet.experiments import findings
from svdnet.experiments.report import load_results


def _frame(folder):
    return load_results(str(folder))[0]


def _numbers(text: str) -> list[float]:
    """Every number in ``text``, thousands separators removed, signs kept."""
    return [float(n.replace(",", "")) for n in re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", text)]


def _count(text: str, verdict: str) -> int:
    """The count a sentence gives after ``verdict`` (``"worse at 2"`` -> 2; ``none`` -> 0)."""
    found = re.search(verdict + r" at (none|\d+)", text)
    assert found, (verdict, text)
    return 0 if found.group(1) == "none" else int(found.group(1))


def test_against_small_counts_the_verdicts_and_follows_a_changed_result(sweep_results,
                                                                        write_result):
    from svdnet.experiments.report import small_comparison

    before = findings.against_small(_frame(sweep_results))
    table = small_comparison(_frame(sweep_results))
    # projection, lowrank and finetune at rank 2, finetune at the 110-parameter budget
    assert list(table["verdict"]) == ["worse"] * 4
    assert (_count(before, "better"), _count(before, "worse")) == (0, 4)
    assert "Benjamini-Hochberg" in before and "Welch" in before
    for seed in (0, 1):  # the small network gets worse: now lowrank is better at rank 2
        write_result(sweep_results, "small", seed, 0.80, 101, rank=2)
    after = findings.against_small(_frame(sweep_results))
    table = small_comparison(_frame(sweep_results)).set_index(["configuration", "method"])
    assert table.loc[("rank 2", "lowrank"), "verdict"] == "better"
    assert table.loc[("rank 2", "finetune"), "verdict"] == "better"
    assert (_count(after, "better"), _count(after, "worse")) == (2, 2)
    assert {93.05, 80.0} <= set(_numbers(after))  # the two accuracies it sets side by side


def test_reference_rank_quotes_each_method_against_dense(sweep_results):
    text = findings.at_reference_rank(_frame(sweep_results), rank=20)
    numbers = _numbers(text)
    assert {20, 2.5, 98.05, 0.07, 97.85, -0.20} <= set(numbers)
    assert findings.at_reference_rank(_frame(sweep_results), rank=7) == ""


def test_posthoc_holds_down_to_the_lowest_close_rank(sweep_results):
    from svdnet.experiments.report import comparisons

    text = findings.truncating_once(_frame(sweep_results), tolerance=1.0)
    assert re.search(r"down to rank 200\D", text) and "rank 20 90.1 ± 0.1%" in text
    tests = comparisons(_frame(sweep_results))
    tests = tests[tests["question"] == "trained against posthoc"].set_index("method")
    assert tests.loc["finetune", "verdict"] == "better"  # 97.8% against 90%, rank 20
    assert tests.loc["projection", "verdict"] == "better"
    better = re.search(r"\((\d+) of (\d+) comparisons better, (\d+) worse\)", text)
    assert better and tuple(map(int, better.groups())) == (2, 2, 0)


def test_training_accuracy_trap_is_read_from_the_history(sweep_results):
    text = findings.training_accuracy_trap(_frame(sweep_results))
    assert "rank 2 trained at 95.0 to 95.1% and tests at 50.0 ± 0.1%" in text
    assert "from rank 20 up the gap is within 1 point of the dense network's own (1.0 points)" \
        in text


def test_budget_comparison_uses_the_real_parameter_counts(sweep_results):
    from svdnet.experiments.report import comparisons

    text = findings.budget_against_uniform(_frame(sweep_results))
    # The nearest uniform model has 100 parameters, not the budget's 110: say so.
    assert {110, 94.05, 100, 10, 90.05} <= set(_numbers(text)) and "larger" in text
    row = comparisons(_frame(sweep_results)).set_index("question").loc["budget against one rank"]
    assert (row["against value"], row["verdict"]) == (2, "better")
    assert " better than " in text and _numbers(text.split("better at ")[1])[:2] == [1, 1]


def test_goal_and_summary_follow_the_results(sweep_results, write_result):
    frame = _frame(sweep_results)
    goal = findings.compression_goal(frame, minimum=5, tolerance=0.5)
    assert "missed: the best model with at least 5x fewer parameters is `finetune` budget 110" \
        in goal
    assert "the most compressed within 0.5 points is `finetune` rank 20" in goal
    summary = " ".join(findings.summary(frame, tolerance=0.5, minimum=5))
    assert 98.05 in _numbers(summary.split("MNIST")[0])
    counts = re.search(r"better at (\d+) of (\d+) configurations, not significantly different "
                       r"at (\d+) and worse at (\d+)", summary)
    assert counts and tuple(map(int, counts.groups())) == (0, 4, 0, 4)
    for seed in (0, 1):  # a budget model now close to dense: the goal is reached
        write_result(sweep_results, "finetune", seed, 0.979, 110, budget=110)
    assert "reached" in findings.compression_goal(_frame(sweep_results), minimum=5, tolerance=0.5)


def test_empty_results_give_no_prose():
    frame = pd.DataFrame(columns=[
        "dataset", "method", "choice", "value", "rank", "chosen ranks", "seed", "epochs",
        "finetune epochs", "test accuracy", "test loss", "train accuracy", "parameters",
        "factorized parameters", "compression", "width", "train s", "svd s", "wall s",
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
                    "params": {"dense": 1000, "factorized": size, "ratio": 1000 / size},
                    "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    text = findings.variants(frame)
    assert ("rank 2 `lowrank` 93.05 ± 0.07% (100 parameters), `lowrank+denseout+kd` "
            "95.05 ± 0.07% (120 parameters)") in text
    table = small_comparison(frame).set_index(["configuration", "method"])
    # The option's own size: set against the small network sized like it, not the plain one.
    assert table.loc[("rank 2", "lowrank+denseout+kd"), "small method"] == "small+denseout+kd"
    assert table.loc[("rank 2", "lowrank+denseout+kd"), "size"] == 121
    assert table.loc[("rank 2", "lowrank"), "small method"] == "small"


def test_allocation_by_accuracy_is_set_against_energy_at_each_budget(sweep_results):
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):
        write_json_atomic(sweep_results / f"mnist-finetune-p110-alaccuracy-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "finetune", "rank": None, "budget": 110,
                       "seed": seed, "epochs": 10, "allocation": "accuracy"},
            "quick": False, "run": {
                "test_accuracy": 0.96 + 0.001 * seed, "test_loss": 0.1,
                "params": {"dense": 1000, "factorized": 108, "ratio": 1000 / 108},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    from svdnet.experiments.report import comparisons

    text = findings.budget_options(_frame(sweep_results))
    assert {110, 96.05, 108, 94.05, 2.00} <= set(_numbers(text))
    row = comparisons(_frame(sweep_results)).set_index("question").loc["budget options"]
    assert (row["method"], row["against"], row["verdict"]) == (
        "finetune+accuracy", "finetune", "better")
    assert row["difference (pp)"] == pytest.approx(2.0)


def test_data_aware_truncation_is_tested_against_the_weights_svd_of_the_same_method(
        sweep_results):
    from svdnet.experiments.report import comparisons
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):  # posthoc at rank 20: 90% with the weights' SVD, 96% data-aware
        write_json_atomic(sweep_results / f"mnist-posthoc-r20-cal512-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "posthoc", "rank": 20, "seed": seed,
                       "epochs": 10, "calibration": 512},
            "quick": False, "run": {
                "test_accuracy": 0.96 + 0.001 * seed, "test_loss": 0.1,
                "params": {"dense": 1000, "factorized": 400, "ratio": 2.5},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    row = comparisons(frame).set_index("question").loc["data-aware against weight SVD"]
    assert (row["method"], row["against"], row["value"], row["verdict"]) == (
        "posthoc+calib", "posthoc", 20, "better")
    assert row["difference (pp)"] == pytest.approx(6.0)
    for seed in (0, 1):  # finetune+calib at a budget: its own question, not "budget options"
        write_json_atomic(sweep_results / f"mnist-finetune-p110-cal512-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "finetune", "rank": None, "budget": 110,
                       "seed": seed, "epochs": 10, "calibration": 512},
            "quick": False, "run": {
                "test_accuracy": 0.95 + 0.001 * seed, "test_loss": 0.1,
                "params": {"dense": 1000, "factorized": 108, "ratio": 1000 / 108},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    tests = comparisons(frame)
    assert "budget options" not in set(tests["question"])
    aware = tests[tests["question"] == "data-aware against weight SVD"]
    assert sorted(aware["method"]) == ["finetune+calib", "posthoc+calib"]
    text = findings.data_aware(frame)
    assert {96.05, 90.05, 6.00} <= set(_numbers(text))
    assert _count(text, "better") == 2 and "of 2" in text
    assert findings.data_aware(_frame(sweep_results).query("~method.str.contains('calib')")) == ""


def test_a_longer_budget_is_set_apart_from_the_main_comparison(sweep_results, write_result):
    from svdnet.experiments.report import small_comparison
    from svdnet.experiments.results import write_json_atomic

    for seed in (0, 1):
        write_json_atomic(sweep_results / f"mnist-small-r2-e30-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "small", "rank": 2, "seed": seed,
                       "epochs": 30},
            "quick": False, "run": {
                "test_accuracy": 0.99, "test_loss": 0.1,
                "params": {"dense": 1000, "factorized": 101, "ratio": 1000 / 101},
                "train_seconds": 5.0, "svd_seconds": 0.5}})
    frame = _frame(sweep_results)
    text = findings.ceiling(frame)
    assert {99.00, 101, 96.05, 10, 2.95} <= set(_numbers(text))
    table = small_comparison(frame)
    assert set(table["small method"]) == {"small"}  # the 30-epoch run is not the bar


def test_setup_states_the_budget_and_the_longer_runs(sweep_results):
    from svdnet.experiments.results import write_json_atomic

    frame = _frame(sweep_results)
    assert findings.setup(frame).startswith(
        f"{len(frame)} runs. The dense network has 1,000 parameters; every run trains for 10 "
        "epochs in all (seeds 0, 1)")
    write_json_atomic(sweep_results / "mnist-small-r2-e30-seed0.json", {
        "config": {"dataset": "mnist", "method": "small", "rank": 2, "seed": 0, "epochs": 30},
        "quick": False, "run": {"test_accuracy": 0.99, "test_loss": 0.1,
                                "params": {"dense": 1000, "factorized": 101, "ratio": 9.9},
                                "train_seconds": 5.0, "svd_seconds": 0.5}})
    assert "10 epochs in all (30 for the runs marked +30ep)" in findings.setup(_frame(sweep_results))


def _clauses(text: str) -> dict:
    """The words after each backticked method name of ``text``, up to the next one."""
    parts = re.split(r"`(projection|posthoc|finetune|lowrank)`", text)
    return {method: clause for method, clause in zip(parts[1::2], parts[2::2])}


def _count_before(text: str, verdict: str) -> int:
    """The count a sentence gives before ``verdict`` (``"58 worse"`` -> 58; ``none`` -> 0)."""
    found = re.search(r"(none|\d+)\s+(?:is\s+|are\s+)?" + verdict, text)
    assert found, (verdict, text)
    return 0 if found.group(1) == "none" else int(found.group(1))


def _expected_limits(frame, tolerance=0.5) -> dict:
    """Per SVD method (MNIST only), the most compressed size down to which every size
    keeps pace with small, walked here from small_comparison's rows: ``None`` for none."""
    from svdnet.experiments.report import small_comparison

    table = small_comparison(frame)
    limits = {}
    for method, rows in table.groupby("method"):
        if "+" in method:
            continue
        limits[method] = None
        for compression, at_size in sorted(rows.groupby("size compression")):
            keeps = (at_size["verdict"].isin(["better", "no significant difference"])
                     & (at_size["difference (pp)"] >= -tolerance))
            if not keeps.any():
                break
            limits[method] = (compression, at_size[keeps]["difference (pp)"].max())
    return limits


def test_practice_carries_the_tested_limits_counts_and_small_against_dense(sweep_results,
                                                                           write_result):
    from svdnet.experiments.report import small_comparison

    for seed in (0, 1):  # small at rank 20's size: finetune and projection keep pace there
        write_result(sweep_results, "small", seed, 0.9775 + 0.001 * seed, 405, rank=20)
    frame = _frame(sweep_results)
    which, instead = findings.practice(frame)
    limits = _expected_limits(frame)
    assert limits["finetune"] and limits["projection"]  # the case the test is about
    assert limits["lowrank"] is None and limits["posthoc"] is None
    clauses = _clauses(which)
    for method, limit in limits.items():
        if limit is None:
            assert "no size" in clauses[method]
            assert not re.search(r"\d\.\dx", clauses[method])
        else:
            compression, difference = limit
            assert f"{compression:.1f}x" in clauses[method]
            assert round(difference, 2) in _numbers(clauses[method])
    table = small_comparison(frame)
    verdicts = table.loc[table["method"].isin(["finetune", "projection"])
                         & (table["size compression"] == limits["finetune"][0]), "verdict"]
    for verdict in set(verdicts):  # the verdicts at the limits, as the test gave them
        assert verdict in which
    assert "wins" not in which + instead
    counts = table["verdict"].value_counts()
    assert len(table) in _numbers(instead)
    for verdict in ("better", "not significantly different", "worse"):
        key = "no significant difference" if verdict.startswith("not") else verdict
        assert _count_before(instead, verdict) == counts.get(key, 0)
    # small stays within 0.5 points of dense (98.05%) at rank 20's size: 97.80%, -0.25.
    assert {2.5, 97.80, -0.25} <= set(_numbers(instead.split("itself")[1]))
    # A better small network at that size: nothing keeps pace any more, and small's
    # own distance to dense follows.
    for seed in (0, 1):
        write_result(sweep_results, "small", seed, 0.99 + 0.001 * seed, 405, rank=20)
    frame = _frame(sweep_results)
    which, instead = findings.practice(frame)
    assert all(limit is None for limit in _expected_limits(frame).values())
    assert all("no size" in clause for clause in _clauses(which).values())
    assert {2.5, 99.05, 1.0} <= set(_numbers(instead.split("itself")[1]))


def test_definitions_name_every_method_and_option_with_the_results_epochs(sweep_results):
    from svdnet.experiments.config import METHODS

    terms = dict(findings.definitions(_frame(sweep_results)))
    assert {f"`{method}`" for method in METHODS} <= set(terms)
    assert {"budget", "`+denseout`", "`+kd`", "`+cosine`", "`+accuracy`", "`+anneal`",
            "`+fd`", "`+calib`"} <= set(terms)
    assert 10 in _numbers(terms["`dense`"])  # the epochs, from the results
    assert findings.practice(_frame(sweep_results).iloc[0:0]) == []
