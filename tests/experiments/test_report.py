"""Collecting sweep results for the report: tables, Pareto front, corrupt files."""

import numpy as np
import pandas as pd
import pytest

from svdnet.experiments.report import (
    accuracy_table,
    best_within,
    build_time_table,
    load_results,
    pareto_front,
    reference_table,
)
from svdnet.experiments.results import CorruptResultError, write_json_atomic


def _result(folder, method, rank, seed, accuracy, factorized, dataset="mnist"):
    name = f"{dataset}-{method}-r{rank}-seed{seed}.json"
    write_json_atomic(folder / name, {
        "config": {"dataset": dataset, "method": method, "rank": rank, "seed": seed,
                   "epochs": 10},
        "quick": False,
        "run": {"test_accuracy": accuracy, "test_loss": 0.1,
                "params": {"dense": 1000, "factorized": factorized,
                           "ratio": 1000 / factorized},
                "train_seconds": 5.0, "svd_seconds": 0.5},
        "wall_seconds": 7.0,
        "provenance": {"commit": "abc"},
    })


@pytest.fixture()
def results(tmp_path):
    for seed, (dense, r2, r20, low2) in enumerate([(0.98, 0.90, 0.97, 0.92),
                                                   (0.97, 0.88, 0.96, 0.93)]):
        _result(tmp_path, "dense", 20, seed, dense, 1000)
        _result(tmp_path, "projection", 2, seed, r2, 100)
        _result(tmp_path, "projection", 20, seed, r20, 400)
        _result(tmp_path, "lowrank", 2, seed, low2, 100)
    return tmp_path


def test_accuracy_table_means_stds_and_counts(results):
    frame, problems = load_results(str(results))
    assert len(frame) == 8 and problems == []
    table = accuracy_table(frame).set_index(["method", "rank"])
    assert table.loc[("dense", 0), "mean"] == pytest.approx(0.975)
    assert table.loc[("projection", 20), "std"] == pytest.approx(np.std([0.97, 0.96], ddof=1))
    assert table.loc[("projection", 2), "seeds"] == 2
    assert table.loc[("projection", 20), "compression"] == pytest.approx(2.5)


def test_pareto_front_and_reference_and_tolerance(results):
    table = accuracy_table(load_results(str(results))[0])
    front = table[pareto_front(table)]
    # lowrank rank 2 beats projection rank 2 at the same size; dense is the most accurate.
    assert sorted(zip(front["method"], front["rank"])) == [
        ("dense", 0), ("lowrank", 2), ("projection", 20)]
    reference = reference_table(table, rank=20).set_index("method")
    assert reference.loc["projection", "vs dense (pp)"] == pytest.approx(-1.0)
    close = best_within(table, "mnist", points=1.0)
    assert list(zip(close["method"], close["rank"])) == [("projection", 20)]


def test_corrupt_file_is_named_or_skipped(results):
    (results / "mnist-projection-r5-seed0.json").write_text('{"config": {"dataset"')
    with pytest.raises(CorruptResultError, match="mnist-projection-r5-seed0.json.*corrupt or truncated"):
        load_results(str(results))
    frame, problems = load_results(str(results), on_corrupt="skip")
    assert len(frame) == 8 and len(problems) == 1 and "r5-seed0" in problems[0]


def test_result_missing_fields_and_missing_folder(results, tmp_path):
    write_json_atomic(results / "deployment.json", {"sizes": {}})  # not a sweep result
    assert len(load_results(str(results))[0]) == 8
    write_json_atomic(results / "other.json", {"config": {}, "run": {}})
    with pytest.raises(CorruptResultError, match="other.json' lacks the field 'config.dataset'"):
        load_results(str(results))
    with pytest.raises(FileNotFoundError, match="run the sweep first"):
        load_results(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="on_corrupt must be one of 'raise', 'skip'; received 'ignore'"):
        load_results(str(results), on_corrupt="ignore")


def test_result_with_an_invalid_rank_choice_is_named(results):
    _result(results, "posthoc", 0, 0, 0.5, 10)
    with pytest.raises(CorruptResultError, match=r"posthoc-r0-seed0.json.*invalid value.*received 0"):
        load_results(str(results))
    frame, problems = load_results(str(results), on_corrupt="skip")
    assert len(frame) == 8 and "posthoc-r0" in problems[0]


