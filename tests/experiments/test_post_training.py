"""The post-training study: its design, its settings' refusals, its rows, and resuming."""

import dataclasses
import json
import re

import numpy as np
import pytest

from svdnet.experiments import post_training
from svdnet.experiments.model import build_mlp, mlp_parameters, width_for_parameters
from svdnet.experiments.post_training import COMPRESSORS, StudySettings, design, run_study
from svdnet.experiments.provenance import provenance


def test_design_sweeps_examples_at_fixed_steps_and_steps_at_fixed_examples():
    points = design(55_000)
    assert len(points) == len(set(points))
    assert {examples for examples, steps in points if steps == post_training.SWEEP_STEPS} == \
        set(post_training.EXAMPLES)
    assert {steps for examples, steps in points if examples == post_training.SWEEP_EXAMPLES} \
        == {0, 100, 430, post_training.SWEEP_STEPS}  # 430 steps: one epoch of 55,000 at 128


@pytest.mark.parametrize("field, value, named", [
    ("model", "MLP", "'MLP'"), ("dataset", "cifar10", "cifar10"), ("seed", -1, "-1"),
    ("epochs", 0, "0"), ("ratios", (), "()"), ("ratios", (10.0, 10.0), "(10.0, 10.0)"),
    ("ratios", (1.0,), "1.0"), ("ratios", [10.0], "[10.0]"),
    ("fine_tune_ratios", (7.0,), "[7.0]"), ("calibration", 0, "0"),
    ("fine_tune_rate", 0.0, "0.0"), ("fine_tune_rate", float("nan"), "nan"),
    ("distill_rate", -1e-3, "-0.001"), ("scratch_rate", "0.001", "'0.001'"),
    ("distill", 1.5, "1.5"), ("temperature", -1.0, "-1.0"),
])
def test_bad_settings_are_refused_naming_the_value(field, value, named):
    with pytest.raises((TypeError, ValueError), match=field) as error:
        StudySettings(**{field: value})
    assert named in str(error.value)


@pytest.mark.parametrize("flags", [["--seeds", "0,0"], ["--ratios", "10,x"],
                                   ["--fine-tune-ratios", "7"], ["--mod", "cnn"],
                                   ["--model", "resnet"], ["--epochs", "0"]])
