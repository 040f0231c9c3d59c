"""Rendering executed notebooks to HTML and the index page of ``reports/``.

    python -m svdnet.experiments.render [REPORTS_DIR]

renders every executed notebook under ``REPORTS_DIR/runs`` (default ``reports``) to
``REPORTS_DIR/html``, and those of the sweep under ``REPORTS_DIR/grid/runs`` to
``REPORTS_DIR/grid/html``, then writes the landing page ``REPORTS_DIR/index.html`` and the
page of every result (:mod:`svdnet.experiments.site`).
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

import nbformat

from svdnet.experiments.images import compact_data_uris
from svdnet.experiments.results import CorruptResultError, write_text_atomic

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
STYLESHEET = "notebook.css"
PARAMETERS_ID = "papermill-parameters"
"""The ``id`` of the JSON script element in which a page carries the Papermill parameters
of its notebook (:func:`page_parameters` reads them): what the run was asked to do, read
from the page rather than from its name."""
_PARAMETERS = re.compile(r'<script type="application/json" id="' + PARAMETERS_ID
                         + r'">(.*?)</script>', re.DOTALL)


def embed_parameters(page: str, parameters: dict) -> str:
    """Returns the HTML ``page`` with ``parameters`` in a JSON script element (id
    :data:`PARAMETERS_ID`) at the end of its ``<head>``, replacing one already there.

    Args:
        page: An HTML page with a ``</head>``.
        parameters: JSON-serialisable parameters.

    Raises:
        ValueError: when ``page`` has no ``</head>``.
    """
    text = (json.dumps(parameters, sort_keys=True).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026"))  # nothing HTML reads inside
    element = f'<script type="application/json" id="{PARAMETERS_ID}">{text}</script>'
    page = _PARAMETERS.sub("", page)
    if "</head>" not in page:
        raise ValueError("The page has no </head> to hold its parameters.")
    return page.replace("</head>", element + "\n</head>", 1)


def page_parameters(path: str) -> dict | None:
    """The Papermill parameters a page carries (:func:`embed_parameters`), or ``None`` for
    a page without them (one not rendered from a Papermill execution).

    Raises:
        CorruptResultError: naming the page when its parameters are not a JSON object.
    """
    with open(path, encoding="utf-8") as stream:
        match = _PARAMETERS.search(stream.read())
    if match is None:
        return None
    try:
        parameters = json.loads(match.group(1))
    except json.JSONDecodeError as error:
        raise CorruptResultError(f"Page {path!r} carries parameters that are not JSON "
                                 f"({error}); render its notebook again.") from error
    if not isinstance(parameters, dict):
        raise CorruptResultError(f"Page {path!r} carries parameters that are not a JSON "
                                 f"object: {parameters!r}; render its notebook again.")
    return parameters


def render_html(notebook_path: str, html_path: str, hide_code: bool = False,
                stylesheet: str | None = None) -> str:
    """Renders an executed notebook to an HTML page (plots embedded, each re-encoded with
    a small palette by :func:`svdnet.experiments.images.compact_data_uris`).

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
    exporter = _exporter("svdnet_page", shared_css=stylesheet is not None,
                         exclude_input=hide_code, exclude_input_prompt=hide_code,
                         exclude_output_prompt=hide_code)
    notebook = nbformat.read(notebook_path, as_version=4)
    if hide_code:  # a page for readers: the libraries' start-up chatter on stderr is noise
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [output for output in cell.outputs
                                if not (output.output_type == "stream"
                                        and output.name == "stderr")]
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    parameters = notebook.metadata.get("papermill", {}).get("parameters")
    if parameters:  # what the run was asked to do, for readers of the page (site.run_pages)
        body = embed_parameters(body, dict(parameters))
    return write_text_atomic(html_path, compact_data_uris(body))


def write_stylesheet(path: str) -> str:
    """Writes the CSS that nbconvert's lab template embeds in each page to ``path``, for
    pages rendered with ``render_html(..., stylesheet=path)``.

    Returns:
        ``path``.
    """
    styles, _ = _exporter("svdnet_stylesheet").from_notebook_node(nbformat.v4.new_notebook())
    return write_text_atomic(path, re.sub(r"</?style[^>]*>", "", styles).strip() + "\n")


