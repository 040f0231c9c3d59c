"""One sweep experiment: quick mode, result naming, the JSON it writes."""

import dataclasses
import json
import os

import numpy as np
import pytest

from svdnet.experiments import RunConfig
from svdnet.experiments.execution import follows_rule
from svdnet.experiments.sweep import (
    apply_quick_mode, comparison_table, result_name, results_folder, run_experiment,
)

TINY = RunConfig(depth=2, width=64, rank=8, epochs=2, batch_size=32, train_size=500)


def test_result_names_are_distinct_per_run():
    assert result_name(RunConfig()) == "mnist-projection-r20-5x1024-e10-b128-seed0.json"
    assert result_name(RunConfig(method="dense", rank=5)) == "mnist-dense-5x1024-e10-b128-seed0.json"
    names = {result_name(RunConfig(rank=r, seed=s, svd_method=m))
             for r in (10, 20) for s in (0, 1) for m in ("exact", "auto")}
    assert len(names) == 8
    assert "n500" in result_name(TINY)


def test_quick_mode_only_shrinks_training_set(monkeypatch, tmp_path):
    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    assert apply_quick_mode(RunConfig()) == RunConfig()
    assert results_folder("reports/results") == "reports/results"
    monkeypatch.setenv("SVDNET_QUICK", "1")
    quick = apply_quick_mode(RunConfig())
    assert quick == RunConfig(train_size=2000)
    assert apply_quick_mode(TINY).train_size == 500
    # a calibration beyond the quick training set is cut to it, not refused
    assert apply_quick_mode(RunConfig(calibration=4096)).calibration == 2000
    assert apply_quick_mode(RunConfig(calibration=64)).calibration == 64
    assert results_folder("reports/results") != "reports/results"
    # an explicit False wins over the environment: nothing is redirected
    assert apply_quick_mode(RunConfig(), quick=False) == RunConfig()
    assert results_folder("reports/results", quick=False) == "reports/results"
    monkeypatch.delenv("SVDNET_QUICK")
    assert results_folder("reports/results", quick=True) != "reports/results"
    with pytest.raises(TypeError, match="quick must be True or False; received 'yes'"):
        apply_quick_mode(RunConfig(), quick="yes")


@pytest.mark.slow
def test_experiment_writes_one_complete_result(monkeypatch, tmp_path):
    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    experiment = run_experiment(TINY, baseline=True, results_dir=str(tmp_path))
    assert os.listdir(tmp_path) == [result_name(TINY)]
    with open(experiment.path) as stream:
        saved = json.load(stream)
    assert saved["config"]["rank"] == 8 and saved["quick"] is False
    assert saved["run"]["test_accuracy"] == pytest.approx(experiment.run.test_accuracy)
    assert saved["baseline"]["config"]["method"] == "dense"
    assert len(saved["run"]["history"]["test_accuracy"]) == 2
    assert max(saved["run"]["ranks"].values()) <= 8
    assert saved["run"]["params"]["factorized"] < saved["baseline"]["params"]["dense"]
    # Compressed runs keep the leading max(2k, 32) singular values of each layer.
    assert len(saved["spectra"]["before"]["hidden_1"]) == 32
    after = np.array(saved["spectra"]["after"]["hidden_1"])
    assert np.count_nonzero(after > 1e-5 * after[0]) <= 8
    assert saved["provenance"]["versions"]["keras"].startswith("3.")
    assert follows_rule(saved["execution"]), saved["execution"]
    assert saved["data"]["train_examples"] == 500
    assert saved["layers"]["hidden_2"] == {"type": "LowRankDense", "rank": 8,
                                           "parameters": 8 * (64 + 64) + 64, "macs": 8 * 128}
    assert saved["dense_layers"]["hidden_2"]["parameters"] == 64 * 64 + 64
    assert saved["inference"]["examples"] == 2048 and saved["inference"]["seconds"] > 0
    table = comparison_table(experiment)
    assert list(table.index) == ["dense", "projection rank 8"]
    assert table.loc["projection rank 8", "compression"] > 1.0


