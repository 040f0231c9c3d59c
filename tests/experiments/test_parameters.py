"""Refusing notebook parameters a notebook does not declare (papermill -p rnak 5)."""

import pytest

from svdnet.experiments.parameters import check_notebook_parameters


def _namespace(**injected):
    """The globals of a notebook after its parameters cell and Papermill's injected one."""
    import os

    return {"__annotations__": {"rank": int, "epochs": int, "results_dir": str},
            "__name__": "__main__", "_i1": "rank: int = None", "In": ["", "rank: int"],
            "Out": {}, "get_ipython": print, "exit": object(), "os": os,
            "rank": None, "epochs": 10, "results_dir": "reports/results", **injected}


def test_declared_parameters_pass():
    check_notebook_parameters(_namespace(rank=5, epochs=1))
    check_notebook_parameters(_namespace(PM_INPUT_PATH="in.ipynb", PM_OUTPUT_PATH="out.ipynb"))


@pytest.mark.parametrize("injected, text", [
    ({"rnak": 5}, "Unknown notebook parameter(s) ['rnak'] (did you mean 'rnak' -> 'rank'?); "
                  "the sweep notebook's parameters are: epochs, rank, results_dir."),
    ({"colour": "red", "epoch": [1]}, "Unknown notebook parameter(s) ['colour', 'epoch'] "
                                      "(did you mean 'epoch' -> 'epochs'?)"),
    ({"flag": None}, "['flag']; the sweep notebook's parameters are"),
])
def test_an_unknown_parameter_is_named_with_the_allowed_ones(injected, text):
    with pytest.raises(ValueError) as info:
        check_notebook_parameters(_namespace(**injected), "sweep")
    assert text in str(info.value)


def test_a_notebook_without_annotated_parameters_is_told_how_to_declare_them():
    with pytest.raises(RuntimeError, match="`name: type = default`"):
        check_notebook_parameters({"rank": 5})
