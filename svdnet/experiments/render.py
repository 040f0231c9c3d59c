"""Rendering executed notebooks to HTML and the index page of ``reports/``.

    python -m svdnet.experiments.render [REPORTS_DIR]

renders every executed notebook under ``REPORTS_DIR/runs`` (default ``reports``) to
``REPORTS_DIR/html`` and writes ``REPORTS_DIR/index.html``, which links each page and
tabulates every result file under ``REPORTS_DIR/results``.
"""

from __future__ import annotations

import glob
import html
import os
import re
import sys

import nbformat
import pandas as pd

from svdnet.experiments.report import load_results
from svdnet.experiments.results import CorruptResultError, write_text_atomic


TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
STYLESHEET = "notebook.css"


def render_html(notebook_path: str, html_path: str, hide_code: bool = False,
                stylesheet: str | None = None) -> str:
    """Renders an executed notebook to an HTML page (plots embedded).

    Args:
        notebook_path: The executed ``.ipynb``.
        html_path: Where to write the page.
        hide_code: Leave out code cells' input, and what they wrote to stderr (library
            start-up logs), for readers of results. Defaults to ``False``.
        stylesheet: Path of a stylesheet written by :func:`write_stylesheet`, linked
            (relative to the page) instead of embedding nbconvert's ~250 KB of CSS in
            the page, or ``None`` to embed it. Defaults to ``None``.

    Returns:
        ``html_path``.
    """
    resources = {}
    if stylesheet is not None:
        link = os.path.relpath(stylesheet, os.path.dirname(os.path.abspath(html_path)))
        resources["svdnet_stylesheet"] = link.replace(os.sep, "/")
    exporter = _exporter("svdnet_page", exclude_input=hide_code,
                         exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    notebook = nbformat.read(notebook_path, as_version=4)
    if hide_code:  # a page for readers: the libraries' start-up chatter on stderr is noise
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [output for output in cell.outputs
                                if not (output.output_type == "stream"
                                        and output.name == "stderr")]
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    return write_text_atomic(html_path, body)


def write_stylesheet(path: str) -> str:
    """Writes the CSS that nbconvert's lab template embeds in each page to ``path``, for
    pages rendered with ``render_html(..., stylesheet=path)``.

    Returns:
        ``path``.
    """
    styles, _ = _exporter("svdnet_stylesheet").from_notebook_node(nbformat.v4.new_notebook())
    return write_text_atomic(path, re.sub(r"</?style[^>]*>", "", styles).strip() + "\n")


def _exporter(template: str, **options):
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_template_basedirs=[TEMPLATES], template_name=template,
                        **options)


def results_table(results_dir: str) -> pd.DataFrame:
    """Returns one row per sweep result file in ``results_dir`` (see
    :func:`svdnet.experiments.report.load_results`); a corrupt file raises
    :class:`svdnet.experiments.results.CorruptResultError` naming it."""
    if not os.path.isdir(results_dir):
        return pd.DataFrame()
    frame, _ = load_results(results_dir)
    return frame.drop(columns=["test loss", "wall s", "rank", "chosen ranks"])


def _render_folder(runs_dir: str, html_dir: str, reports_dir: str) -> list[str]:
    """Renders each executed notebook of ``runs_dir`` into ``html_dir`` and returns every
    page of ``html_dir``, relative to ``reports_dir``: the executed notebooks are not
    committed (their pages are), so pages whose notebook is not here stay listed."""
    for notebook in sorted(glob.glob(os.path.join(runs_dir, "*.ipynb"))):
        name = os.path.splitext(os.path.basename(notebook))[0]
        render_html(notebook, os.path.join(html_dir, name + ".html"),
                    hide_code=name.startswith("report"),
                    stylesheet=os.path.join(reports_dir, STYLESHEET))
    return [os.path.relpath(page, reports_dir)
            for page in sorted(glob.glob(os.path.join(html_dir, "*.html")))]


def _links(pages) -> str:
    return "\n".join(
        f'<li><a href="{html.escape(page)}">{html.escape(os.path.basename(page))}</a></li>'
        for page in pages
    ) or "<li>none yet</li>"


def _table(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "<p>none yet</p>"
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")


def write_index(reports_dir: str = "reports") -> str:
    """Renders the executed notebooks present and writes ``reports_dir/index.html``.

    Notebooks under ``reports_dir/runs`` (the report, with its code hidden, and the
    reference experiment) render to ``reports_dir/html``; the sweep's notebooks under
    ``reports_dir/grid/runs`` to ``reports_dir/grid/html``. The index links every page
    in those two folders (pages of notebooks that are not here, as in a fresh clone, stay)
    and tabulates the result files of ``reports_dir/grid/results`` and
    ``reports_dir/results``. The pages share one stylesheet,
    ``reports_dir/notebook.css``, written alongside.

    Args:
        reports_dir: The reports folder. Defaults to ``"reports"``.

    Returns:
        The path of the index page.
    """
    write_stylesheet(os.path.join(reports_dir, STYLESHEET))
    pages = _render_folder(os.path.join(reports_dir, "runs"), os.path.join(reports_dir, "html"),
                           reports_dir)
    reports = [page for page in pages if os.path.basename(page).startswith("report")]
    others = [page for page in pages if page not in reports]
    grid_pages = _render_folder(os.path.join(reports_dir, "grid", "runs"),
                                os.path.join(reports_dir, "grid", "html"), reports_dir)
    grid = results_table(os.path.join(reports_dir, "grid", "results"))
    reference = results_table(os.path.join(reports_dir, "results"))
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>svdnet reports</title>
<style>body{{font-family:sans-serif;max-width:80em;margin:2em auto}}
table{{border-collapse:collapse;font-size:90%}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}</style>
</head><body>
<h1>svdnet reports</h1>
<h2>The results report</h2>
<ul>
{_links(reports)}
</ul>
<h2>The reference experiment and the exploration</h2>
<ul>
{_links(others)}
</ul>
<h2>Every run of the sweep</h2>
<p>Each executed notebook of <code>python -m svdnet.experiments.grid</code> (one per dataset, method and
seed), rendered with its code, learning curves and spectra:</p>
<ul>
{_links(grid_pages)}
</ul>
<h2>Sweep results</h2>
<p>One row per result file in <code>grid/results/</code>; each file also records the full
per-epoch history, spectra, chosen ranks, seed, library versions, machine and commit.</p>
{_table(grid)}
<h2>Reference experiment results</h2>
{_table(reference)}
</body></html>
"""
    return write_text_atomic(os.path.join(reports_dir, "index.html"), body)


if __name__ == "__main__":
    try:
        print(write_index(sys.argv[1] if len(sys.argv) > 1 else "reports"))
    except CorruptResultError as error:
        sys.exit(f"error: {error}")
