"""The CNN and the vision transformer, their runs (resumable) and their report."""

import json
import os

import keras
import numpy as np
import pytest

from svdnet import factorization_plan
from svdnet.experiments import architecture_report as ar
from svdnet.experiments.architecture_runs import (
    ArchitectureRun,
    main,
    plan_runs,
    run_grid,
)
from svdnet.experiments.results import (
    CorruptResultError,
    check_architecture_result,
    ResultValueError,
    is_finished,
    read_architecture_result,
    write_result,
)
from svdnet.experiments.architectures import (
    WIDTHS,
    build_architecture,
    build_cnn,
    build_vit,
    small_width,
)
from svdnet.experiments.results import write_json_atomic


def test_model_sizes_and_where_the_parameters_are():
    cnn, vit = build_cnn(), build_vit()
    assert cnn.count_params() == 458_570
    assert cnn.get_layer("dense").count_params() / cnn.count_params() == pytest.approx(0.8756,
                                                                                        abs=1e-4)
    assert vit.count_params() == 274_954
    blocks = sum(vit.get_layer(name).count_params() for name in
                 ("attention_1", "attention_2", "mlp_1a", "mlp_1b", "mlp_2a", "mlp_2b"))
    assert blocks / vit.count_params() == pytest.approx(0.96, abs=0.005)


@pytest.mark.parametrize("architecture, target", [("cnn", 44_426), ("vit", 28_652)])
def test_small_width_is_the_closest_narrowed_model(architecture, target):
    width = small_width(architecture, target)
    found = build_architecture(architecture, width=width).count_params()
    assert abs(found - target) / target < 0.05
    others = [build_architecture(architecture, width=w).count_params()
              for w in WIDTHS if abs(w - width) <= 0.02]
    assert all(abs(found - target) <= abs(count - target) for count in others)
    assert build_architecture(architecture, width=1.0).count_params() == \
        build_architecture(architecture).count_params()


def test_every_kernel_layer_of_both_models_is_in_the_plan():
    vit = build_vit()
    plan = {item.name: item.rank for item in factorization_plan(vit, rank=6)}
    assert plan["attention_1/query"] == 6 and plan["patches"] == 6 and plan["mlp_2b"] == 6
    assert len(plan) == 2 * 6 + 2  # 4 projections + 2 feed-forward per block, patches, output
    cnn = {item.name: item.rank for item in factorization_plan(build_cnn(), rank=10)}
    assert cnn == {"conv_1": None, "conv_2": 10, "conv_3": 10, "dense": 10, "output": None}


