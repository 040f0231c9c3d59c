"""Atomic result files and provenance."""

import json
import os
import stat

import numpy as np
import pytest

from svdnet.experiments.provenance import provenance
from svdnet.experiments.results import CorruptResultError, read_json, write_json_atomic


def test_round_trip_converts_numpy_and_non_finite(tmp_path):
    path = tmp_path / "sub" / "run.json"
    write_json_atomic(path, {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan")})
    assert read_json(path) == {"a": 0.5, "b": [0, 1, 2], "c": None}
    assert os.listdir(tmp_path / "sub") == ["run.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "run.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert read_json(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["run.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_folder_is_named(tmp_path):
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(PermissionError, match=str(tmp_path)):
            write_json_atomic(tmp_path / "run.json", {"v": 1})
    finally:
        tmp_path.chmod(stat.S_IRWXU)


def test_unwritable_path_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="file"):
        write_json_atomic(blocker / "run.json", {"v": 1})


def test_truncated_file_is_reported_by_name(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"accuracy": 0.9})[:8])
    with pytest.raises(CorruptResultError, match="run.json.*corrupt or truncated"):
        read_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(CorruptResultError, match="holds a list"):
        read_json(path)


def test_provenance_records_versions_machine_and_commit():
    info = provenance()
    assert {"tensorflow-cpu", "keras", "numpy"} <= set(info["versions"]) or \
        {"tensorflow", "keras", "numpy"} <= set(info["versions"])
    assert info["machine"]["cpu_count"] >= 1
    assert "commit" in info and info["created_utc"].endswith("+00:00")


def test_result_file_is_readable_by_others_like_a_normal_file(tmp_path):
    path = tmp_path / "run.json"
    old = os.umask(0o022)
    try:
        write_json_atomic(path, {"v": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_a_result_path_that_is_a_folder_is_named_and_nothing_is_left(tmp_path):
    folder = tmp_path / "run.json"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="run.json': it is a folder. Remove it"):
        write_json_atomic(folder, {"v": 1})
    assert sorted(os.listdir(tmp_path)) == ["run.json"] and not os.listdir(folder)


def test_bytes_that_are_not_utf8_are_a_corrupt_file_named_by_path(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(b'\xff\xfe{"run": 1}')
    with pytest.raises(CorruptResultError, match="run.json' is corrupt or truncated"):
        read_json(path)


def test_the_report_skips_a_non_utf8_file_when_asked(tmp_path):
    from svdnet.experiments.report import load_results

    (tmp_path / "bad.json").write_bytes(b"\x80\x81")
    frame, problems = load_results(str(tmp_path), on_corrupt="skip")
    assert frame.empty and len(problems) == 1 and "bad.json" in problems[0]
    with pytest.raises(CorruptResultError, match="bad.json"):
        load_results(str(tmp_path))


def _valid_result(**run):
    """A result record as the sweep writes it, with ``run`` fields replaced."""
    import dataclasses

    from svdnet.experiments import RunConfig

    config = RunConfig(method="lowrank", rank=2, epochs=2, finetune_epochs=1, train_size=1000)
    return {"config": dataclasses.asdict(config), "quick": False,
            "run": {"test_accuracy": 0.9, "test_loss": 0.3, "chosen_ranks": {"hidden_1": 2},
                    "ranks": {"hidden_1": 2}, "history": {"accuracy": [0.5, 0.8]},
                    "params": {"dense": 1000, "factorized": 100, "ratio": 10.0},
                    "train_seconds": 1.0, "svd_seconds": 0.1, **run},
            "baseline": None, "wall_seconds": 3.0}


def _replace(payload, field, value):
    *parents, last = field.split(".")
    target = payload
    for key in parents:
        target = target[key]
    target[last] = value
    return payload


@pytest.mark.parametrize("field, value, allowed", [
    ("run.test_accuracy", "abc", "a finite number from 0 to 1"),
    ("run.test_accuracy", None, "a finite number from 0 to 1"),
    ("run.test_accuracy", [1], "a finite number from 0 to 1"),
    ("run.test_accuracy", 97.5, "a finite number from 0 to 1"),
    ("run.test_accuracy", True, "a finite number from 0 to 1"),
    ("run.test_loss", -0.5, "a finite number >= 0"),
    ("run.params.ratio", -1, "a finite number > 0"),
    ("run.params.ratio", 0, "a finite number > 0"),
    ("run.params.factorized", 2.5, "an integer >= 1"),
    ("run.train_seconds", "1 s", "a finite number >= 0"),
    ("run.history.accuracy", [0.5, 2.0], "a list of finite numbers from 0 to 1"),
    ("config.seed", -1, "an integer >= 0"),
    ("config.epochs", 0, "an integer >= 1"),
    ("config.method", "prune", "one of dense, projection"),
    ("run.ranks.hidden_1", 5, "an integer at most the layer's chosen rank 2"),
    ("config.architecture", "resnet", "one of mlp, cnn, vit"),
    ("config.architecture", None, "one of mlp, cnn, vit"),
    ("run.params.width", 0, "an integer >= 1 (a width) or a number in (0, 1]"),
    ("run.params.width", 1.5, "an integer >= 1 (a width) or a number in (0, 1]"),
    ("run.params.width", -0.2, "an integer >= 1 (a width) or a number in (0, 1]"),
    ("run.params.width", float("nan"), "an integer >= 1 (a width) or a number in (0, 1]"),
    ("run.params.width", "64", "an integer >= 1 (a width) or a number in (0, 1]"),
    ("run.params.width", True, "an integer >= 1 (a width) or a number in (0, 1]"),
])
def test_a_bad_value_is_not_finished_and_names_file_field_value_and_allowed(
        tmp_path, field, value, allowed):
    from svdnet.experiments.results import is_finished, read_result

    path = tmp_path / "mnist-lowrank-r2.json"
    write_json_atomic(path, _valid_result())
    assert is_finished(path)
    payload = _replace(_valid_result(), field, value)
    path.write_text(json.dumps(payload))
    assert not is_finished(path)
    with pytest.raises(CorruptResultError) as info:
        read_result(path)
    message = str(info.value)
    for text in (str(path), f"{field} = {value!r}", f"allowed: {allowed}"):
        assert text in message, (text, message)


@pytest.mark.parametrize("field, value, allowed", [
    ("inference.seconds", 0, "a finite number > 0"),
    ("inference.dense_seconds", float("inf"), "a finite number > 0"),
    ("inference.seconds", "fast", "a finite number > 0"),
    ("layers", [], "a JSON object"),
])
def test_bad_deployment_costs_are_named(tmp_path, field, value, allowed):
    from svdnet.experiments.results import read_result

    path = tmp_path / "mnist-lowrank-r2.json"
    payload = {**_valid_result(), "layers": {}, "dense_layers": {},
               "inference": {"examples": 2048, "batch_size": 256, "seconds": 0.1,
                             "dense_seconds": 0.2}}
    write_json_atomic(path, payload)
    read_result(path)
    path.write_text(json.dumps(_replace(payload, field, value)))
    with pytest.raises(CorruptResultError, match=f"allowed: {allowed}"):
        read_result(path)


@pytest.mark.parametrize("width", [64, 1, 0.2, 1.0])
def test_a_small_networks_width_or_multiplier_is_finished(tmp_path, width):
    from svdnet.experiments.results import is_finished

    path = tmp_path / "mnist-small-r2.json"
    payload = _replace(_valid_result(), "run.params.width", width)
    write_json_atomic(path, payload)
    assert is_finished(path)


def test_a_missing_field_is_named(tmp_path):
    from svdnet.experiments.results import is_finished, read_result

    payload = _valid_result()
    del payload["run"]["test_loss"]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(payload))
    assert not is_finished(path)
    with pytest.raises(CorruptResultError, match="run.json' lacks the field 'run.test_loss'"):
        read_result(path)


def test_a_non_finite_number_in_the_file_is_refused(tmp_path):
    from svdnet.experiments.results import is_finished

    path = tmp_path / "run.json"
    path.write_text(json.dumps(_valid_result()).replace('"test_loss": 0.3', '"test_loss": NaN'))
    assert json.loads(path.read_text())["run"]["test_loss"] != 0.3
    assert not is_finished(path)


def test_a_stray_copy_of_a_result_is_refused_naming_both_files(tmp_path):
    from svdnet.experiments.report import load_results
    from svdnet.experiments.results import DuplicateResultError

    write_json_atomic(tmp_path / "a-run.json", _valid_result())
    write_json_atomic(tmp_path / "a-run copy.json", _valid_result())
    with pytest.raises(DuplicateResultError) as info:
        load_results(str(tmp_path))
    message = str(info.value)
    assert "a-run copy.json" in message and "a-run.json" in message
    assert "mnist-lowrank-r2-5x1024-e2-b128-n1000-seed0.json" in message  # the runner's name
    frame, problems = load_results(str(tmp_path), on_corrupt="skip")
    assert len(frame) == 1 and len(problems) == 1 and "same run configuration" in problems[0]
    other = _valid_result()
    other["config"]["seed"] = 1  # another run: both count
    write_json_atomic(tmp_path / "a-run copy.json", other)
    assert len(load_results(str(tmp_path))[0]) == 2


@pytest.mark.parametrize("field, value", [("train_size", 0), ("batch_size", 64),
                                          ("svd_method", "randomized"), ("pipeline", "numpy"),
                                          ("every", 2), ("finetune_epochs", 3)])
def test_runs_of_one_row_that_differ_beyond_the_seed_are_never_averaged(tmp_path, field, value):
    from svdnet.experiments.report import load_results
    from svdnet.experiments.results import MixedRecipeError

    write_json_atomic(tmp_path / "seed0.json", _valid_result())
    other = _valid_result()
    other["config"]["seed"] = 1
    assert other["config"][field] != value
    other["config"][field] = value  # a setting no column of the report shows
    write_json_atomic(tmp_path / "seed1.json", other)
    with pytest.raises(MixedRecipeError) as info:
        load_results(str(tmp_path))
    message = str(info.value)
    assert field in message and "seed0.json" in message and "seed1.json" in message
    other["config"][field] = _valid_result()["config"][field]  # the same recipe: one mean
    write_json_atomic(tmp_path / "seed1.json", other)
    frame = load_results(str(tmp_path))[0]
    assert len(frame) == 2 and frame["recipe"].nunique() == 1


def test_distillations_of_another_weight_or_temperature_are_not_averaged(tmp_path):
    from svdnet.experiments.report import load_results
    from svdnet.experiments.results import MixedRecipeError

    for seed, temperature in enumerate((4.0, 2.0)):
        result = _valid_result()
        result["config"].update(seed=seed, distill=0.9, temperature=temperature)
        write_json_atomic(tmp_path / f"kd{seed}.json", result)
    with pytest.raises(MixedRecipeError, match="temperature"):
        load_results(str(tmp_path))  # both are lowrank+kd: the label does not tell them apart


def test_a_field_an_older_file_lacks_is_read_at_its_default(tmp_path):
    from svdnet.experiments.report import load_results

    write_json_atomic(tmp_path / "new.json", _valid_result())
    older = _valid_result()
    older["config"]["seed"] = 1
    del older["config"]["pipeline"]  # written before the field existed: its default
    write_json_atomic(tmp_path / "old.json", older)
    assert len(load_results(str(tmp_path))[0]) == 2


def test_runs_that_a_row_tells_apart_are_not_a_mixed_recipe(tmp_path):
    from svdnet.experiments.report import load_results

    write_json_atomic(tmp_path / "a.json", _valid_result())
    other = _valid_result()
    other["config"].update(epochs=30, seed=1)  # another row of the report
    write_json_atomic(tmp_path / "b.json", other)
    assert len(load_results(str(tmp_path))[0]) == 2


def test_provenance_records_the_cpus_vector_instruction_sets(tmp_path):
    from svdnet.experiments.provenance import cpu_features, machine

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n"
                       "flags\t\t: fpu sse4_2 avx2 fma avx512f avx512_bf16 amx_tile lm\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_features(str(cpuinfo)) == ["amx_tile", "avx2", "avx512_bf16", "avx512f", "fma",
                                          "sse4_2"]
    assert cpu_features(str(tmp_path / "none")) == []
    assert machine()["cpu_features"] == cpu_features()