def test_results_without_energy_and_budget_fields_are_rank_choices(results):
    frame, _ = load_results(str(results))  # written without energy/budget, like old results
    assert set(frame["choice"]) == {"dense", "rank"}
    assert sorted(frame.loc[frame["choice"] == "rank", "value"].unique()) == [2.0, 20.0]


def test_empty_results_give_empty_tables(tmp_path):
    frame, _ = load_results(str(tmp_path))
    assert frame.empty
    assert accuracy_table(frame).empty
    assert isinstance(reference_table(accuracy_table(frame)), pd.DataFrame)


def test_the_report_reads_the_architectures_it_is_asked_for(results, write_result):
    write_result(results, "dense", 0, 0.9, 1000, architecture="cnn", dataset="fashion_mnist")
    assert set(load_results(str(results))[0]["architecture"]) == {"mlp"}  # the MLP's report
    both = load_results(str(results), architectures=("mlp", "cnn"))[0]
    assert sorted(both["architecture"].unique()) == ["cnn", "mlp"] and len(both) == 9
    cnn = load_results(str(results), architectures=["cnn"])[0]
    assert cnn["dataset"].tolist() == ["fashion_mnist"]
    for bad in ("mlp", (), ("resnet",), ("MLP",), None, [1]):
        with pytest.raises(ValueError, match=f"received {bad!r}" if not isinstance(
                bad, (tuple, list)) or not bad else "architectures"):
            load_results(str(results), architectures=bad)


def test_energy_and_budget_runs_stay_out_of_the_rank_table(results):
    write_json_atomic(results / "mnist-finetune-p500-seed0.json", {
        "config": {"dataset": "mnist", "method": "finetune", "rank": None, "energy": None,
                   "budget": 500, "seed": 0, "epochs": 10},
        "run": {"test_accuracy": 0.95, "test_loss": 0.2, "chosen_ranks": {"h": 3},
                "params": {"dense": 1000, "factorized": 480, "ratio": 1000 / 480},
                "train_seconds": 1.0, "svd_seconds": 0.1},
    })
    from svdnet.experiments.report import selection_table

    frame, _ = load_results(str(results))
    assert len(accuracy_table(frame)) == 4  # dense, projection 2 and 20, lowrank 2
    budget = frame[frame["choice"] == "budget"].iloc[0]
    assert budget["value"] == 500 and np.isnan(budget["rank"])
    _result(results, "finetune", 2, 0, 0.9, 100)
    table = selection_table(load_results(str(results))[0])
    assert list(zip(table["choice"], table["value"])) == [("rank", 2.0), ("budget", 500.0)]
    assert table.loc[1, "chosen ranks"] == {"h": 3}


def test_build_time_sums_every_run_once_per_method(results):
    _result(results, "posthoc", 20, 0, 0.9, 400)
    frame, _ = load_results(str(results))
    frame.loc[frame["method"] == "dense", "wall s"] = [3600.0, 7200.0]
    table = build_time_table(frame).set_index("method")
    assert list(table.index) == ["dense", "projection", "lowrank", "posthoc", "total"]
    assert table.loc["dense", "runs"] == 2
    assert table.loc["dense", "wall h"] == pytest.approx(3.0)
    assert table.loc["projection", "wall h"] == pytest.approx(4 * 7.0 / 3600)
    assert table.loc["total", "runs"] == 9
    assert table.loc["total", "wall h"] == pytest.approx(3.0 + 7 * 7.0 / 3600)
    assert table.loc["dense", "median wall min"] == pytest.approx(90.0)
    assert build_time_table(frame.iloc[:0]).empty


def _choice_result(folder, method, seed, accuracy, factorized, rank=None, budget=None,
                   energy=None, chosen=None, dataset="mnist"):
    label = f"r{rank}" if rank else f"p{budget}" if budget else f"e{energy}"
    write_json_atomic(folder / f"{dataset}-{method}-{label}-seed{seed}.json", {
        "config": {"dataset": dataset, "method": method, "rank": rank, "budget": budget,
                   "energy": energy, "seed": seed, "epochs": 10},
        "quick": False,
        "run": {"test_accuracy": accuracy, "test_loss": 0.1, "chosen_ranks": chosen or {},
                "params": {"dense": 1000, "factorized": factorized,
                           "ratio": 1000 / factorized},
                "train_seconds": 5.0, "svd_seconds": 0.5},
    })


