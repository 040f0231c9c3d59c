"""The CNN and the vision transformer, and their page, which reads their grid runs."""

import json
import os

import keras
import numpy as np
import pytest

from svdnet import factorization_plan
from svdnet.experiments import architecture_report as ar
from svdnet.experiments.architectures import (
    WIDTHS,
    build_architecture,
    build_cnn,
    build_vit,
    width_for_parameters,
)
from svdnet.experiments.results import CorruptResultError, MixedRecipeError


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
def test_width_for_parameters_is_the_closest_narrowed_model(architecture, target):
    width = width_for_parameters(architecture, target)
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


def _result(write_result, folder, method, rank, seed, accuracy, parameters, seconds=1.0,
            architecture="cnn", dataset="fashion_mnist", **options):
    """A grid result of the CNN (or ``architecture``) with its deployment costs: one conv
    layer of 1,000 parameters and 500 MACs dense, ``parameters`` and 50 MACs compressed,
    inference in ``seconds`` against the dense model's 2."""
    layers = {"conv": {"type": "Conv2D", "rank": rank, "parameters": parameters, "macs": 50}}
    write_result(folder, method, seed, accuracy, parameters, rank=rank, dataset=dataset,
                 architecture=architecture, epochs=3, **options, extra={
                     "layers": layers,
                     "dense_layers": {"conv": {"type": "Conv2D", "rank": None,
                                               "parameters": 1000, "macs": 500}},
                     "inference": {"seconds": seconds, "dense_seconds": 2.0},
                     "provenance": {"commit": "abc", "machine": {"cpu": "X", "cpu_count": 2,
                                                                 "gpus": []},
                                    "versions": {"keras": "3.15.1"}}})


def test_table_and_findings_follow_the_results(tmp_path, write_result):
    for seed, (dense, low) in enumerate([(0.90, 0.85), (0.92, 0.87)]):
        _result(write_result, tmp_path, "dense", None, seed, dense, 1000, seconds=2.0)
        _result(write_result, tmp_path, "lowrank", 4, seed, low, 100)
        _result(write_result, tmp_path, "projection", 4, seed, low - 0.1, 100)
    # the MLP's runs in the same folder are the report's, not this page's
    write_result(tmp_path, "dense", 0, 0.5, 1000)
    frame = ar.load_architecture_results(str(tmp_path))
    assert set(frame["model"]) == {"CNN on Fashion-MNIST"} and len(frame) == 6
    table = ar.architecture_table(frame)
    row = table[table["method"] == "lowrank"].iloc[0]
    assert row["mean"] == pytest.approx(0.86) and row["fewer parameters"] == 10
    assert row["fewer MACs"] == 10 and row["inference speed-up"] == 2.0
    text = ar.architecture_findings(frame)[0]
    assert "91.00 ± 1.41%" in text  # the dense accuracy the paragraph carries
    assert ar.architecture_comparisons(frame).empty  # no small network: nothing tested
    # small networks of the same size: every method is tested against them
    _result(write_result, tmp_path, "small", 4, 0, 0.80, 105)
    _result(write_result, tmp_path, "small", 4, 1, 0.81, 105)
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
        _result(write_result, tmp_path, "projection", 4, seed, 0.99 - seed * 0.001, 100)
    tests = ar.architecture_comparisons(ar.load_architecture_results(str(tmp_path)))
    assert tests.set_index("method").loc["projection", "verdict"] in {
        "better", "no significant difference"}
    assert ar.readable_table(ar.architecture_table(ar.load_architecture_results(
        str(tmp_path))))["test accuracy"].iloc[0] == "91.00 ± 1.41%"


def test_each_model_and_dataset_is_its_own_block(tmp_path, write_result):
    for architecture, dataset in (("cnn", "fashion_mnist"), ("cnn", "mnist"),
                                  ("vit", "mnist")):
        _result(write_result, tmp_path, "dense", None, 0, 0.9, 1000,
                architecture=architecture, dataset=dataset)
        _result(write_result, tmp_path, "posthoc", 4, 0, 0.8, 100,
                architecture=architecture, dataset=dataset)
    table = ar.architecture_table(ar.load_architecture_results(str(tmp_path)))
    assert sorted(set(table["model"])) == ["CNN on Fashion-MNIST", "CNN on MNIST",
                                           "ViT on MNIST"]
    assert (table["seeds"] == 1).all()  # never one mean over two datasets


def test_runs_of_one_row_with_different_settings_are_refused(tmp_path, write_result):
    _result(write_result, tmp_path, "lowrank", 4, 0, 0.85, 100)
    _result(write_result, tmp_path, "lowrank", 4, 1, 0.86, 100, batch_size=64)
    with pytest.raises(MixedRecipeError, match="batch_size"):
        ar.load_architecture_results(str(tmp_path))