@pytest.mark.slow
def test_dense_runs_share_their_weights_with_posthoc_and_finetune(monkeypatch, tmp_path, mnist_small):
    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    config = TINY.replace(epochs=3, finetune_epochs=1)
    results, cache = str(tmp_path / "results"), str(tmp_path / "cache")
    run_experiment(config.replace(method="dense"), results_dir=results, cache_dir=cache)
    assert sorted(os.listdir(cache)) == [
        "mnist-dense-2x64-e2-b32-n500-seed0.weights.h5",
        "mnist-dense-2x64-e3-b32-n500-seed0.weights.h5",
    ]
    for method in ("posthoc", "finetune"):
        shared = run_experiment(config.replace(method=method), baseline=False,
                                results_dir=results, cache_dir=cache)
        alone = run_experiment(config.replace(method=method), baseline=False,
                               results_dir=str(tmp_path / "alone"))
        assert shared.payload["dense_source"].endswith(".weights.h5")
        assert alone.payload["dense_source"] is None
        assert shared.run.test_accuracy == alone.run.test_accuracy


@pytest.mark.slow
def test_distillation_reuses_the_cached_teacher_and_equals_training_it(monkeypatch, tmp_path):
    """The teacher of a distilled run is the dense run of the same seed: its cached
    weights give the same student as training the teacher again."""
    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    config = TINY.replace(epochs=2, finetune_epochs=1)
    results, cache = str(tmp_path / "results"), str(tmp_path / "cache")
    run_experiment(config.replace(method="dense"), results_dir=results, cache_dir=cache)
    student = config.replace(method="lowrank", rank=4, distill=0.5, output_layer="dense")
    shared = run_experiment(student, baseline=False, results_dir=results, cache_dir=cache)
    alone = run_experiment(student, baseline=False, results_dir=str(tmp_path / "alone"))
    assert shared.payload["teacher_source"] == "mnist-dense-2x64-e2-b32-n500-seed0.weights.h5"
    assert alone.payload["teacher_source"] == "trained"  # no cache: trained in the run
    assert shared.run.test_accuracy == alone.run.test_accuracy
    assert shared.run.chosen_ranks["output"] is None
    assert os.path.basename(shared.path) == (
        "mnist-lowrank-r4-outdense-kd0.5t4-2x64-e2-b32-n500-seed0.json")


def test_compact_spectra_round_and_cut():
    from svdnet.experiments.sweep import compact_spectra

    values = {"a": np.linspace(10, 1, 100) + 1e-7}
    assert len(compact_spectra(values, RunConfig(rank=5))["a"]) == 32
    assert len(compact_spectra(values, RunConfig(rank=40))["a"]) == 80
    dense = compact_spectra(values, RunConfig(method="dense"))["a"]
    assert len(dense) == 100 and dense[0] == 10.0
    # a budget run (no single rank) is cut at its largest per-layer rank
    budget = RunConfig(rank=None, budget=50_000)
    assert len(compact_spectra(values, budget, {"a": 3, "b": 25})["a"]) == 50
    assert len(compact_spectra(values, budget)["a"]) == 100  # ranks unknown: all kept


def _fake_training(monkeypatch, **measured):
    """Replaces training in run_experiment by a Run with ``measured`` fields (no Keras)."""
    from svdnet.experiments import sweep
    from svdnet.experiments.data import Dataset
    from svdnet.experiments.training import Run

    def train(data, config, **kwargs):
        fields = {"history": {"accuracy": [0.5]}, "test_loss": 0.3, "test_accuracy": 0.9,
                  "epoch_seconds": [1.0], "svd_seconds": 0.1,
                  "params": {"dense": 1000, "factorized": 100, "ratio": 10.0},
                  "ranks": {"hidden_1": 2}, "chosen_ranks": {"hidden_1": 2},
                  "spectra": {}, "final_spectra": {"hidden_1": [3.0, 2.0]}}
        return Run(config=config, model=None, **{**fields, **measured})

    monkeypatch.setattr(sweep, "train", train)
    monkeypatch.setattr(sweep, "deployment_costs", lambda *args: {})  # no model to time
    x, y = np.zeros((10, 784), "float32"), np.zeros(10, "int64")
    return Dataset("mnist", x, y, x, y, 10)


@pytest.mark.parametrize("measured, text", [
    ({"test_accuracy": 1.5}, "run.test_accuracy = 1.5; allowed: a finite number from 0 to 1"),
    ({"test_accuracy": float("nan")}, "run.test_accuracy = None"),
    ({"ranks": {"hidden_1": 7}}, "run.ranks.hidden_1 = 7; allowed: an integer at most"),
    ({"params": {"dense": 1000, "factorized": 100, "ratio": -1.0}}, "run.params.ratio = -1.0"),
])
def test_a_run_that_fails_its_checks_writes_no_result(monkeypatch, tmp_path, measured, text):
    from svdnet.experiments.sweep import RunCheckError

    config = TINY.replace(train_size=10)
    data = _fake_training(monkeypatch, **measured)
    with pytest.raises(RunCheckError) as info:
        run_experiment(config, baseline=False, results_dir=str(tmp_path), data=data)
    assert text in str(info.value) and result_name(config) in str(info.value)
    assert "not written" in str(info.value)
    assert os.listdir(tmp_path) == []  # nothing the runner could count as finished