@pytest.fixture()
def against_small(tmp_path):
    for seed in (0, 1):
        _choice_result(tmp_path, "dense", seed, 0.98, 1000, rank=20)
        _choice_result(tmp_path, "finetune", seed, 0.95 + 0.001 * seed, 100, rank=5)
        _choice_result(tmp_path, "lowrank", seed, 0.96 + 0.001 * seed, 100, rank=5)
        _choice_result(tmp_path, "small", seed, 0.90 + 0.001 * seed, 101, rank=5)
        _choice_result(tmp_path, "finetune", seed, 0.973 + 0.004 * seed, 300, rank=20)
        _choice_result(tmp_path, "small", seed, 0.976, 301, rank=20)
        _choice_result(tmp_path, "finetune", seed, 0.90 + 0.002 * seed, 50, budget=50)
        _choice_result(tmp_path, "small", seed, 0.95 + 0.002 * seed, 52, budget=50)
    return tmp_path


def test_small_comparison_tests_every_configuration_on_its_own(against_small):
    from scipy import stats

    from svdnet.experiments.report import comparisons, small_comparison

    frame, _ = load_results(str(against_small))
    table = small_comparison(frame).set_index(["configuration", "method"])
    # No argmax: both SVD methods at rank 5 are compared with small, each on its own.
    assert {("rank 5", "finetune"), ("rank 5", "lowrank")} <= set(table.index)
    row = table.loc[("rank 5", "lowrank")]
    assert row["difference (pp)"] == pytest.approx(6.0)
    assert row["p"] == pytest.approx(stats.ttest_ind([0.96, 0.961], [0.90, 0.901],
                                                     equal_var=False).pvalue)
    every = comparisons(frame)
    tested = every["p"].notna()
    expected = stats.false_discovery_control(every.loc[tested, "p"], method="bh")
    assert np.allclose(every.loc[tested, "adjusted p"], expected)  # corrected over all
    assert row["verdict"] == "better"
    assert table.loc[("rank 20", "finetune"), "verdict"] == "no significant difference"
    assert table.loc[("budget 50", "finetune"), "verdict"] == "worse"


def test_verdicts_need_two_seeds_and_follow_a_changed_result(against_small):
    from svdnet.experiments.report import small_comparison

    (against_small / "mnist-small-r5-seed1.json").unlink()
    table = small_comparison(load_results(str(against_small))[0]).set_index(
        ["configuration", "method"])
    assert table.loc[("rank 5", "lowrank"), "verdict"] == "not tested"
    assert np.isnan(table.loc[("rank 5", "lowrank"), "adjusted p"])
    _choice_result(against_small, "small", 0, 0.80, 301, rank=20)
    _choice_result(against_small, "small", 1, 0.801, 301, rank=20)
    table = small_comparison(load_results(str(against_small))[0]).set_index(
        ["configuration", "method"])
    assert table.loc[("rank 20", "finetune"), "verdict"] == "better"


def test_significance_corrects_with_benjamini_hochberg_and_reads_the_sign():
    from svdnet.experiments.report import significance, welch_p

    table = significance(pd.DataFrame({
        "first": [[0.9, 0.91, 0.92], [0.5, 0.51, 0.52], [0.9, 0.92], [0.9]],
        "second": [[0.5, 0.51, 0.52], [0.9, 0.91, 0.92], [0.9, 0.93], [0.5, 0.6]]}))
    assert list(table["verdict"]) == ["better", "worse", "no significant difference",
                                      "not tested"]
    raw = [welch_p(a, b) for a, b in zip(table["first"][:3], table["second"][:3])]
    ranked = np.sort(raw)
    assert table["adjusted p"].iloc[2] == pytest.approx(ranked[2])  # the largest: p * 3 / 3
    assert welch_p([0.9, 0.9], [0.9, 0.9]) == 1.0 and welch_p([0.9, 0.9], [0.8, 0.8]) == 0.0


