"""The notebooks are edited as Jupytext percent scripts (``notebooks/*.py``) and run as
``.ipynb`` by Papermill, JupyterLab and nbval: each pair must hold the same cells.

After editing a script, ``jupytext --sync notebooks/<name>.py`` updates its notebook and
keeps the notebook's stored outputs (the ones nbval compares).
"""

import glob
import os

import jupytext
import nbformat
import pytest

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "notebooks")
PAIRS = sorted(glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")))


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip(), sorted(cell.metadata.get("tags", [])))
            for cell in notebook.cells]


def test_every_notebook_has_its_script():
    assert len(PAIRS) >= 3
    for path in PAIRS:
        script = path[: -len(".ipynb")] + ".py"
        assert os.path.exists(script), f"{path} has no paired script {script}"
        formats = nbformat.read(path, as_version=4).metadata.get("jupytext", {}).get("formats")
        assert formats == "ipynb,py:percent", (path, formats)


@pytest.mark.parametrize("path", PAIRS, ids=os.path.basename)
def test_script_and_notebook_hold_the_same_cells(path):
    script = jupytext.read(path[: -len(".ipynb")] + ".py")
    notebook = nbformat.read(path, as_version=4)
    ours, theirs = _cells(script), _cells(notebook)
    assert len(ours) == len(theirs), (
        f"{os.path.basename(path)} has {len(theirs)} cells, its script {len(ours)}: run "
        f"jupytext --sync {path[:-len('.ipynb')]}.py")
    for number, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, (f"cell {number} of {os.path.basename(path)} differs from its script: "
                        f"run jupytext --sync")


def test_a_changed_script_is_detected(tmp_path):
    source = PAIRS[0][: -len(".ipynb")] + ".py"
    script = jupytext.read(source)
    script.cells[-1].source += "\nprint('edited')"
    assert _cells(script) != _cells(nbformat.read(PAIRS[0], as_version=4))