def test_a_run_that_passes_its_checks_is_written_and_finished(monkeypatch, tmp_path):
    from svdnet.experiments.results import is_finished

    config = TINY.replace(train_size=10)
    experiment = run_experiment(config, baseline=False, results_dir=str(tmp_path),
                                data=_fake_training(monkeypatch))
    assert os.listdir(tmp_path) == [result_name(config)] and is_finished(experiment.path)


def test_a_dense_run_near_chance_is_a_warning_not_a_failure(monkeypatch, tmp_path):
    """A tiny run (100 examples, 1 epoch) can score near chance: that is its result."""
    from svdnet.experiments.sweep import accuracy_warnings

    config = TINY.replace(method="dense", train_size=10)
    experiment = run_experiment(config, baseline=False, results_dir=str(tmp_path),
                                data=_fake_training(monkeypatch, test_accuracy=0.1138,
                                                    chosen_ranks={}))
    assert os.listdir(tmp_path) == [result_name(config)]
    (warning,) = accuracy_warnings(experiment)
    assert "dense test accuracy 0.1138" in warning and "10 training examples" in warning
    assert accuracy_warnings(dataclasses.replace(
        experiment, run=dataclasses.replace(experiment.run, test_accuracy=0.97))) == []


@pytest.mark.slow
@pytest.mark.parametrize("architecture, method, changes", [
    ("cnn", "projection", {}),
    ("cnn", "small", {}),
    ("vit", "posthoc", {"output_layer": "dense"}),
    ("vit", "lowrank", {"distill": 0.5}),
])
def test_the_cnn_and_the_vit_run_through_the_same_sweep(monkeypatch, tmp_path, architecture,
                                                       method, changes):
    """One pipeline: the config's architecture is trained, compressed in every kernel layer
    (Conv2D and attention too), sized as planned, and its result is finished."""
    from svdnet.experiments.architectures import build_architecture
    from svdnet.experiments.config import target_parameters
    from svdnet.experiments.results import is_finished

    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    config = RunConfig(method=method, architecture=architecture, rank=4, epochs=2,
                       finetune_epochs=1, batch_size=64, train_size=500, **changes)
    experiment = run_experiment(config, baseline=False, results_dir=str(tmp_path / "results"),
                                cache_dir=str(tmp_path / "cache"))
    assert experiment.path.endswith(f"-{architecture}-e2-b64-n500-seed0.json")
    assert is_finished(experiment.path)
    saved = experiment.payload
    assert saved["config"]["architecture"] == architecture
    # spectra before the last truncation only where there was one; else stored once
    truncated = method in ("projection", "posthoc")
    assert (saved["spectra"]["before"] is not None) == truncated
    assert saved["spectra"]["after"] and (experiment.spectra["before"] is None) != truncated
    assert set(saved["layers"]) <= set(saved["dense_layers"])  # the deployment costs
    assert saved["inference"]["seconds"] > 0 and saved["inference"]["dense_seconds"] > 0
    params = saved["run"]["params"]
    assert params["dense"] == (458_570 if architecture == "cnn" else 274_954)
    if method == "small":  # the narrowed model (its size is matched in test_config)
        assert 0 < params["width"] < 1
        assert params["factorized"] == build_architecture(architecture,
                                                          width=params["width"]).count_params()
    else:
        assert params["factorized"] == target_parameters(config)
        ranks = saved["run"]["chosen_ranks"]
        kinds = {"cnn": "conv_2", "vit": "attention_1/query"}
        assert ranks[kinds[architecture]] == 4
        assert max(rank for rank in ranks.values() if rank is not None) <= 4
        assert (ranks.get("output") is None) is (changes.get("output_layer") == "dense")
        layer = kinds[architecture]
        assert saved["layers"][layer]["rank"] == 4
        assert saved["dense_layers"][layer]["rank"] is None
        assert saved["layers"][layer]["macs"] < saved["dense_layers"][layer]["macs"]
