"""Rendering executed notebooks to HTML and the index page of ``reports/``.

    python -m svdnet.render [REPORTS_DIR]

renders every executed notebook under ``REPORTS_DIR/runs`` (default ``reports``) to
``REPORTS_DIR/html`` and writes ``REPORTS_DIR/index.html``, which links each page and
tabulates every result file under ``REPORTS_DIR/results``.
"""

from __future__ import annotations

import glob
import html
import os
import sys

import nbformat
import pandas as pd

from svdnet.results import CorruptResultError, read_json, write_text_atomic


def render_html(notebook_path: str, html_path: str, hide_code: bool = False) -> str:
    """Renders an executed notebook to a standalone HTML page (plots embedded).

    Args:
        notebook_path: The executed ``.ipynb``.
        html_path: Where to write the page.
        hide_code: Leave out code cells' input, for readers of results. Defaults to
            ``False``.

    Returns:
        ``html_path``.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code,
                            exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    return write_text_atomic(html_path, body)


def results_table(results_dir: str) -> pd.DataFrame:
    """Returns one row per sweep result file in ``results_dir``.

    Columns: ``file``, ``dataset``, ``method``, ``rank``, ``seed``, ``epochs``,
    ``test accuracy``, ``dense accuracy`` (baseline, when trained), ``factorised
    parameters``, ``compression``, ``commit``. Files that are not sweep results are skipped;
    a corrupt file raises :class:`svdnet.results.CorruptResultError` naming it.
    """
    rows = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        payload = read_json(path)
        if "run" not in payload or "config" not in payload:
            continue
        config, run = payload["config"], payload["run"]
        rows.append({
            "file": os.path.basename(path),
            "dataset": config["dataset"],
            "method": config["method"],
            "rank": config["rank"] if config["method"] != "dense" else None,
            "seed": config["seed"],
            "epochs": config["epochs"],
            "test accuracy": run["test_accuracy"],
            "dense accuracy": (payload.get("baseline") or {}).get("test_accuracy"),
            "factorised parameters": run["params"]["factorised"],
            "compression": run["params"]["ratio"],
            "commit": payload.get("provenance", {}).get("commit"),
        })
    return pd.DataFrame(rows)


def write_index(reports_dir: str = "reports") -> str:
    """Renders every notebook in ``reports_dir/runs`` and writes ``reports_dir/index.html``.

    Args:
        reports_dir: The reports folder. Defaults to ``"reports"``.

    Returns:
        The path of the index page.
    """
    pages = []
    for notebook in sorted(glob.glob(os.path.join(reports_dir, "runs", "*.ipynb"))):
        name = os.path.splitext(os.path.basename(notebook))[0]
        page = os.path.join(reports_dir, "html", name + ".html")
        render_html(notebook, page, hide_code=name.startswith("report"))
        pages.append(os.path.relpath(page, reports_dir))
    table = results_table(os.path.join(reports_dir, "results"))
    links = "\n".join(
        f'<li><a href="{html.escape(page)}">{html.escape(os.path.basename(page))}</a></li>'
        for page in pages
    ) or "<li>none yet</li>"
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>svdnet reports</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}</style>
</head><body>
<h1>svdnet reports</h1>
<p>Executed notebooks, rendered to HTML (plots included):</p>
<ul>
{links}
</ul>
<h2>Results</h2>
<p>One row per result file in <code>results/</code>; each file also records the full
per-epoch history, spectra, seed, library versions, machine and commit.</p>
{table.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="") if len(table) else "<p>none yet</p>"}
</body></html>
"""
    return write_text_atomic(os.path.join(reports_dir, "index.html"), body)


if __name__ == "__main__":
    try:
        print(write_index(sys.argv[1] if len(sys.argv) > 1 else "reports"))
    except CorruptResultError as error:
        sys.exit(f"error: {error}")