def _exporter(template: str, shared_css: bool = False, **options):
    """nbconvert's HTML exporter with one of our templates; ``shared_css`` leaves the code
    highlighting's CSS out of the page (the shared stylesheet holds it)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    if shared_css:
        config.CSSHTMLHeaderPreprocessor.enabled = False
    return HTMLExporter(config=config, extra_template_basedirs=[TEMPLATES],
                        template_name=template, **options)


def _render_folder(runs_dir: str, html_dir: str,
                   reports_dir: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Renders each executed notebook of ``runs_dir`` into ``html_dir``.

    Notebooks of executions that did not finish (``*-interrupted``, ``*.failed``: see
    :func:`svdnet.experiments.grid.unfinished_state`) are not rendered, and their pages
    (from an earlier render) are not returned: they are not runs' results.

    Returns:
        ``(pages, unfinished)``: every other page of ``html_dir``, relative to
        ``reports_dir`` (the executed notebooks are not committed, their pages are, so
        pages whose notebook is not here stay listed); and ``(notebook name, state)`` of
        each unfinished execution's notebook in ``runs_dir``.
    """
    from svdnet.experiments.grid import unfinished_state

    unfinished = []
    for notebook in sorted(glob.glob(os.path.join(runs_dir, "*.ipynb"))):
        name = os.path.splitext(os.path.basename(notebook))[0]
        state = unfinished_state(notebook)
        if state:
            unfinished.append((os.path.basename(notebook), state))
            continue
        render_html(notebook, os.path.join(html_dir, name + ".html"),
                    hide_code=name.startswith(("report", "architectures", "post_training")),
                    stylesheet=os.path.join(reports_dir, STYLESHEET))
    pages = [os.path.relpath(page, reports_dir).replace(os.sep, "/")
             for page in sorted(glob.glob(os.path.join(html_dir, "*.html")))
             if not unfinished_state(page)]
    return pages, unfinished


def write_index(reports_dir: str = "reports") -> str:
    """Renders the executed notebooks present, then writes the landing page
    ``reports_dir/index.html`` and the page of every result (see
    :func:`svdnet.experiments.site.write_site`).

    Notebooks under ``reports_dir/runs`` (the report, with its code hidden, the
    exploration and the reference experiment) render to ``reports_dir/html``; the sweep's
    notebooks under ``reports_dir/grid/runs`` to ``reports_dir/grid/html``. Pages of
    notebooks that are not here (as in a fresh clone, where only pages are committed)
    stay listed. Notebooks of executions that did not finish (``*-interrupted``,
    ``*.failed``) are not rendered nor linked; the landing page names them apart. The
    pages share one stylesheet, ``reports_dir/notebook.css``, written alongside.

    Args:
        reports_dir: The reports folder. Defaults to ``"reports"``.

    Returns:
        The path of the index page.
    """
    from svdnet.experiments.site import write_site

    write_stylesheet(os.path.join(reports_dir, STYLESHEET))
    pages, unfinished = _render_folder(os.path.join(reports_dir, "runs"),
                                       os.path.join(reports_dir, "html"), reports_dir)
    grid_pages, grid_unfinished = _render_folder(os.path.join(reports_dir, "grid", "runs"),
                                                 os.path.join(reports_dir, "grid", "html"),
                                                 reports_dir)
    linked = {"html/report.html", "html/explore.html", "html/architectures.html",
              "html/post_training.html"}
    return write_site(reports_dir, pages=[page for page in pages if page not in linked],
                      run_page_list=grid_pages, unfinished=unfinished + grid_unfinished)


def main(argv=None) -> None:
    """The command line: ``python -m svdnet.experiments.render [REPORTS_DIR]``; a flag or a
    folder that does not exist is refused, naming it, before anything is written."""
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m svdnet.experiments.render [REPORTS_DIR] (default: reports)"
    if argv[:1] in (["-h"], ["--help"]):
        print(usage)
        return
    if len(argv) > 1 or argv[:1] and argv[0].startswith("-"):
        sys.exit(f"{usage}\nerror: expected at most one folder; received {argv}.")
    reports_dir = argv[0] if argv else "reports"
    if not os.path.isdir(reports_dir):
        sys.exit(f"{usage}\nerror: no reports folder at {reports_dir!r}.")
    try:
        print(write_index(reports_dir))
    except CorruptResultError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