def test_bad_flags_exit_with_a_usage_message(flags, capsys):
    with pytest.raises(SystemExit) as stop:
        post_training.main(flags)
    assert stop.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_the_small_network_matches_the_parameter_count():
    for parameters in (60_000, 200_000, 1_700_000):
        width = width_for_parameters(parameters)
        size = mlp_parameters(784, 10, 5, width)
        for other in (width - 1, width + 1):
            assert abs(mlp_parameters(784, 10, 5, other) - parameters) >= abs(size - parameters)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The study on 1,200 MNIST training images (200 for validation) with a 2x64 MLP and
    two short fine-tuning points, run once for the module: ``(settings, out, cache, path)``."""
    real_splits = post_training.splits

    def splits(dataset):
        data, _, _ = real_splits(dataset)
        data = data.__class__(name=data.name, x_train=data.x_train[:1200],
                              y_train=data.y_train[:1200], x_test=data.x_test[:300],
                              y_test=data.y_test[:300], num_classes=data.num_classes)
        return data, (data.x_train[:1000], data.y_train[:1000]), \
            (data.x_train[1000:], data.y_train[1000:])

    def build_model(model, num_classes, input_dim, parameters=None, learning_rate=1e-3):
        width = 64 if parameters is None else width_for_parameters(
            parameters, input_dim, num_classes, depth=2, max_width=64)
        return build_mlp(input_dim, num_classes, depth=2, width=width,
                         learning_rate=learning_rate)

    folder = tmp_path_factory.mktemp("post_training")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(post_training, "splits", splits)
        patch.setattr(post_training, "build_model", build_model)
        patch.setattr(post_training, "design", lambda examples: [(256, 0), (256, 3), (0, 2)])
        settings = StudySettings(epochs=1, ratios=(2.0, 8.0), fine_tune_ratios=(8.0,),
                                 calibration=256)
        out, cache = str(folder / "study"), str(folder / "cache")
        path = run_study(settings, out, cache, log=lambda line: None)
        yield settings, out, cache, path


def _rows(path):
    with open(path, encoding="utf-8") as handle:
        return {row["key"]: row for row in json.load(handle)["rows"]}


@pytest.mark.slow
def test_a_study_writes_every_row_and_fine_tunes_the_compressor_best_on_validation(
        tiny_study):
    settings, out, cache, path = tiny_study
    rows = _rows(path)
    dense = rows["dense"]
    compressed = [row for row in rows.values() if row["kind"] == "compressed"]
    assert {(row["ratio"], row["method"]) for row in compressed} == {
        (ratio, name) for ratio in (2.0, 8.0) for name in COMPRESSORS}
    for row in compressed:
        assert row["parameters"] <= dense["parameters"] / row["ratio"]
        assert row["steps"] == 0
    at_8 = [row for row in compressed if row["ratio"] == 8.0]
    chosen = max(at_8, key=lambda row: row["val"])["method"]
    tuned = [row for row in rows.values() if row["kind"] == "fine-tuned"]
    assert {(row["method"], row["examples"], row["steps"]) for row in tuned} == {
        (chosen, 256, 3), (chosen, 1000, 2)}
    for kind in ("small", "distilled"):
        runs = [row for row in rows.values() if row["kind"] == kind]
        assert {(row["examples"], row["steps"]) for row in runs} == {(256, 3), (1000, 2)}
        parameters = next(row for row in at_8 if row["method"] == chosen)["parameters"]
        assert all(abs(row["parameters"] - parameters) <= 2 * 64 + 10 + 784
                   for row in runs)  # the closest width: one unit more or less
    assert all(0 <= row["test"] <= 1 and 0 <= row["val"] <= 1 for row in rows.values())
    stored = json.load(open(path, encoding="utf-8"))
    assert stored["execution"]["intra_op_threads"] == 1
    assert stored["provenance"]["commit"]


@pytest.mark.slow
def test_a_rerun_redoes_nothing_and_a_lost_row_comes_back_the_same(tiny_study):
    settings, out, cache, path = tiny_study
    first = _rows(path)
    lines = []
    run_study(settings, out, cache, log=lines.append)
    assert lines == [f"wrote {path}"]
    stored = json.load(open(path, encoding="utf-8"))
    lost = [key for key in first if first[key]["kind"] in ("fine-tuned", "distilled")]
    stored["rows"] = [row for row in stored["rows"] if row["key"] not in lost]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    run_study(settings, out, cache, log=lines.append)
    again = _rows(path)
    assert len(lines) == 1 + len(lost) + 1
    for key in lost:
        assert again[key]["val"] == first[key]["val"]
        assert again[key]["test"] == first[key]["test"]


@pytest.mark.slow
def test_a_ratio_below_the_smallest_factorization_is_skipped_saying_so(tiny_study, tmp_path):
    settings, out, cache, path = tiny_study
    # 400x asks for about 140 parameters, below rank-1 factors of every kernel
    more = StudySettings(epochs=1, ratios=(8.0, 400.0), fine_tune_ratios=(8.0,),
                         calibration=256)
    lines = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(post_training, "design", lambda examples: [(256, 0)])
        result = run_study(more, str(tmp_path), cache, log=lines.append)
    skipped = [line for line in lines if "400x: skipped" in line]
    assert len(skipped) == 1 and "below the smallest possible model" in skipped[0]
    assert not [key for key in _rows(result) if key.startswith("400x")]
    assert "8x sequential" in _rows(result)


@pytest.mark.slow
def test_a_file_of_other_settings_is_refused_not_mixed(tiny_study):
    settings, out, cache, path = tiny_study
    before = open(path, encoding="utf-8").read()
    other = StudySettings(epochs=2, ratios=settings.ratios,
                          fine_tune_ratios=settings.fine_tune_ratios, calibration=256)
    with pytest.raises(ValueError, match="other settings") as error:
        run_study(other, out, cache, log=lambda line: None)
    assert "'epochs': 2" in str(error.value)
    assert open(path, encoding="utf-8").read() == before


def test_a_weights_fingerprint_follows_the_weights_not_the_file(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    first = post_training.weights_fingerprint(model)
    model.save_weights(str(tmp_path / "a.weights.h5"))
    again = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert post_training.weights_fingerprint(again) != first  # other initial weights
    again.load_weights(str(tmp_path / "a.weights.h5"))
    assert post_training.weights_fingerprint(again) == first and len(first) == 16
    kernel, bias = again.get_weights()
    kernel[0, 0] = np.nextafter(kernel[0, 0], np.float32(np.inf))  # one ulp
    again.set_weights([kernel, bias])
    assert post_training.weights_fingerprint(again) != first


def test_a_sweep_file_is_extended_when_only_the_rates_it_varies_changed(tmp_path):
    path = str(tmp_path / "mlp-mnist-seed0.json")
    before = StudySettings()
    stored = post_training.StudyFile(path, before)
    stored.add({"key": "10x small rate=0.001", "val": 0.9})
    with open(path, encoding="utf-8") as handle:
        commit = json.load(handle)["provenance"]["commit"]
    chosen = StudySettings(fine_tune_rate=3e-5, scratch_rate=3e-3, distill_rate=1e-2)
    varied = tuple(post_training.RATE_SETTINGS.values())
    extended = post_training.StudyFile(path, chosen, varied=varied)
    assert list(extended.rows) == ["10x small rate=0.001"] and extended.commit == commit
    with pytest.raises(ValueError, match="other settings"):  # a study file is not extended
        post_training.StudyFile(path, chosen)
    with pytest.raises(ValueError, match="'epochs': 2"):  # nor a sweep of another dense model
        post_training.StudyFile(path, StudySettings(epochs=2, fine_tune_rate=3e-5),
                                varied=varied)
    assert post_training.StudyFile(str(tmp_path / "new.json"), chosen).commit == ""


@pytest.mark.slow
def test_data_aware_compression_keeps_more_accuracy_than_plain_at_high_ratio(tiny_study):
    settings, out, cache, path = tiny_study
    rows = _rows(path)
    at_8 = {row["method"]: row["val"] for row in rows.values()
            if row["kind"] == "compressed" and row["ratio"] == 8.0}
    assert max(at_8[name] for name in COMPRESSORS if name != "plain") >= at_8["plain"]
    assert np.isfinite(list(at_8.values())).all()


@pytest.mark.parametrize("ratios, sizes, named", [
    ((10.0,), (), "sizes"), ((10.0,), (256, 256), "[256, 256]"), ((10.0,), (0,), "0"),
    ((), (256,), "ratios"), ((1.0,), (256,), "1.0"), ((10.0,), (2.5,), "2.5"),
    ((10.0,), (55_001,), "55001"),  # beyond the 55,000 training images
])
def test_a_calibration_sweep_refuses_bad_lists_naming_them(tmp_path, ratios, sizes, named):
    with pytest.raises((TypeError, ValueError)) as error:
        post_training.run_calibration_sweep(StudySettings(), ratios, sizes,
                                            str(tmp_path / "out"), str(tmp_path / "cache"))
    assert named in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", [["--calibration", "4096"], ["--fine-tune-ratios", "10"]])
def test_a_calibration_sweep_refuses_the_studys_flags_it_would_ignore(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as stop:
        post_training.main(["--calibration-sizes", "256", "--cache", str(tmp_path), *flag])
    assert stop.value.code == 2
    assert f"{flag[0]} set the study, not the calibration sweep" in capsys.readouterr().err


def test_a_calibration_sweep_without_the_dense_model_names_the_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        post_training.main(["--model", "cnn", "--dataset", "fashion_mnist",
                            "--calibration-sizes", "256,1024", "--cache", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no cached dense model" in err and "--model cnn --dataset fashion_mnist" in err


@pytest.mark.slow
def test_a_calibration_sweep_writes_each_size_once_and_resumes(tiny_study, tmp_path):
    settings, out, cache, path = tiny_study
    sweep = str(tmp_path / "calibration")
    lines = []
    result = post_training.run_calibration_sweep(settings, (8.0,), (64, 256), sweep, cache,
                                                 log=lines.append)
    rows = _rows(result)
    assert sorted(rows) == sorted(["8x plain calibration=0"] + [
        f"8x {name} calibration={size}" for name in post_training.SWEPT_COMPRESSORS
        for size in (64, 256)])
    dense = _rows(path)["dense"]
    for row in rows.values():
        assert row["kind"] == "calibration" and 0 <= row["test"] <= 1
        assert row["parameters"] <= dense["parameters"] / 8.0
    # the rows at 256 examples are the study's own one pass and sequential at 8x
    study = _rows(path)
    for name in post_training.SWEPT_COMPRESSORS:
        assert rows[f"8x {name} calibration=256"]["val"] == study[f"8x {name}"]["val"]
    assert rows["8x plain calibration=0"]["val"] == study["8x plain"]["val"]
    again = []
    post_training.run_calibration_sweep(settings, (8.0,), (64, 256), sweep, cache,
                                        log=again.append)
    assert again == [f"wrote {result}"]


@pytest.mark.slow
def test_a_rate_sweep_reproduces_the_studys_rows_at_its_rates_and_resumes(tiny_study, tmp_path):
    settings, out, cache, path = tiny_study
    sweep = str(tmp_path / "rates")
    lines = []
    result = post_training.run_rate_sweep(settings, 8.0, (1e-4, 1e-3), examples=256, steps=3,
                                          study_dir=out, out=sweep, cache=cache,
                                          log=lines.append)
    rows, study = _rows(result), _rows(path)
    assert len(rows) == 3 * 2 and len(lines) == 7
    chosen = post_training.chosen_compressor(study, 8.0)
    for kind in post_training.TRAINED:
        own = post_training.study_rate(settings, kind)
        for rate in (1e-4, 1e-3):
            row = rows[f"8x {kind} N=256 S=3 rate={rate:g}"]
            assert row["study_rate"] == (rate == own) and 0 <= row["val"] <= 1
        # at the study's own rate the sweep trains the study's row again: the same numbers
        name = f"fine-tuned {chosen}" if kind == "fine-tuned" else kind
        again = rows[f"8x {kind} N=256 S=3 rate={own:g}"]
        original = study[f"8x {name} N=256 S=3"]
        for field in ("val", "test", "parameters"):
            assert again[field] == original[field], (kind, field)
    again = []
    post_training.run_rate_sweep(settings, 8.0, (1e-4, 1e-3), examples=256, steps=3,
                                 study_dir=out, out=sweep, cache=cache, log=again.append)
    assert again == [f"wrote {result}"]
    assert {row["commit"] for row in rows.values()} == {provenance()["commit"]}
    # another rate extends the file: every row records the one start it trained from
    post_training.run_rate_sweep(settings, 8.0, (3e-3,), examples=256, steps=3, study_dir=out,
                                 out=sweep, cache=cache, log=lambda line: None)
    extended = _rows(result)
    assert len(extended) == 3 * 3
    assert {(row["dense"], row["compressor"]) for row in extended.values()} == {
        (rows["8x small N=256 S=3 rate=0.001"]["dense"], chosen)}
    # a row that started from another compressor: refused, the file left as it was
    with open(result, encoding="utf-8") as handle:
        stored = json.load(handle)
    stored["rows"][0]["compressor"] = "plain" if chosen != "plain" else "one pass"
    with open(result, "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    before = open(result, encoding="utf-8").read()
    with pytest.raises(ValueError, match="another dense model or compressor"):
        post_training.run_rate_sweep(settings, 8.0, (1e-2,), examples=256, steps=3,
                                     study_dir=out, out=sweep, cache=cache,
                                     log=lambda line: None)
    assert open(result, encoding="utf-8").read() == before


@pytest.mark.parametrize("changes, named", [
    ({"ratio": 3.0}, "ratio must be one of the study's fine_tune_ratios"),
    ({"rates": ()}, "rates must list distinct values; received []"),
    ({"rates": (1e-3, 1e-3)}, "rates must list distinct values"),
    ({"rates": (-1.0,)}, "received -1.0"),
    ({"steps": 0}, "steps must be an integer >= 1, received 0"),
    ({"examples": 60_000}, "received 60000"),
])
def test_a_rate_sweep_refuses_bad_values_naming_them(tmp_path, changes, named):
    arguments = {"ratio": 10.0, "rates": (1e-3,), "examples": 256, "steps": 10,
                 "study_dir": str(tmp_path), "out": str(tmp_path), **changes}
    with pytest.raises((TypeError, ValueError), match=re.escape(named)):
        post_training.run_rate_sweep(StudySettings(), **arguments)
    with pytest.raises(FileNotFoundError, match="no study at"):
        post_training.run_rate_sweep(StudySettings(), study_dir=str(tmp_path), out=str(tmp_path))


def test_a_rate_sweep_reads_the_studys_settings_and_refuses_the_flags_it_would_ignore(
        tmp_path, capsys):
    settings = StudySettings(model="cnn", dataset="fashion_mnist", fine_tune_ratios=(10.0, 25.0))
    with open(tmp_path / f"{settings.name}.json", "w", encoding="utf-8") as handle:
        json.dump({"settings": json.loads(json.dumps(dataclasses.asdict(settings))),
                   "rows": []}, handle)
    assert post_training.study_settings("cnn", "fashion_mnist", 0, str(tmp_path)) == settings
    with pytest.raises(FileNotFoundError, match="no study at .*cnn-fashion_mnist-seed1.json"):
        post_training.study_settings("cnn", "fashion_mnist", 1, str(tmp_path))
    with pytest.raises(ValueError, match=r"the study has no rows \['10x plain'"):
        post_training.chosen_compressor({}, 10.0)
    for flags in (["--fine-tune-ratios", "10,25"], ["--calibration", "512"]):
        with pytest.raises(SystemExit):
            post_training.main(["--rates", "0.001", *flags])
        assert "takes them from the study's file" in capsys.readouterr().err


def test_each_trained_kind_has_its_own_rate_and_older_files_keep_theirs(tmp_path):
    settings = StudySettings(fine_tune_rate=3e-5, scratch_rate=1e-3, distill_rate=3e-3)
    assert [post_training.study_rate(settings, kind) for kind in post_training.TRAINED] == \
        [3e-5, 1e-3, 3e-3]
    with pytest.raises(ValueError, match="received 'dense'"):
        post_training.study_rate(settings, "dense")
    # a file written before distill_rate existed: its distilled rows trained at scratch_rate
    older = json.loads(json.dumps(dataclasses.asdict(StudySettings(scratch_rate=2e-3))))
    del older["distill_rate"]
    path = tmp_path / "mlp-mnist-seed0.json"
    path.write_text(json.dumps({"settings": older, "rows": []}), encoding="utf-8")
    stored = post_training.study_settings("mlp", "mnist", 0, str(tmp_path))
    assert stored.distill_rate == 2e-3 == post_training.study_rate(stored, "distilled")
    post_training.StudyFile(str(path), stored)  # resumes: the same settings
    with pytest.raises(ValueError, match="other settings"):
        post_training.StudyFile(str(path), StudySettings(scratch_rate=2e-3, distill_rate=1e-3))
    assert post_training.completed_settings(None) is None


@pytest.mark.parametrize("validation, prefer, expected", [
    ({1e-4: 0.90, 1e-3: 0.92, 3e-3: 0.91}, None, 1e-3),
    ({1e-4: 0.92, 1e-3: 0.92}, None, 1e-4),  # a tie: the smallest
    ({1e-4: 0.92, 1e-3: 0.92}, 1e-3, 1e-3),  # a tie: the preferred one
    ({1e-4: 0.92, 1e-3: 0.91}, 1e-3, 1e-4),  # preferred only on a tie
])
def test_best_rate_is_the_highest_validation_accuracy(validation, prefer, expected):
    assert post_training.best_rate(validation, prefer) == expected


@pytest.mark.parametrize("validation", [{}, {1e-3: float("nan")}])
def test_best_rate_refuses_nothing_to_choose_from(validation):
    with pytest.raises(ValueError, match="received"):
        post_training.best_rate(validation)


def _sweep_file(folder, seed, accuracies, model="cnn", dataset="fashion_mnist", steps=1000):
    """A rate sweep's result file: ``accuracies`` maps (kind, rate) to validation accuracy."""
    rows = [{"kind": kind, "rate": rate, "val": val, "test": 0.5, "ratio": 10.0,
             "examples": 4096, "steps": steps, "seed": seed}
            for (kind, rate), val in accuracies.items()]
    folder.mkdir(exist_ok=True)
    (folder / f"{model}-{dataset}-seed{seed}.json").write_text(
        json.dumps({"rows": rows}), encoding="utf-8")