def test_budget_sizes_are_the_mean_over_seeds_with_their_range(against_small):
    from svdnet.experiments.report import small_comparison

    _choice_result(against_small, "finetune", 1, 0.90, 40, budget=50)  # seeds differ in size
    table = small_comparison(load_results(str(against_small))[0]).set_index(
        ["configuration", "method"])
    row = table.loc[("budget 50", "finetune")]
    assert (row["parameters min"], row["parameters max"], row["parameters"]) == (40, 50, 45)
    assert row["compression min"] == pytest.approx(20.0)
    assert row["compression max"] == pytest.approx(25.0)


def test_headline_seeks_the_smallest_close_model_among_every_rank_choice(against_small):
    from svdnet.experiments.report import headline

    frame, _ = load_results(str(against_small))
    _choice_result(against_small, "finetune", 0, 0.979, 40, budget=40)
    _choice_result(against_small, "finetune", 1, 0.979, 40, budget=40)
    frame, _ = load_results(str(against_small))
    lines = headline(accuracy_table(frame), reference_rank=20, points=0.5, frame=frame)
    assert lines[-1] == ("  smallest within 0.5 points (by any rank choice): finetune budget "
                         "40, 97.90 ± 0.00%, 25.0x fewer parameters")
    uniform_only = headline(accuracy_table(frame), reference_rank=20, points=0.5)
    assert "finetune rank 20" in uniform_only[-1]


@pytest.mark.parametrize("ranks, width, classes, factorized", [
    ([1, 2, 5, 10, 20], 1024, 10, "1, 2, 5"),     # break-even rank 9
    ([1, 2, 3, 4], 16, 4, "1, 2, 3"),             # 16 x 4: (64 - 1) // 20 = 3
])
def test_output_layer_sentence_follows_the_plan(ranks, width, classes, factorized):
    from svdnet.cost import break_even_rank
    from svdnet.experiments.report import output_layer_sentence

    sentence = output_layer_sentence(ranks, input_dim=8, num_classes=classes, depth=1,
                                     width=width)
    expected = [r for r in ranks if r <= break_even_rank(width, classes)]
    assert ", ".join(map(str, expected)) == factorized
    assert f"here at ranks {factorized}, where" in sentence
    assert "classes it can output" in sentence and "caps" not in sentence


def test_energy_rank_range_reports_the_chosen_ranks(tmp_path):
    from svdnet.experiments.report import energy_rank_range

    _choice_result(tmp_path, "finetune", 0, 0.97, 500, energy=0.5,
                   chosen={"hidden_1": 39, "hidden_2": 137, "output": 2})
    _choice_result(tmp_path, "finetune", 1, 0.98, 500, energy=0.5,
                   chosen={"hidden_1": 50, "hidden_2": 100, "output": 4})
    frame, _ = load_results(str(tmp_path))
    assert energy_rank_range(frame, 0.5) == (
        "keeping 50% of each kernel's energy chose ranks 39-137 for the hidden layers and 2-4 "
        "for the output layer (MNIST 2.00x fewer parameters, 97.50 ± 0.71%)")
    assert energy_rank_range(frame, 0.9) == ""


def test_the_main_budget_is_the_dense_runs_and_only_other_budgets_are_labelled(tmp_path):
    """A quick grid (every run 2 epochs) keeps plain labels; a 30-epoch run beside 10-epoch
    ones is marked, and the main comparison leaves it out."""
    from svdnet.experiments.report import main_budget, main_epochs

    def write(name, method, epochs, accuracy):
        write_json_atomic(tmp_path / name, {
            "config": {"dataset": "mnist", "method": method, "rank": 2, "seed": 0,
                       "epochs": epochs},
            "quick": False, "run": {"test_accuracy": accuracy, "test_loss": 0.1,
                                    "params": {"dense": 1000, "factorized": 100, "ratio": 10.0},
                                    "train_seconds": 5.0, "svd_seconds": 0.5}})

    write("d.json", "dense", 2, 0.9)
    write("p.json", "projection", 2, 0.8)
    frame, _ = load_results(str(tmp_path))
    assert sorted(frame["method"]) == ["dense", "projection"] and main_epochs(frame) == 2
    write("d.json", "dense", 10, 0.9)
    write("p.json", "projection", 10, 0.8)
    write("s.json", "small", 30, 0.95)
    frame, _ = load_results(str(tmp_path))
    assert sorted(frame["method"]) == ["dense", "projection", "small+30ep"]
    assert sorted(main_budget(frame)["method"]) == ["dense", "projection"]


