"""Rendering executed notebooks and the reports index."""

import os

import nbformat
import pytest

from svdnet.experiments import RunConfig
from svdnet.experiments.render import write_index
from svdnet.experiments.results import CorruptResultError
from svdnet.experiments.sweep import run_experiment


def _executed_notebook(path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hello')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A run"), cell]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    nbformat.write(notebook, path)


def test_index_links_pages_and_tabulates_real_results(tmp_path, monkeypatch):
    monkeypatch.delenv("SVDNET_QUICK", raising=False)
    reports = tmp_path / "reports"
    experiment = run_experiment(
        RunConfig(depth=1, width=32, rank=4, epochs=1, batch_size=64, train_size=300),
        baseline=False, results_dir=str(reports / "results"),
    )
    _executed_notebook(str(reports / "runs" / "sweep-a.ipynb"))
    _executed_notebook(str(reports / "runs" / "report.ipynb"))
    _executed_notebook(str(reports / "grid" / "runs" / "mnist-dense-e10-seed0.ipynb"))
    index = write_index(str(reports))
    page = open(index, encoding="utf-8").read()
    assert 'href="html/sweep-a.html"' in page and 'href="html/report.html"' in page
    # The reference experiment's result is on the page of every result, in percent.
    every = (reports / "results.html").read_text()
    assert f"{100 * experiment.run.test_accuracy:.2f}" in every
    assert 'href="results.html"' in page
    assert "hello" in (reports / "html" / "sweep-a.html").read_text()
    # The report page hides code; run pages show it.
    assert "print(&#39;hello&#39;)" not in (reports / "html" / "report.html").read_text()
    assert "print" in (reports / "html" / "sweep-a.html").read_text()
    assert 'href="grid/html/mnist-dense-e10-seed0.html"' in page
    assert (reports / "grid" / "html" / "mnist-dense-e10-seed0.html").exists()
    # Every page links the one shared stylesheet instead of embedding it.
    css = (reports / "notebook.css").read_text()
    assert ".jp-Notebook" in css and "<style" not in css
    assert ".highlight" in css  # the code highlighting's rules, once, for every page
    for html_page, link in [(reports / "html" / "sweep-a.html", "../notebook.css"),
                            (reports / "grid" / "html" / "mnist-dense-e10-seed0.html",
                             "../../notebook.css")]:
        text = html_page.read_text()
        assert f'href="{link}"' in text and ".jp-Notebook {" not in text
        assert "td.linenos" not in text and "mermaid" not in text.lower()


def test_page_without_a_stylesheet_embeds_the_css(tmp_path):
    from svdnet.experiments.render import render_html

    _executed_notebook(str(tmp_path / "a.ipynb"))
    page = open(render_html(str(tmp_path / "a.ipynb"), str(tmp_path / "a.html")),
                encoding="utf-8").read()
    assert "hello" in page and "stylesheet" not in page and ".jp-Notebook" in page


def test_corrupt_result_is_named(tmp_path):
    results = tmp_path / "grid" / "results"
    results.mkdir(parents=True)
    (results / "broken.json").write_text('{"config": {"rank": 2')
    with pytest.raises(CorruptResultError, match="broken.json"):
        write_index(str(tmp_path))


def test_deployment_results_beside_sweep_results_are_left_out(tmp_path):
    results = tmp_path / "grid" / "results"
    results.mkdir(parents=True)
    (results / "deployment.json").write_text('{"formats": {}}')
    (results / "deployment-mnist-r20-seed0.json").write_text(
        '{"config": {"rank": 20}, "formats": {}}')
    write_index(str(tmp_path))
    assert (tmp_path / "results.csv").read_text().count("\n") == 1  # the header only
    assert "No results yet" in (tmp_path / "index.html").read_text()


def test_reader_pages_leave_out_code_and_stderr_but_keep_results(tmp_path):
    import nbformat

    from svdnet.experiments.render import render_html

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('result line')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="I0000 oneDNN chatter\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="result line\n")]
    notebook.cells = [cell]
    nbformat.write(notebook, str(tmp_path / "r.ipynb"))
    reader = open(render_html(str(tmp_path / "r.ipynb"), str(tmp_path / "r.html"),
                              hide_code=True), encoding="utf-8").read()
    assert "result line" in reader and "oneDNN chatter" not in reader
    assert "print(" not in reader
    full = open(render_html(str(tmp_path / "r.ipynb"), str(tmp_path / "f.html")),
                encoding="utf-8").read()
    assert "oneDNN chatter" in full  # the notebook page keeps everything


def test_pages_without_their_notebook_stay_linked(tmp_path):
    from svdnet.experiments.render import write_index

    reports = tmp_path / "reports"
    (reports / "grid" / "html").mkdir(parents=True)
    (reports / "grid" / "html" / "mnist-dense-e10-seed0.html").write_text("<p>kept</p>")
    page = open(write_index(str(reports)), encoding="utf-8").read()
    assert 'href="grid/html/mnist-dense-e10-seed0.html"' in page
    assert (reports / "grid" / "html" / "mnist-dense-e10-seed0.html").read_text() == "<p>kept</p>"


@pytest.mark.parametrize("value, shown", [('"abc"', "'abc'"), ("null", "None"), ("[1]", "[1]"),
                                          ("97.5", "97.5")])
def test_a_result_with_a_bad_value_stops_the_index_naming_file_field_and_value(tmp_path, value,
                                                                               shown):
    results = tmp_path / "grid" / "results"
    results.mkdir(parents=True)
    for name, accuracy in (("good.json", "0.9"), ("bad.json", value)):
        (results / name).write_text(
            '{"config": {"dataset": "mnist", "method": "dense", "rank": null, "seed": 0, '
            '"epochs": 10}, "quick": false, "run": {"test_accuracy": ' + accuracy + ', '
            '"test_loss": 0.1, "params": {"dense": 1000, "factorized": 1000, "ratio": 1.0}, '
            '"train_seconds": 5.0, "svd_seconds": 0.0}}')
    with pytest.raises(CorruptResultError) as info:
        write_index(str(tmp_path))
    message = str(info.value)
    assert "bad.json" in message and "good.json" not in message
    assert f"run.test_accuracy = {shown}; allowed: a finite number from 0 to 1" in message
    assert not (tmp_path / "index.html").exists()


def test_interrupted_and_failed_notebooks_are_not_linked_as_runs(tmp_path):
    reports = tmp_path / "reports"
    runs = reports / "grid" / "runs"
    _executed_notebook(str(runs / "mnist-dense-e10-seed0.ipynb"))
    _executed_notebook(str(runs / "mnist-lowrank-e10-seed0-r1-2-interrupted.ipynb"))
    _executed_notebook(str(runs / "mnist-posthoc-e10-seed0-r5.failed.ipynb"))
    # a page of an interrupted execution rendered by an earlier version is not linked either
    (reports / "grid" / "html").mkdir(parents=True)
    (reports / "grid" / "html" / "mnist-small-e10-seed1-r2-interrupted.html").write_text("old")
    page = open(write_index(str(reports)), encoding="utf-8").read()
    assert 'href="grid/html/mnist-dense-e10-seed0.html"' in page
    assert "interrupted.html" not in page and "failed.html" not in page
    assert not (reports / "grid" / "html" / "mnist-posthoc-e10-seed0-r5.failed.html").exists()
    # listed apart, by name and state, so that the reader knows they are not results
    unfinished = page[page.index("did not finish"):]
    assert "<code>mnist-lowrank-e10-seed0-r1-2-interrupted.ipynb</code> (interrupted)" in unfinished
    assert "<code>mnist-posthoc-e10-seed0-r5.failed.ipynb</code> (failed)" in unfinished


@pytest.mark.parametrize("argv, text", [(["--hlep"], "expected at most one folder"),
                                        (["a", "b"], "expected at most one folder"),
                                        (["nowhere"], "no reports folder at 'nowhere'")])
def test_bad_command_lines_write_nothing(argv, text, tmp_path, monkeypatch):
    from svdnet.experiments.render import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert text in str(stop.value)
    assert list(tmp_path.iterdir()) == []


def test_help_prints_the_usage(capsys, tmp_path, monkeypatch):
    from svdnet.experiments.render import main

    monkeypatch.chdir(tmp_path)
    main(["--help"])
    assert capsys.readouterr().out.startswith("usage:")
    assert list(tmp_path.iterdir()) == []


def test_a_page_carries_its_notebooks_papermill_parameters(tmp_path):
    from svdnet.experiments.render import page_parameters, render_html

    path = str(tmp_path / "run.ipynb")
    _executed_notebook(path)
    notebook = nbformat.read(path, as_version=4)
    parameters = {"dataset": "mnist", "method": "lowrank", "seed": 1, "epochs": 10,
                  "ranks": [2, 5], "note": "<!--<script></script><b>x</b> & more"}  # inert
    notebook.metadata["papermill"] = {"parameters": parameters}
    nbformat.write(notebook, path)
    page = render_html(path, str(tmp_path / "run.html"))
    assert page_parameters(page) == parameters
    element = open(page, encoding="utf-8").read().split('id="papermill-parameters">')[1]
    element = element.split("</script>")[0]
    assert not set("<>&") & set(element)  # nothing in it that HTML would read
    # a notebook that Papermill did not execute: a page without parameters
    _executed_notebook(str(tmp_path / "plain.ipynb"))
    assert page_parameters(render_html(str(tmp_path / "plain.ipynb"),
                                       str(tmp_path / "plain.html"))) is None


def test_parameters_replace_earlier_ones_and_bad_ones_are_named(tmp_path):
    from svdnet.experiments.render import PARAMETERS_ID, embed_parameters, page_parameters

    page = embed_parameters(embed_parameters("<head></head>", {"a": 1}), {"a": 2})
    assert page.count(PARAMETERS_ID) == 1
    (tmp_path / "p.html").write_text(page)
    assert page_parameters(str(tmp_path / "p.html")) == {"a": 2}
    with pytest.raises(ValueError, match="</head>"):
        embed_parameters("<p>no head</p>", {"a": 1})
    for text in ("{broken", "[1, 2]"):
        (tmp_path / "bad.html").write_text(
            f'<script type="application/json" id="{PARAMETERS_ID}">{text}</script>')
        with pytest.raises(CorruptResultError, match="bad.html"):
            page_parameters(str(tmp_path / "bad.html"))
