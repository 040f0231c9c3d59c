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


def _result(folder, method, rank, seed, accuracy, factorised, dataset="mnist"):
    name = f"{dataset}-{method}-r{rank}-seed{seed}.json"
    write_json_atomic(folder / name, {
        "config": {"dataset": dataset, "method": method, "rank": rank, "seed": seed,
                   "epochs": 10},
        "quick": False,
        "run": {"test_accuracy": accuracy, "test_loss": 0.1,
                "params": {"dense": 1000, "factorised": factorised,
                           "ratio": 1000 / factorised},
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
    with pytest.raises(CorruptResultError, match="other.json.*lacks the field 'method'"):
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


def test_energy_and_budget_runs_stay_out_of_the_rank_table(results):
    write_json_atomic(results / "mnist-finetune-p500-seed0.json", {
        "config": {"dataset": "mnist", "method": "finetune", "rank": None, "energy": None,
                   "budget": 500, "seed": 0, "epochs": 10},
        "run": {"test_accuracy": 0.95, "test_loss": 0.2, "chosen_ranks": {"h": 3},
                "params": {"dense": 1000, "factorised": 480, "ratio": 1000 / 480},
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
