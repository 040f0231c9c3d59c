"""The one-off migration of result files to whole configurations."""

import dataclasses
import json

import pytest

from svdnet.experiments.config import RunConfig, full_config
from svdnet.experiments.options import METHOD_OPTIONS
from svdnet.experiments.grid import Group
from svdnet.experiments.migration import (
    legacy_page_fields,
    main,
    migrate_folder,
    migrate_pages,
    migrate_result,
)
from svdnet.experiments.render import page_parameters
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
                "params": {"dense": 1000, "factorized": 100, "ratio": 10.0}}})
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


def test_the_british_key_of_older_files_is_renamed_once(tmp_path):
    path = _older(tmp_path)
    payload = json.loads(path.read_text())
    params = payload["run"]["params"]
    params["factorised"] = params.pop("factorized")
    params["layers"] = {"hidden_1": {"dense": 600, "factorised": 60}}
    payload["baseline"] = {"params": {"dense": 1000, "factorised": 1000, "ratio": 1.0}}
    write_json_atomic(path, payload)
    assert migrate_folder(str(tmp_path)) == [str(path)]
    after = json.loads(path.read_text())
    assert after["run"]["params"]["factorized"] == 100 and "factorised" not in path.read_text()
    assert after["run"]["params"]["layers"]["hidden_1"] == {"dense": 600, "factorized": 60}
    assert after["baseline"]["params"]["factorized"] == 1000
    assert load_results(str(tmp_path))[0]["factorized parameters"].tolist() == [100]
    assert migrate_folder(str(tmp_path)) == []  # once
    # both spellings in one file: which is right cannot be told, so nothing is changed
    after["run"]["params"]["factorised"] = 99
    write_json_atomic(path, after)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="both 'factorised' and 'factorized'"):
        migrate_folder(str(tmp_path))
    assert path.read_bytes() == before


def test_spectra_of_a_run_that_truncated_nothing_are_stored_once(tmp_path):
    """A small, lowrank or dense run stored its final spectra as ``before`` and ``after``
    alike: ``before`` becomes null once; a run whose spectra differ keeps both."""
    repeated, truncated = _older(tmp_path, "a.json"), _older(tmp_path, "b.json")
    migrate_folder(str(tmp_path))  # the full configs: only the spectra are left to change
    for path, before in ((repeated, {"hidden_1": [3.0, 2.0]}),
                         (truncated, {"hidden_1": [3.0, 2.5]})):
        payload = json.loads(path.read_text())
        payload["spectra"] = {"before": before, "after": {"hidden_1": [3.0, 2.0]},
                              "dense": None}
        write_json_atomic(path, payload)
    kept = truncated.read_bytes()
    expected = json.loads(repeated.read_text())
    expected["spectra"]["before"] = None
    assert migrate_folder(str(tmp_path)) == [str(repeated)]
    assert json.loads(repeated.read_text()) == expected  # nothing else changed
    assert truncated.read_bytes() == kept
    assert migrate_folder(str(tmp_path)) == []  # once


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
    assert main(["--pages"]) == 2
    assert main(["--page", str(tmp_path)]) == 2  # no abbreviation: refused, named
    assert "--page" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 1
    assert "nowhere" in capsys.readouterr().err
    _older(tmp_path)
    assert main([str(tmp_path)]) == 0
    assert "1 file(s)" in capsys.readouterr().out


def test_the_committed_results_hold_their_full_configs():
    """The migration has been run on the committed result folders: each file holds every
    field of its run but options declared after it, whose defaults are the plain method
    those runs trained as, and ``architecture``, added after them (its default, the MLP, is
    what they trained): a field is added without rewriting the results."""
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
        missing = fields - set(config)
        assert missing <= {option.name for option in METHOD_OPTIONS} | {"architecture"}, (
            path, missing)
        assert set(config) <= fields, path
        RunConfig(**full_config(config))  # a valid run


def test_the_committed_results_store_each_spectrum_once():
    """The migration has been run on the committed results: no file repeats its final
    spectra as the spectra before a truncation it did not make."""
    import glob
    import os

    from svdnet.experiments.paths import REPORTS

    paths = glob.glob(os.path.join(REPORTS, "**", "*.json"), recursive=True)
    repeated = []
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            spectra = json.load(stream)
        spectra = spectra.get("spectra") if isinstance(spectra, dict) else None
        if isinstance(spectra, dict) and spectra.get("before") is not None:
            if spectra["before"] == spectra.get("after"):
                repeated.append(path)
    assert paths and not repeated, repeated[:5]


