"""How far results move between sittings (reruns against the results they repeat)."""

import json

import pytest

from svdnet.experiments.execution import RUN_THREADS
from svdnet.experiments.report import load_results
from svdnet.experiments.reproducibility import sitting_differences, sitting_summary


def test_runs_in_both_folders_are_paired_by_config_and_their_moves_measured(tmp_path, write_result):
    now, earlier = tmp_path / "reruns", tmp_path / "results"
    now.mkdir(), earlier.mkdir()
    write_result(now, "small", 0, 0.976, 101, rank=10, name="renamed-run.json")
    write_result(now, "small", 1, 0.970, 101, rank=10)
    write_result(now, "dense", 0, 0.98, 1000)  # no earlier result: not paired
    write_result(now, "small", 2, 0.9, 101, rank=10, batch_size=64)  # another configuration
    write_result(earlier, "small", 0, 0.972, 101, rank=10)
    write_result(earlier, "small", 1, 0.975, 101, rank=10)
    write_result(earlier, "small", 2, 0.9, 101, rank=10)  # not rerun: not paired
    table = sitting_differences(str(earlier), str(now))
    assert list(table["seed"]) == [1, 0]  # in the order of the reruns' files
    assert list(table["name"]) == ["mnist-small-r10-seed1.json", "renamed-run.json"]
    assert table["configuration"].nunique() == 1  # the seeds of one configuration
    assert table["difference (pp)"].tolist() == pytest.approx([-0.5, 0.4])
    assert not table["now follows rule"].any()  # these files record no execution
    summary = sitting_summary(table, str(earlier))
    assert summary["runs"] == 2
    assert summary["mean absolute"] == pytest.approx(0.45)
    assert summary["largest"] == pytest.approx(0.5)
    assert summary["mean"] == pytest.approx(-0.05)
    assert summary["std"] == pytest.approx(0.6364, abs=1e-4)
    # between the earlier results' seeds of the same configuration: 97.2, 97.5 and 90.0
    assert summary["seed std"] == pytest.approx(4.2462, abs=1e-4)


def test_no_common_run_gives_an_empty_table_and_no_numbers(tmp_path, write_result):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    write_result(tmp_path / "a", "small", 0, 0.97, 101, rank=10)
    table = sitting_differences(str(tmp_path / "b"), str(tmp_path / "a"))
    assert table.empty and "difference (pp)" in table.columns
    assert sitting_summary(table, str(tmp_path / "b")) == {"runs": 0, "mean absolute": None, "largest": None,
                                      "mean": None, "std": None, "seed std": None}


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        sitting_differences(str(tmp_path), str(tmp_path / "nowhere"))



def test_runs_under_the_rule_are_counted_from_their_execution_record(tmp_path, write_result):
    write_result(tmp_path, "small", 0, 0.97, 101, rank=10)
    write_result(tmp_path, "small", 1, 0.97, 101, rank=10)
    path = tmp_path / "mnist-small-r10-seed1.json"
    payload = json.loads(path.read_text())
    payload["execution"] = {"intra_op_threads": RUN_THREADS, "inter_op_threads": 1,
                            "blas_threads": {"openblas": RUN_THREADS}}
    path.write_text(json.dumps(payload))
    frame, _ = load_results(str(tmp_path))
    assert frame["execution rule"].sum() == 1


def _ruled(path):
    payload = json.loads(path.read_text())
    payload["execution"] = {"intra_op_threads": RUN_THREADS, "inter_op_threads": 1,
                            "blas_threads": {"openblas": RUN_THREADS}}
    path.write_text(json.dumps(payload))


def test_adopted_reruns_replace_the_results_and_the_earlier_ones_are_kept(tmp_path,
                                                                         write_result):
    from svdnet.experiments.reproducibility import EARLIER, RERUNS, adopt_reruns

    results, reruns = tmp_path / "results", tmp_path / RERUNS / "results"
    results.mkdir(), reruns.mkdir(parents=True)
    for seed, before, after in ((0, 0.972, 0.976), (1, 0.975, 0.970)):
        write_result(results, "small", seed, before, 101, rank=10)
        write_result(reruns, "small", seed, after, 101, rank=10)
        _ruled(reruns / f"mnist-small-r10-seed{seed}.json")
    write_result(results, "dense", 0, 0.98, 1000)  # not rerun: stays
    assert adopt_reruns(str(tmp_path), "*small*") == ["mnist-small-r10-seed0.json",
                                                      "mnist-small-r10-seed1.json"]
    assert sorted(path.name for path in reruns.iterdir()) == []
    frame, _ = load_results(str(results))
    assert sorted(frame["test accuracy"]) == pytest.approx([0.970, 0.976, 0.98])
    earlier = tmp_path / EARLIER / "results"
    table = sitting_differences(str(earlier), str(results))
    assert table["difference (pp)"].tolist() == pytest.approx([0.4, -0.5])
    assert table["now follows rule"].all()