def test_validated_rates_are_the_best_mean_over_seeds_on_validation(tmp_path):
    folder = tmp_path / "rates"
    base = {(kind, rate): 0.8 for kind in post_training.TRAINED for rate in (1e-4, 1e-3)}
    # seed 0 alone prefers 1e-4 for the small network; the mean over both seeds 1e-3
    _sweep_file(folder, 0, {**base, ("small", 1e-4): 0.85, ("distilled", 1e-3): 0.9})
    _sweep_file(folder, 1, {**base, ("small", 1e-3): 0.95, ("fine-tuned", 1e-4): 0.9})
    _sweep_file(folder, 0, {**base, ("small", 1e-4): 0.99}, model="mlp")  # another model
    assert post_training.validated_rates("cnn", "fashion_mnist", str(folder)) == {
        "fine-tuned": 1e-4, "small": 1e-3, "distilled": 1e-3}
    with pytest.raises(FileNotFoundError, match="--model vit --dataset mnist --rates"):
        post_training.validated_rates("vit", "mnist", str(folder))
    _sweep_file(folder, 2, base, steps=100)
    with pytest.raises(ValueError, match="several"):
        post_training.validated_rates("cnn", "fashion_mnist", str(folder))
    _sweep_file(folder, 2, {("small", 1e-3): 0.9})
    (folder / "cnn-fashion_mnist-seed0.json").unlink()
    (folder / "cnn-fashion_mnist-seed1.json").unlink()
    with pytest.raises(ValueError, match="no 'fine-tuned' rows"):
        post_training.validated_rates("cnn", "fashion_mnist", str(folder))