def test_reused_dense_training_is_read_from_the_dense_runs_epoch_times(tmp_path):
    from svdnet.experiments.report import build_time_table, reused_seconds

    def write(name, method, extra, epoch_seconds=None):
        run = {"test_accuracy": 0.9, "test_loss": 0.1, "train_seconds": 10.0,
               "svd_seconds": 0.0, "params": {"dense": 1000, "factorized": 100, "ratio": 10.0}}
        if epoch_seconds:
            run["epoch_seconds"] = epoch_seconds
        write_json_atomic(tmp_path / name, {
            "config": {"dataset": "mnist", "method": method, "rank": 2, "seed": 0,
                       "epochs": 4, "finetune_epochs": 1,
                       **{key: value for key, value in extra.items()
                          if not key.endswith("_source")}},
            "quick": False, "run": run, "wall_seconds": 20.0,
            **{key: value for key, value in extra.items() if key.endswith("_source")}})

    write("mnist-dense-5x1024-e4-b128-seed0.json", "dense", {"rank": None}, [5.0, 1.0, 2.0, 3.0])
    write("f.json", "finetune", {"dense_source": "mnist-dense-5x1024-e3-b128-seed0.weights.h5"})
    write("p.json", "posthoc", {"dense_source": "mnist-dense-5x1024-e4-b128-seed0.weights.h5"})
    write("k.json", "small", {"distill": 0.9,
                              "teacher_source": "mnist-dense-5x1024-e4-b128-seed0.weights.h5"})
    frame, _ = load_results(str(tmp_path))
    reused = reused_seconds(str(tmp_path), frame).set_axis(frame["method"])
    assert reused["dense"] == 0 and reused["finetune"] == 8.0  # the first three epochs
    assert reused["posthoc"] == 11.0 and reused["small+kd"] == 11.0
    table = build_time_table(frame, reused_seconds(str(tmp_path), frame)).set_index("method")
    assert table.loc["finetune", "h if run alone"] == pytest.approx((20.0 + 8.0) / 3600)
    assert table.loc["total", "reused dense h"] == pytest.approx(30.0 / 3600)


def test_keeps_pace_walks_down_from_the_least_compressed_size(against_small):
    from svdnet.experiments.report import keeps_pace, small_comparison

    frame = load_results(str(against_small))[0]
    table = small_comparison(frame)
    pace = keeps_pace(frame).set_index("method")
    # finetune: not worse and 0.1 points below small at rank 20 (3.3x), better at rank 5
    # (9.9x), worse at budget 50 (19.2x): its limit is rank 5's size.
    assert pace.at["finetune", "limit"] == pytest.approx(1000 / 101)
    assert pace.at["finetune", "sizes"] == 3
    assert (pace.at["finetune", "configuration"], pace.at["finetune", "verdict"]) == (
        "rank 5", "better")
    at_limit = table[(table["method"] == "finetune") & (table["configuration"] == "rank 5")]
    assert pace.at["finetune", "difference (pp)"] == at_limit["difference (pp)"].iloc[0]
    assert pace.at["lowrank", "limit"] == pytest.approx(1000 / 101)
    # A tolerance below finetune's 0.1 points at its least compressed size: no limit,
    # though it is better at rank 5 (every larger size must keep pace too).
    strict = keeps_pace(frame, tolerance=0.05).set_index("method")
    assert np.isnan(strict.at["finetune", "limit"]) and pd.isna(strict.at["finetune", "verdict"])
    assert strict.at["lowrank", "limit"] == pytest.approx(1000 / 101)
    with pytest.raises(ValueError, match="-1"):
        keeps_pace(frame, tolerance=-1)


def test_smallest_within_searches_the_methods_it_is_given(against_small):
    from svdnet.experiments.report import smallest_within

    frame = load_results(str(against_small))[0]
    small = smallest_within(frame, "mnist", 0.5, methods=("small",))
    assert (small["method"], small["value"]) == ("small", 20)  # 97.6%, 0.4 below dense
    assert smallest_within(frame, "mnist", 0.3, methods=("small",)) is None
    assert smallest_within(frame, "mnist", 0.5)["method"] == "finetune"
