"""Bad notebook parameters stop the sweep notebook in its first cells, naming the value."""

import dataclasses
import os
import pathlib

import papermill
import pytest

from svdnet.experiments import RunConfig

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "sweep.ipynb"


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"rank": 0}, "rank must be an integer between 1 and 1024, received 0"),
        ({"rank": 5000}, "rank must be an integer between 1 and 1024, received 5000"),
        ({"rank": 2.5}, "rank must be an integer between 1 and 1024, received 2.5 of type float"),
        ({"dataset": "cifar10"}, "dataset must be one of 'mnist', 'fashion_mnist'; received 'cifar10'"),
        ({"method": "prune"}, "method must be one of 'dense', 'projection', 'posthoc', 'finetune', 'lowrank', 'small'; received 'prune'"),
        ({"rank": 20, "energy": 0.9}, "Give only one of rank, energy or budget; received rank=20 and energy=0.9"),
        ({"energy": 1.5}, "energy must be a fraction with 0 < energy <= 1; received 1.5"),
        ({"budget": -5}, "budget must be an integer >= 1, received -5"),
        ({"ranks": 20}, "ranks must be a list; received 20"),
        ({"ranks": [20, 0]}, "rank must be an integer between 1 and 1024, received 0"),
        ({"epochs": -2}, "epochs must be an integer >= 1, received -2"),
        ({"svd_method": "lanczos"}, "svd_method must be one of 'auto', 'exact', 'randomized'; received 'lanczos'"),
        ({"budget": 1}, "Give a budget of at least 16,164"),
        ({"train_size": 70000}, "train_size must be an integer between 0 and 60000, received 70000"),
        ({"quick": "yes"}, "quick must be True or False; received 'yes'"),
    ],
)
@pytest.mark.slow
def test_bad_parameter_fails_fast_with_message(parameters, message, tmp_path):
    output = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(NOTEBOOK), str(output), parameters={**parameters, "results_dir": str(tmp_path)},
            progress_bar=False, cwd=str(tmp_path),
        )
    assert message in str(info.value)
    # Stopped in the parameter check (the cell after the injected parameters): no result.
    assert info.value.exec_count <= 3
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".json")]


@pytest.mark.parametrize("name", ["sweep.ipynb", "explore.ipynb"])
def test_every_parameter_has_a_type_and_a_meaning(name):
    import nbformat

    parameters = papermill.inspect_notebook(str(NOTEBOOK.parent / name))
    assert parameters, name
    cell = next(cell for cell in nbformat.read(NOTEBOOK.parent / name, as_version=4).cells
                if "parameters" in cell.metadata.get("tags", []))
    lines = [line.split(":")[0] for line in cell.source.splitlines() if line.strip()]
    assert sorted(lines) == sorted(parameters), "a parameter line Papermill cannot parse"
    for parameter, info in parameters.items():
        assert info["inferred_type_name"] in {"int", "str", "bool", "list", "float"}, parameter
        assert len(info["help"]) > 10, parameter
    if name == "sweep.ipynb":
        assert {"rank", "dataset", "epochs", "batch_size", "depth", "width", "seed", "method",
                "train_size", "results_dir"} <= set(parameters)
        assert parameters["rank"]["default"] == "None"  # rank 20 unless energy or budget
        assert {"energy", "budget", "ranks", "energies", "budgets"} <= set(parameters)


def test_the_sweep_notebook_takes_every_field_of_run_config():
    import dataclasses

    from svdnet.experiments import RunConfig

    parameters = papermill.inspect_notebook(str(NOTEBOOK))
    missing = [field.name for field in dataclasses.fields(RunConfig) if field.name not in parameters]
    assert not missing, f"RunConfig fields the sweep notebook does not take: {missing}"


@pytest.mark.slow
def test_an_unknown_parameter_stops_the_notebook_naming_it_and_the_allowed_ones(tmp_path):
    """Papermill itself only warns "Passed unknown parameter" and runs on at the default."""
    output = tmp_path / "out.ipynb"
    tiny = {"method": "dense", "epochs": 1, "train_size": 100, "depth": 1, "width": 16,
            "quick": False, "results_dir": str(tmp_path)}  # were it to run, it runs fast
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOK), str(output), parameters={"rnak": 5, **tiny},
                                   progress_bar=False, cwd=str(tmp_path))
    message = str(info.value)
    assert "Unknown notebook parameter(s) ['rnak'] (did you mean 'rnak' -> 'rank'?)" in message
    listed = message.split("the sweep notebook's parameters are: ")[1].split(".")[0]
    assert listed.split(", ")[:3] == ["allocation", "anneal_epochs", "architecture"]  # sorted
    assert {field.name for field in dataclasses.fields(RunConfig)} <= set(listed.split(", "))
    assert info.value.exec_count <= 3
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".json")]
