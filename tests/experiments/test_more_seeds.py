"""More seeds where a comparison with the small network is close: which configurations,
which runs, and the command line's refusals."""

import json
import re

import pytest

from svdnet.experiments import more_seeds
from svdnet.experiments.report import load_results
from svdnet.experiments.results import result_name, write_json_atomic


def _result(folder, method, seed, accuracy, factorized, rank=None, budget=None):
    config = {"dataset": "mnist", "method": method, "rank": rank, "budget": budget,
              "energy": None, "seed": seed, "epochs": 10}
    payload = {"config": config, "quick": False,
               "run": {"test_accuracy": accuracy, "test_loss": 0.1, "chosen_ranks": {},
                       "params": {"dense": 1000, "factorized": factorized,
                                  "ratio": 1000 / factorized},
                       "train_seconds": 5.0, "svd_seconds": 0.5}}
    label = f"r{rank}" if rank else f"p{budget}"
    write_json_atomic(folder / f"mnist-{method}-{label}-seed{seed}.json", payload)
    return payload


@pytest.fixture()
def close(tmp_path):
    """rank 5: finetune 0.3 points below small (close), lowrank 5 points above (not);
    budget 100,000: finetune 0.8 points above small (close at 1 point, not at 0.5)."""
    for seed in (0, 1, 2):
        spread = 0.001 * seed
        _result(tmp_path, "dense", seed, 0.98, 1000, rank=20)
        _result(tmp_path, "finetune", seed, 0.947 + spread, 100, rank=5)
        _result(tmp_path, "lowrank", seed, 1.0 - spread, 100, rank=5)
        _result(tmp_path, "small", seed, 0.95 + spread, 101, rank=5)
        _result(tmp_path, "finetune", seed, 0.958 + spread, 50, budget=100_000)
        _result(tmp_path, "small", seed, 0.95 + spread, 52, budget=100_000)
    return tmp_path


def _keys(configs):
    return {(config.method, config.rank, config.budget, config.seed) for config in configs}


def test_both_sides_of_each_close_comparison_are_found_once_at_their_first_seed(close):
    frame, _ = load_results(str(close))
    configs = more_seeds.close_configurations(frame, str(close))
    assert _keys(configs) == {("finetune", 5, None, 0), ("small", 5, None, 0),
                              ("finetune", None, 100_000, 0), ("small", None, 100_000, 0)}
    assert len(configs) == 4
    assert _keys(more_seeds.close_configurations(frame, str(close), points=0.5)) == {
        ("finetune", 5, None, 0), ("small", 5, None, 0)}
    assert more_seeds.close_configurations(frame.iloc[:0], str(close)) == []
    # seeds being added play no part: a rerun chooses as the first run did
    _result(close, "small", 3, 0.80, 101, rank=5)  # would move small's mean at rank 5 away
    frame, _ = load_results(str(close))
    assert ("small", 5, None, 0) not in _keys(more_seeds.close_configurations(frame, str(close)))
    assert _keys(more_seeds.close_configurations(frame, str(close), without_seeds=(3,))) == \
        _keys(configs)


def test_a_configuration_that_cannot_run_again_names_its_file(close):
    frame, _ = load_results(str(close))
    path = close / "mnist-finetune-r5-seed0.json"
    stored = json.loads(path.read_text())
    stored["config"]["colour"] = "blue"  # a field no run configuration has
    path.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="mnist-finetune-r5-seed0.json: its configuration"):
        more_seeds.close_configurations(frame, str(close))


@pytest.mark.parametrize("points", [0, -1.0, float("nan"), "1"])
def test_a_bad_closeness_is_refused_naming_it(close, points):
    frame, _ = load_results(str(close))
    with pytest.raises((TypeError, ValueError), match="points"):
        more_seeds.close_configurations(frame, str(close), points=points)