def test_a_result_the_check_refuses_is_named(tmp_path, write_result):
    _result(write_result, tmp_path, "lowrank", 4, 0, 0.85, 100)
    path = tmp_path / "fashion_mnist-cnn-lowrank-r4-seed0.json"
    payload = json.loads(path.read_text())
    path.write_text(json.dumps({**payload, "inference": {"seconds": -1, "dense_seconds": 2}}))
    with pytest.raises(CorruptResultError, match="inference.seconds"):
        ar.load_architecture_results(str(tmp_path))
    path.write_text(json.dumps({**payload, "layers": {"conv": {"type": "Conv2D"}}}))
    with pytest.raises(CorruptResultError, match="macs"):
        ar.load_architecture_results(str(tmp_path))


def test_layer_costs_table_reads_one_run(tmp_path, write_result):
    _result(write_result, tmp_path, "finetune", 4, 0, 0.8, 100)
    costs = ar.layer_costs_table(str(tmp_path), "cnn", "fashion_mnist", "finetune", 4)
    assert costs.to_dict("records") == [{
        "layer": "conv", "type": "Conv2D", "compressed as": "Conv2D", "rank": 4,
        "parameters": "1,000", "compressed parameters": "100", "MACs": "500",
        "compressed MACs": "50"}]
    assert ar.layer_costs_table(str(tmp_path), "vit", "fashion_mnist", "finetune", 4).empty
    assert ar.layer_costs_table(str(tmp_path), "cnn", "mnist", "finetune", 4).empty
    # the run is found by the config its file holds, whatever the file's name
    (tmp_path / "fashion_mnist-cnn-finetune-r4-seed0.json").rename(tmp_path / "renamed.json")
    assert ar.layer_costs_table(str(tmp_path), "cnn", "fashion_mnist", "finetune",
                                4).equals(costs)
    assert ar.layer_costs_table(str(tmp_path), "cnn", "fashion_mnist", "finetune", 4,
                                seed=1).empty
    (tmp_path / "stray.json").write_text('{"not": "a result"}')  # skipped, not a KeyError
    assert ar.layer_costs_table(str(tmp_path), "cnn", "fashion_mnist", "finetune",
                                4).equals(costs)


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


def test_missing_runs_name_what_a_partial_grid_lacks(tmp_path, write_result, monkeypatch):
    monkeypatch.setattr(ar, "METHODS", ("dense", "lowrank", "small"))  # the page's methods
    for seed in (0, 1):
        _result(write_result, tmp_path, "dense", None, seed, 0.9, 1000)
        _result(write_result, tmp_path, "lowrank", 4, seed, 0.85, 100)
        _result(write_result, tmp_path, "lowrank", 10, seed, 0.87, 200)
        for rank in (4, 10):
            _result(write_result, tmp_path, "small", rank, seed, 0.8, 105 * rank)
    assert ar.missing_runs(ar.load_architecture_results(str(tmp_path))) == [
        "ViT: no run has a result yet."]  # the CNN's grid is complete
    with monkeypatch.context() as patch:
        patch.setattr(ar, "ARCHITECTURES", ("cnn",))  # a page of the CNN alone
        assert ar.missing_runs(ar.load_architecture_results(str(tmp_path))) == []
    for path in tmp_path.glob("*small-r*"):
        path.unlink()
    assert "`small` at ranks 4 and 10 (seeds 0, 1)" in ar.missing_runs(
        ar.load_architecture_results(str(tmp_path)))[1]  # a method with no run at all
    _result(write_result, tmp_path, "small", 4, 0, 0.8, 105)
    _result(write_result, tmp_path, "dense", None, 0, 0.9, 1000, architecture="vit",
            dataset="mnist")
    frame = ar.load_architecture_results(str(tmp_path))
    cnn, vit = ar.missing_runs(frame)
    assert cnn == ("CNN on Fashion-MNIST: 3 of 10 runs have no result yet: `small` at rank "
                   "4 (seed 1); `small` at rank 10 (seeds 0, 1). Their rows are absent or "
                   "rest on fewer seeds.")
    # the ViT has run no method but dense, at no rank: it lacks every other method
    assert vit == ("ViT on MNIST: 2 of 3 runs have no result yet: `lowrank` (seed 0); "
                   "`small` (seed 0). Their rows are absent or rest on fewer seeds.")
    assert ar.missing_runs(frame.iloc[0:0]) == ["CNN: no run has a result yet.",
                                                "ViT: no run has a result yet."]
