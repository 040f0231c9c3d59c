"""The one-off migration of result files to whole configurations."""

import dataclasses
import json

import pytest

from svdnet.experiments.config import RunConfig
from svdnet.experiments.migration import main, migrate_folder, migrate_result
from svdnet.experiments.report import load_results
from svdnet.experiments.results import write_json_atomic


def _older(folder, name="mnist-lowrank-r10-seed0.json", **config):
    """A result file as an older sweep wrote it: its config lacks the later options."""
    config = {"dataset": "mnist", "method": "lowrank", "rank": 10, "seed": 0, "epochs": 10,
              **config}
    path = folder / name
    write_json_atomic(path, {
        "config": config, "quick": False, "wall_seconds": 60.0,
        "run": {"config": dict(config), "test_accuracy": 0.95, "test_loss": 0.2,
                "chosen_ranks": {}, "train_seconds": 5.0, "svd_seconds": 0.5,
                "params": {"dense": 1000, "factorised": 100, "ratio": 10.0}}})
    return path


def test_each_file_gets_its_full_config_and_nothing_else_changes(tmp_path):
    path = _older(tmp_path)
    before = json.loads(path.read_text())
    frame_before, _ = load_results(str(tmp_path))
    assert migrate_folder(str(tmp_path)) == [str(path)]
    after = json.loads(path.read_text())
    full = dataclasses.asdict(RunConfig(method="lowrank", rank=10))
    assert after["config"] == after["run"]["config"] == full
    for payload in (before, after):
        payload.pop("config"), payload["run"].pop("config")
    assert after == before
    frame_after, _ = load_results(str(tmp_path))
    assert frame_after.equals(frame_before)  # the report reads the same rows


def test_migrating_twice_changes_nothing_more(tmp_path):
    path = _older(tmp_path)
    migrate_folder(str(tmp_path))
    text = path.read_bytes()
    assert migrate_folder(str(tmp_path)) == []
    assert migrate_result(str(path)) is False
    assert path.read_bytes() == text


@pytest.mark.parametrize("payload, text", [
    ({"config": {"method": "dense"}}, "not a sweep result"),
    ({"run": {}}, "not a sweep result"),
    ({"config": {"method": "dense", "colour": "red"}, "run": {}}, "colour"),
    ({"config": {"method": "lowrank", "rank": 0}, "run": {}}, "rank"),
    ({"config": {"method": "lowrank", "rank": 5},
      "run": {"config": {"method": "lowrank", "rank": 6}}}, "two different configs"),
])
def test_a_folder_with_one_bad_file_is_left_as_it_was(tmp_path, payload, text):
    good = _older(tmp_path, "a-good-one.json")
    before = good.read_bytes()
    write_json_atomic(tmp_path / "z-bad.json", payload)
    with pytest.raises(ValueError, match=text) as error:
        migrate_folder(str(tmp_path))
    assert "z-bad.json" in str(error.value) and "Nothing was changed" in str(error.value)
    assert good.read_bytes() == before


def test_the_command_line_names_a_missing_folder_and_counts_what_it_did(tmp_path, capsys):
    assert main([]) == 2
    assert main([str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err
    _older(tmp_path)
    assert main([str(tmp_path)]) == 0
    assert "1 file(s)" in capsys.readouterr().out


def test_the_committed_results_hold_their_full_configs():
    """The migration has been run on the committed result folders."""
    import glob
    import os

    from svdnet.experiments.paths import REPORTS

    paths = (glob.glob(os.path.join(REPORTS, "grid", "results", "*.json"))
             + glob.glob(os.path.join(REPORTS, "grid", "earlier", "results", "*.json")))
    assert paths
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            config = json.load(stream)["config"]
        assert set(config) == fields, path