BASE = RunConfig(epochs=2, finetune_epochs=1, train_size=1000)


@pytest.mark.parametrize("group", [
    Group(BASE.replace(method="lowrank", rank=2, train_size=0, epochs=10), (1, 2, 5)),
    Group(BASE.replace(method="dense", rank=20, seed=2), ()),
    Group(BASE.replace(dataset="fashion_mnist", method="finetune", rank=None, energy=0.5),
          (), energies=(0.5, 0.9), budgets=(65370, 100000)),
    Group(BASE.replace(method="small", rank=1), (1, 200), budgets=(215370,)),
    Group(BASE.replace(method="lowrank", rank=5, output_layer="dense", distill=0.9,
                       temperature=2.5, weight_decay=1e-5), (5, 10)),
    Group(BASE.replace(method="projection", rank=5, anneal_epochs=3), (2, 5)),
    Group(BASE.replace(method="finetune", rank=None, budget=100_000, allocation="accuracy",
                       lr_schedule="cosine"), (), budgets=(65_370, 100_000)),
])
def test_legacy_page_fields_reads_back_what_the_group_name_wrote(group):
    fields = legacy_page_fields(group.name.replace(".ipynb", ".html"))
    config = group.config
    assert (fields["dataset"], fields["method"], fields["epochs"], fields["train_size"],
            fields["seed"]) == (config.dataset, config.method, config.epochs,
                                config.train_size, config.seed)
    assert fields["ranks"] == tuple(float(r) for r in group.ranks)
    assert fields["energies"] == group.energies and fields["budgets"] == group.budgets
    assert (fields["output_layer"], fields["distill"], fields["weight_decay"],
            fields["anneal_epochs"]) == (config.output_layer, config.distill,
                                         config.weight_decay, config.anneal_epochs)
    assert fields["temperature"] == (config.temperature if config.distill else 4.0)
    assert (fields["allocation"], fields["lr_schedule"]) == (config.allocation,
                                                             config.lr_schedule)


@pytest.mark.parametrize("name", ["mnist-dense-e10-seed0-interrupted.ipynb", "report.html",
                                  "mnist-lowrank-e10-seed0-r1-2.failed.ipynb"])
def test_legacy_page_fields_refuses_names_the_runner_does_not_write(name):
    assert legacy_page_fields(name) is None


def test_older_pages_get_the_parameters_their_names_encode_once(tmp_path):
    head = "<html><head><title>t</title></head><body>page</body></html>"
    (tmp_path / "mnist-lowrank-e10-outdense-seed1-r1-2-5.html").write_text(head)
    (tmp_path / "notes.html").write_text(head)  # not a run page: left alone
    assert migrate_pages(str(tmp_path)) == [str(tmp_path / "mnist-lowrank-e10-outdense-seed1-r1-2-5.html")]
    fields = page_parameters(str(tmp_path / "mnist-lowrank-e10-outdense-seed1-r1-2-5.html"))
    assert (fields["dataset"], fields["method"], fields["seed"], fields["epochs"]) == (
        "mnist", "lowrank", 1, 10)
    assert fields["ranks"] == [1, 2, 5] and fields["output_layer"] == "dense"
    assert page_parameters(str(tmp_path / "notes.html")) is None
    text = (tmp_path / "mnist-lowrank-e10-outdense-seed1-r1-2-5.html").read_text()
    assert text.replace(text[text.index("<script"):text.index("</script>") + 10], "") == head
    assert migrate_pages(str(tmp_path)) == []  # a second run changes nothing
    with pytest.raises(FileNotFoundError, match="nowhere"):
        migrate_pages(str(tmp_path / "nowhere"))


def test_the_committed_run_pages_carry_their_parameters():
    """The landing page reads each committed run page's parameters from the page."""
    import glob
    import os

    from svdnet.experiments.paths import REPORTS
    from svdnet.experiments.site import RUN_FIELDS

    pages = glob.glob(os.path.join(REPORTS, "grid", "html", "*.html"))
    assert pages
    for page in pages:
        fields = page_parameters(page)
        assert fields is not None and all(key in fields for key in RUN_FIELDS), page