def test_the_new_seeds_run_in_the_grids_groups_dense_first_and_skip_finished_runs(close):
    frame, _ = load_results(str(close))
    configs = more_seeds.close_configurations(frame, str(close))
    groups, done = more_seeds.seed_groups(configs, (3, 4), str(close))
    assert done == 0
    assert [group.config.method for group in groups[:2]] == ["dense", "dense"]
    assert {group.config.seed for group in groups} == {3, 4}
    finetune = [group for group in groups if group.config.method == "finetune"]
    assert sorted((group.ranks, group.budgets) for group in finetune) == [((5,), (100_000,))] * 2
    assert sum(group.size for group in groups) == 2 * (1 + 4)  # a dense run and 4 per seed
    # the dense run is configured as the grid's: the default choice, not a finetune's budget
    dense = groups[0].config
    assert (dense.rank, dense.budget, dense.energy) == (20, None, None)
    # a run finished already is counted, not run again
    first = groups[-1].config.replace(seed=3)
    _result(close, first.method, 3, 0.95, 101, rank=first.rank, budget=first.budget)
    (close / f"mnist-{first.method}-{'r' if first.rank else 'p'}"
             f"{first.rank or first.budget}-seed3.json").rename(close / result_name(first))
    again, done = more_seeds.seed_groups(configs, (3, 4), str(close))
    assert done == 1 and sum(group.size for group in again) == 2 * 5 - 1
    # and a finished dense run once, though two finetune configurations start from it
    _result(close, "dense", 3, 0.98, 1000, rank=20)
    (close / "mnist-dense-r20-seed3.json").rename(close / result_name(dense.replace(seed=3)))
    again, done = more_seeds.seed_groups(configs, (3, 4), str(close))
    assert done == 2 and [group.config.seed for group in again if
                          group.config.method == "dense"] == [4]


@pytest.mark.parametrize("seeds, named", [((), "[]"), ((3, 3), "[3, 3]"), ((-1,), "-1"),
                                          ((2.5,), "2.5")])
def test_bad_seeds_are_refused_naming_them(close, seeds, named):
    with pytest.raises((TypeError, ValueError), match=re.escape(named)):
        more_seeds.seed_groups([], seeds, str(close))


def test_the_command_line_lists_what_it_would_run_and_refuses_bad_flags(close, capsys):
    out = close.parent / "grid"
    (out / "results").mkdir(parents=True)
    for path in close.glob("*.json"):
        path.rename(out / "results" / path.name)
    assert more_seeds.main(["--seeds", "3", "--out", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "4 configuration(s) in comparisons within 1 points of small" in printed
    assert "0 run(s) finished, 5 to do in 3 notebook(s)" in printed  # dense and 4 runs
    assert "mnist-dense-e10-seed3.ipynb" in printed
    for flags, named in ((["--seeds", "3", "--points", "0"], "received 0"),
                         (["--seeds", "3", "--workers", "-1"], "received -1"),
                         (["--seeds", "3,3"], "3"), ([], "--seeds")):
        with pytest.raises(SystemExit):
            more_seeds.main([*flags, "--out", str(out), "--dry-run"])
        assert named in capsys.readouterr().err


@pytest.mark.slow
def test_the_new_seeds_run_write_their_results_keep_no_notebook_and_resume(tmp_path, capsys):
    out = tmp_path / "grid"
    results = out / "results"
    results.mkdir(parents=True)
    for seed in (0, 1, 2):  # one-epoch runs on 500 examples, close to each other
        for method, accuracy in (("lowrank", 0.801), ("small", 0.80)):
            payload = _result(results, method, seed, accuracy + 0.001 * seed, 100, rank=5)
            payload["config"].update(epochs=1, train_size=500)
            write_json_atomic(results / f"mnist-{method}-r5-seed{seed}.json", payload)
    assert more_seeds.main(["--seeds", "3", "--out", str(out)]) == 0
    new = sorted(path.name for path in results.glob("*seed3*.json"))
    assert len(new) == 2 and any("lowrank" in name for name in new), new
    assert not list((out / "runs").glob("*.ipynb"))  # results only, no pages
    frame, _ = load_results(str(results))
    assert sorted(frame.loc[frame["seed"] == 3, "method"]) == ["lowrank", "small"]
    capsys.readouterr()
    assert more_seeds.main(["--seeds", "3", "--out", str(out)]) == 0
    assert "2 run(s) finished, 0 to do" in capsys.readouterr().out