def test_validated_rates_refuse_a_rate_swept_at_some_seeds_only(tmp_path):
    folder = tmp_path / "rates"
    base = {(kind, rate): 0.8 for kind in post_training.TRAINED for rate in (1e-4, 1e-3)}
    _sweep_file(folder, 0, {**base, ("small", 1e-2): 0.99})  # a grid extended at seed 0 only
    _sweep_file(folder, 1, base)
    with pytest.raises(ValueError, match=re.escape("seeds {'0.01': [1]}")):
        post_training.validated_rates("cnn", "fashion_mnist", str(folder))
    _sweep_file(folder, 1, {**base, ("small", 1e-2): 0.9})  # mean 0.945 over both seeds
    assert post_training.validated_rates("cnn", "fashion_mnist", str(folder))["small"] == 1e-2


def test_the_study_takes_its_validated_rates_from_the_command_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "rates"
    _sweep_file(folder, 0, {("fine-tuned", 3e-5): 0.9, ("fine-tuned", 1e-4): 0.8,
                            ("small", 3e-3): 0.9, ("small", 1e-3): 0.8,
                            ("distilled", 1e-3): 0.9, ("distilled", 3e-3): 0.8})
    real = post_training.validated_rates
    monkeypatch.setattr(post_training, "validated_rates",
                        lambda model, dataset: real(model, dataset, str(folder)))
    studies = []
    monkeypatch.setattr(post_training, "run_study",
                        lambda settings, out, cache: studies.append(settings))
    post_training.main(["--model", "cnn", "--dataset", "fashion_mnist", "--seeds", "0,1",
                        "--validated-rates"])
    assert [(study.seed, study.fine_tune_rate, study.scratch_rate, study.distill_rate)
            for study in studies] == [(0, 3e-5, 3e-3, 1e-3), (1, 3e-5, 3e-3, 1e-3)]
    for flags, named in ((["--model", "vit"], "no learning-rate sweep of vit"),
                         (["--rates", "0.001"], "give it without --rates"),
                         (["--calibration-sizes", "256"], "without --calibration-sizes")):
        with pytest.raises(SystemExit) as stop:
            post_training.main([*flags, "--validated-rates"])
        assert stop.value.code == 2 and named in capsys.readouterr().err


@pytest.mark.slow
def test_each_baseline_trains_at_its_own_rate(tiny_study, tmp_path):
    """The small network trains at ``scratch_rate``, the distilled one at
    ``distill_rate``, the fine-tuned model at ``fine_tune_rate``."""
    from svdnet.experiments import architectures

    settings, out, cache, path = tiny_study
    rates = StudySettings(epochs=1, ratios=(8.0,), fine_tune_ratios=(8.0,), calibration=256,
                          fine_tune_rate=3e-5, scratch_rate=3e-3, distill_rate=3e-4)
    built, compiled = [], []
    real_build, real_compile = post_training.build_model, architectures.compile_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(post_training, "design", lambda examples: [(256, 2)])
        patch.setattr(post_training, "build_model", lambda *args: (
            built.append(args[4] if len(args) > 4 else None), real_build(*args))[1])
        patch.setattr(architectures, "compile_model", lambda model, rate: (
            compiled.append(rate), real_compile(model, rate))[1])
        run_study(rates, str(tmp_path), str(tmp_path / "cache"), log=lambda line: None)
    assert built == [None, 3e-3, 3e-4] and compiled == [3e-5]
