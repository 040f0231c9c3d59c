"""How numbers are written for readers."""

import numpy as np
import pandas as pd
import pytest

from svdnet.experiments.formatting import (
    accuracy_text,
    dataset_order,
    ranks_text,
    readable_results,
    size_text,
)


@pytest.mark.parametrize("ranks, width, expected", [
    ({"hidden_1": 10, "hidden_2": 10, "output": None}, np.nan, "10-10 / out dense"),
    ({"hidden_1": 50, "hidden_2": None, "output": 4}, np.nan, "50-dense / out 4"),
    ({"a": 3}, np.nan, "3"),
    ({}, np.nan, ""),
    (None, np.nan, ""),
    ({"hidden_1": 87, "output": 10}, 87.0, "width 87"),
])
def test_ranks_text(ranks, width, expected):
    assert ranks_text(ranks, width) == expected


@pytest.mark.parametrize("choice, value, expected", [
    ("rank", 20.0, "rank 20"), ("budget", 100000.0, "budget 100,000"),
    ("energy", 0.5, "energy 50%"), ("dense", np.nan, "dense"),
])
def test_size_text(choice, value, expected):
    assert size_text(choice, value) == expected


def test_accuracy_text_in_percent_with_the_spread():
    assert accuracy_text(0.97734, 0.0009) == "97.73 ± 0.09%"
    assert accuracy_text(0.97734, np.nan) == "97.73%"
    assert accuracy_text(np.nan) == ""


def test_dataset_order_puts_the_known_datasets_first():
    assert dataset_order(["zeta", "fashion_mnist", "mnist", "mnist", "alpha"]) == [
        "mnist", "fashion_mnist", "alpha", "zeta"]


def test_readable_results_have_percent_short_commits_and_compact_ranks():
    frame = pd.DataFrame([{
        "dataset": "fashion_mnist", "method": "finetune", "choice": "budget", "value": 1e5,
        "chosen ranks": {"hidden_1": 9, "output": None}, "seed": 1, "test accuracy": 0.87012,
        "train accuracy": 0.9, "factorized parameters": 99834, "compression": 50.21,
        "width": np.nan, "train s": 12.34, "svd s": 0.5, "commit": "a" * 40, "file": "f.json"}])
    row = readable_results(frame).iloc[0]
    assert (row["dataset"], row["size"], row["ranks"]) == (
        "Fashion-MNIST", "budget 100,000", "9 / out dense")
    assert row["test accuracy %"] == 87.01 and row["commit"] == "a" * 10
    assert row["model"] == "MLP"  # a frame without architectures holds the MLP's runs
    assert readable_results(frame.iloc[0:0]).empty
    # a narrowed CNN's width is a multiplier; the MLP's a count of units; MLP rows first
    frame = pd.concat([frame.assign(architecture="cnn", width=0.3, method="small"),
                       frame.assign(architecture="mlp", width=87.0, method="small")])
    rows = readable_results(frame)
    assert rows[["model", "ranks"]].values.tolist() == [["MLP", "width 87"],
                                                       ["CNN", "width x0.3"]]


def test_model_names_are_written_as_the_literature_writes_them():
    from svdnet.experiments.formatting import model_name

    assert [model_name(m) for m in ("mlp", "cnn", "vit")] == ["MLP", "CNN", "ViT"]
    assert model_name("resnet") == "RESNET"  # unknown: in capitals, as before


def test_table_html_formats_cells_and_writes_no_id_or_class_per_cell():
    from svdnet.experiments.formatting import reader_table, table_html

    data = pd.DataFrame({"method": ["lowrank", "small"], "accuracy": [0.97312, np.nan]},
                        index=["a", "b"])
    text = table_html(data, {"accuracy": "{:.2%}", "not a column": "{:.1f}"})
    assert "97.31%" in text and "0.97312" not in text
    assert text.count("<td") == 4 and "<td></td>" in text.replace(" ", "")  # NaN: empty
    assert " id=" not in text
    assert "class=" not in text and "<style" not in text
    assert ">a<" not in text  # the index is hidden by default
    assert ">a<" in table_html(data, index=True)
    assert ">0.973<" in table_html(data[["accuracy"]], "{:.3f}")  # one format for all
    assert "97.31%" in reader_table(data, {"accuracy": "{:.2%}"})._repr_html_()