def test_reruns_off_the_rule_or_without_a_result_are_not_adopted(tmp_path, write_result):
    from svdnet.experiments.reproducibility import RERUNS, adopt_reruns

    results, reruns = tmp_path / "results", tmp_path / RERUNS / "results"
    results.mkdir(), reruns.mkdir(parents=True)
    write_result(results, "small", 0, 0.972, 101, rank=10)
    write_result(reruns, "small", 0, 0.976, 101, rank=10)  # records no execution
    write_result(reruns, "small", 5, 0.976, 101, rank=10)
    _ruled(reruns / "mnist-small-r10-seed5.json")  # repeats no result
    before = sorted(path.name for path in reruns.iterdir())
    with pytest.raises(ValueError, match="nothing moved") as error:
        adopt_reruns(str(tmp_path))
    assert "mnist-small-r10-seed0.json" in str(error.value)
    assert "mnist-small-r10-seed5.json" in str(error.value)
    assert sorted(path.name for path in reruns.iterdir()) == before
    with pytest.raises(ValueError, match="No rerun"):
        adopt_reruns(str(tmp_path), "*lowrank*")


def test_one_network_under_two_configs_is_paired_only_when_the_sizes_agree(tmp_path, write_result):
    from svdnet.experiments.reproducibility import same_network_pairs

    for seed, (plain, kept) in enumerate(((0.976, 0.976), (0.970, 0.971))):
        write_result(tmp_path, "small", seed, kept, 115, rank=10, output_layer="dense",
                     name=f"mnist-small-r10-outdense-seed{seed}.json")
        write_result(tmp_path, "small", seed, plain, 115, rank=10)
    write_result(tmp_path, "small", 0, 0.97, 59, rank=5, output_layer="dense",
                 name="mnist-small-r5-outdense-seed0.json")  # sizes differ: another network
    write_result(tmp_path, "small", 0, 0.97, 64, rank=5)
    # paired by the configs in the files: a misleading name changes nothing
    write_result(tmp_path, "small", 0, 0.97, 115, rank=20, name="mnist-small-r20-outdense-seed0.json")
    write_result(tmp_path, "small", 0, 0.97, 115, rank=20, output_layer="dense", distill=0.9,
                 name="mnist-small-r20-seed7.json")  # a teacher: not the same network
    pairs = same_network_pairs(str(tmp_path))
    assert list(pairs["name"]) == ["mnist-small-r10-outdense-seed0.json",
                                   "mnist-small-r10-outdense-seed1.json"]
    assert list(pairs["identical"]) == [True, False]
    assert not pairs["both follow rule"].any()  # these files record no execution
    assert pairs["twin accuracy"].tolist() == pytest.approx([0.976, 0.970])


def test_a_rerun_of_another_configuration_under_the_same_name_is_not_adopted(tmp_path,
                                                                            write_result):
    from svdnet.experiments.reproducibility import RERUNS, adopt_reruns

    results, reruns = tmp_path / "results", tmp_path / RERUNS / "results"
    results.mkdir(), reruns.mkdir(parents=True)
    write_result(results, "small", 0, 0.972, 101, rank=10)
    write_result(reruns, "small", 0, 0.976, 101, rank=10, batch_size=64)
    _ruled(reruns / "mnist-small-r10-seed0.json")
    with pytest.raises(ValueError, match="another configuration") as error:
        adopt_reruns(str(tmp_path))
    assert "mnist-small-r10-seed0.json" in str(error.value)
    assert (reruns / "mnist-small-r10-seed0.json").exists()


def test_a_file_without_a_run_config_is_named(tmp_path, write_result):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    write_result(tmp_path / "a", "small", 0, 0.97, 101, rank=10)
    (tmp_path / "b" / "stray.json").write_text('{"run": {}}')
    with pytest.raises(ValueError, match="stray.json"):
        sitting_differences(str(tmp_path / "a"), str(tmp_path / "b"))