def test_vit_saves_and_loads_with_its_position_embedding(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_vit()
    path = os.path.join(tmp_path, "vit.keras")
    model.save(path)
    x = np.random.default_rng(0).random((2, 784)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("changes, text", [
    ({"architecture": "resnet"}, "architecture"),
    ({"method": "tucker"}, "method"),
    ({"rank": None}, "method 'projection' takes a rank; received rank=None"),
    ({"method": "dense"}, "method 'dense' takes no rank; received rank=4"),
    ({"rank": 0}, "rank"),
    ({"epochs": 1}, "epochs"),
])
def test_bad_runs_are_refused_with_the_value(changes, text):
    fields = {"architecture": "cnn", "method": "projection", "rank": 4, "seed": 0, **changes}
    with pytest.raises(ValueError, match=text):
        ArchitectureRun(**fields)


def test_names_and_the_plan_put_dense_runs_first():
    run = ArchitectureRun("vit", "finetune", 6, 2, epochs=3, train_size=500)
    assert run.name == "vit-finetune-r6-e3-n500-seed2.json" and run.dataset == "mnist"
    assert run.dense_twin().name == "vit-dense-e3-n500-seed2.json"
    runs = plan_runs(["cnn"], [4, 10], [0, 1])
    assert [r.method for r in runs[:2]] == ["dense", "dense"]
    assert len(runs) == 2 + 2 * 2 * 5


def _result(folder, architecture, method, rank, seed, accuracy, parameters, seconds=1.0):
    run = ArchitectureRun(architecture, method, rank, seed)
    layers = {"conv": {"type": "Conv2D", "rank": rank, "parameters": parameters, "macs": 50}}
    write_json_atomic(os.path.join(folder, run.name), {
        "config": {"architecture": architecture, "method": method, "rank": rank, "seed": seed,
                   "epochs": 3},
        "dataset": run.dataset, "test_accuracy": accuracy, "test_loss": 0.3,
        "parameters": parameters, "dense_parameters": 1000, "layers": layers,
        "dense_layers": {"conv": {"type": "Conv2D", "rank": None, "parameters": 1000,
                                  "macs": 500}},
        "inference": {"seconds": seconds, "dense_seconds": 2.0}, "train_seconds": 5.0,
        "provenance": {"commit": "abc", "machine": {"cpu": "X", "cpu_count": 2, "gpus": []},
                       "versions": {"keras": "3.15.1"}},
    })


def test_table_and_findings_follow_the_results(tmp_path):
    for seed, (dense, low) in enumerate([(0.90, 0.85), (0.92, 0.87)]):
        _result(tmp_path, "cnn", "dense", None, seed, dense, 1000, seconds=2.0)
        _result(tmp_path, "cnn", "lowrank", 4, seed, low, 100)
        _result(tmp_path, "cnn", "projection", 4, seed, low - 0.1, 100)
    frame = ar.load_architecture_results(str(tmp_path))
    table = ar.architecture_table(frame)
    row = table[table["method"] == "lowrank"].iloc[0]
    assert row["mean"] == pytest.approx(0.86) and row["fewer parameters"] == 10
    assert row["fewer MACs"] == 10 and row["inference speed-up"] == 2.0
    text = ar.architecture_findings(frame)[0]
    assert "91.00 ± 1.41%" in text  # the dense accuracy the paragraph carries
    assert ar.architecture_comparisons(frame).empty  # no small network: nothing tested
    # small networks of the same size: every method is tested against them
    _result(tmp_path, "cnn", "small", 4, 0, 0.80, 105)
    _result(tmp_path, "cnn", "small", 4, 1, 0.81, 105)
    frame = ar.load_architecture_results(str(tmp_path))
    tests = ar.architecture_comparisons(frame).set_index("method")
    assert set(tests.index) == {"lowrank", "projection"}  # small is the comparison
    assert sorted(tests.loc["lowrank", "first"]) == pytest.approx([0.85, 0.87])
    assert sorted(tests.loc["lowrank", "second"]) == pytest.approx([0.80, 0.81])
    assert tests.loc["projection", "verdict"] != "better"  # 76% against 80.5%
    text = ar.architecture_findings(frame)[0]
    assert "80.50 ± 0.71%" in text  # small's accuracy is stated
    # a verdict follows the results: a clearly better projection turns it around
    for seed in (0, 1):
        _result(tmp_path, "cnn", "projection", 4, seed, 0.99 - seed * 0.001, 100)
    tests = ar.architecture_comparisons(ar.load_architecture_results(str(tmp_path)))
    assert tests.set_index("method").loc["projection", "verdict"] in {
        "better", "no significant difference"}
    assert ar.readable_table(ar.architecture_table(ar.load_architecture_results(
        str(tmp_path))))["test accuracy"].iloc[0] == "91.00 ± 1.41%"


def test_a_result_is_written_and_read_only_when_its_check_passes(tmp_path):
    _result(tmp_path, "cnn", "lowrank", 4, 0, 0.8, 100)
    path = tmp_path / "cnn-lowrank-r4-e3-seed0.json"
    payload = read_architecture_result(str(path))
    assert is_finished(str(path), read_architecture_result)
    for field, value in (("test_accuracy", 80.0), ("parameters", 0), ("test_accuracy", None)):
        with pytest.raises(ResultValueError, match=field):
            write_result(str(tmp_path / "bad.json"), {**payload, field: value},
                         check_architecture_result)
        assert not (tmp_path / "bad.json").exists()  # nothing written
    path.write_text(json.dumps({**payload, "inference": {"seconds": -1, "dense_seconds": 2}}))
    assert not is_finished(str(path), read_architecture_result)
    with pytest.raises(CorruptResultError, match="inference.seconds"):
        ar.load_architecture_results(str(tmp_path))


def test_layer_costs_table_reads_one_run(tmp_path):
    _result(tmp_path, "cnn", "finetune", 4, 0, 0.8, 100)
    costs = ar.layer_costs_table(str(tmp_path), "cnn", "finetune", 4)
    assert costs.to_dict("records") == [{
        "layer": "conv", "type": "Conv2D", "compressed as": "Conv2D", "rank": 4,
        "parameters": "1,000", "compressed parameters": "100", "MACs": "500",
        "compressed MACs": "50"}]
    assert ar.layer_costs_table(str(tmp_path), "vit", "finetune", 4).empty
    # the run is found by the config its file holds, whatever the file's name
    (tmp_path / "cnn-finetune-r4-e3-seed0.json").rename(tmp_path / "renamed.json")
    assert ar.layer_costs_table(str(tmp_path), "cnn", "finetune", 4).equals(costs)
    assert ar.layer_costs_table(str(tmp_path), "cnn", "finetune", 4, seed=1).empty
    (tmp_path / "stray.json").write_text('{"not": "a result"}')  # skipped, not a KeyError
    assert ar.layer_costs_table(str(tmp_path), "cnn", "finetune", 4).equals(costs)


@pytest.mark.slow
def test_runs_resume_and_a_corrupt_result_is_run_again(tmp_path, monkeypatch):
    results, cache = tmp_path / "results", tmp_path / "cache"
    runs = [ArchitectureRun("cnn", method, rank, 0, epochs=2, train_size=500)
            for method, rank in (("dense", None), ("posthoc", 3), ("finetune", 3))]
    done = run_grid(runs, str(results), str(cache))
    assert len(done) == 3 and all(is_finished(path, read_architecture_result) for path in done)
    with open(done[1]) as stream:
        payload = json.load(stream)
    assert payload["parameters"] < payload["dense_parameters"]
    assert payload["layers"]["conv_2"]["type"] == "LowRankConv2D"
    assert payload["layers"]["conv_2"]["rank"] == 3
    assert payload["inference"]["seconds"] > 0 and payload["provenance"]["commit"]
    assert run_grid(runs, str(results), str(cache)) == []  # nothing redone
    with open(done[2], "w") as stream:
        stream.write('{"config": ')  # interrupted by hand
    assert run_grid(runs, str(results), str(cache)) == [done[2]]
    assert is_finished(done[2], read_architecture_result)
    payload["test_accuracy"] = 97.5  # a value a result cannot hold: not finished, run again
    with open(done[1], "w") as stream:
        json.dump(payload, stream)
    assert run_grid(runs, str(results), str(cache)) == [done[1]]


@pytest.mark.parametrize("argv, text", [
    (["--methods", "dense,tucker"], "received 'tucker'"),
    (["--ranks", ""], "--ranks must list at least one value"),
    (["--seeds", "0,0"], "--seeds lists [0] more than once"),
    (["--rank", "4"], "unrecognized arguments: --rank"),  # no abbreviations
    (["--ranks", "4,x"], "expected comma-separated integers"),
])
def test_bad_command_lines_exit_with_the_usage_before_training(argv, text, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(argv + ["--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    assert text in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_output_that_cannot_be_written_is_refused_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        main(["--methods", "dense", "--ranks", "4", "--seeds", "0", "--out",
              str(blocker / "results")])
    assert "file" in capsys.readouterr().err


@pytest.mark.parametrize("build, rank", [(build_cnn, 10), (build_vit, 6)])
def test_callback_in_a_real_fit_leaves_every_kernel_of_the_model_at_rank_k(build, rank,
                                                                          mnist_small):
    from svdnet import KernelView, SVDProjection
    from svdnet.experiments.architectures import compile_model

    keras.utils.set_random_seed(0)
    model = compile_model(build())
    callback = SVDProjection(rank=rank)
    model.fit(mnist_small.x_train[:512], mnist_small.y_train[:512], batch_size=128, epochs=1,
              verbose=0, callbacks=[callback])
    checked = 0
    for key, layer in callback._layers.items():
        matrix = KernelView(layer).read()
        if min(matrix.shape) > rank:
            assert np.linalg.matrix_rank(matrix, tol=1e-5 * np.abs(matrix).max()) <= rank, key
            checked += 1
    assert checked >= (3 if build is build_cnn else 12)
