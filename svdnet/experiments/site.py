"""The reader's entry to ``reports/``: the landing page (``index.html``) and the page and
CSV of every result (``results.html``, ``results.csv``), rendered with Jinja templates
from the result files; the two headline figures are written beside them
(``figures/frontier.png``, the core methods, and ``figures/options.png``, the methods with
options).

The pages of executed notebooks are rendered by :mod:`svdnet.experiments.render`, which
calls :func:`write_site` once they are written.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pandas as pd

from svdnet.experiments import findings
from svdnet.experiments.config import ARCHITECTURES, METHODS
from svdnet.experiments.formatting import (
    accuracy_text,
    compression_text,
    dataset_name,
    dataset_order,
    readable_results,
    table_html,
)
from svdnet.experiments.render import page_parameters
from svdnet.experiments.images import compact_png
from svdnet.experiments.literature import MNIST_NOTE, PUBLISHED, counts_note
from svdnet.experiments.options import option_words
from svdnet.experiments.report import (
    comparisons,
    frontier_table,
    load_results,
    main_epochs,
    small_comparison,
    statistics_note,
    verdict_counts,
)
from svdnet.experiments.results import write_text_atomic

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "site")
FIGURE = "figures/frontier.png"
OPTIONS_FIGURE = "figures/options.png"
CSV = "results.csv"

def _environment():
    import jinja2
    import markupsafe
    import mistune

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=jinja2.select_autoescape(["j2"]))
    # Generated sentences are Markdown (backticks, bold): inline HTML, no paragraph.
    environment.filters["markdown"] = lambda text: markupsafe.Markup(
        mistune.html(str(text)).strip().removeprefix("<p>").removesuffix("</p>"))
    return environment


def _links(prefix: str = "") -> list[tuple[str, str]]:
    return [("svdnet reports", prefix + "index.html"), ("Full report", prefix + "html/report.html"),
            ("Every result", prefix + "results.html"), ("Exploration", prefix + "html/explore.html"),
            ("CNN and transformer", prefix + "html/architectures.html"),
            ("Trained network", prefix + "html/post_training.html"),
            ("Runs", prefix + "index.html#runs")]


def _provenance(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "no results yet"
    commits = sorted({commit[:10] for commit in frame["commit"].dropna()})
    return f"{len(frame)} result files" + (f", commits {', '.join(commits)}" if commits else "")


def _names(rows: pd.DataFrame) -> str:
    return ", ".join(f"{row['method']} {row['configuration']}" for _, row in rows.iterrows())


def compact_table(frame: pd.DataFrame) -> list[dict]:
    """Per dataset and size (the small network's parameter count), the verdicts of
    :func:`svdnet.experiments.report.small_comparison` formatted for the landing page: the
    small network's accuracy, the svdnet configurations better than it, not significantly
    different and worse, and the one with the highest mean (a description; each
    configuration was tested on its own).

    Args:
        frame: The frame of :func:`svdnet.experiments.report.load_results`.

    Returns:
        One dict per dataset with ``name``, ``dense`` (its accuracy) and ``rows``, each
        row with ``size``, ``compression``, ``configurations``, ``small``, ``better``,
        ``same``, ``worse`` (texts), ``highest``, ``better css`` (``"better"`` when some
        configuration is better) and ``worse css`` (``"worse"`` when all are worse).
    """
    table = small_comparison(frame)
    datasets = []
    for dataset in dataset_order(frame["dataset"]):
        dense = frame.loc[(frame["dataset"] == dataset) & (frame["method"] == "dense"),
                          "test accuracy"]
        rows = []
        part = table[table["dataset"] == dataset]
        for size, group in part.groupby("size"):
            small = group.drop_duplicates("small method").set_index("small method")
            top = group.sort_values("svdnet", ascending=False).iloc[0]
            counts = verdict_counts(group)
            rows.append({
                "size": f"{size:,}", "compression": compression_text(group["size compression"].iloc[0]),
                "configurations": ", ".join(dict.fromkeys(group["configuration"])),
                "small": "; ".join(
                    accuracy_text(row["small"], row["small std"])
                    + ("" if method == "small" else f" ({method})")
                    for method, row in small.iterrows()),
                "better": _names(group[group["verdict"] == "better"]) or "none",
                "same": f"{counts['no significant difference']} of {len(group)}",
                "worse": f"{counts['worse']} of {len(group)}",
                "highest": f"{top['method']} {top['configuration']}: "
                           f"{accuracy_text(top['svdnet'], top['svdnet std'])} "
                           f"({top['difference (pp)']:+.2f} points, {top['verdict']})",
                "better css": "better" if counts["better"] else "",
                "worse css": "worse" if counts["worse"] == len(group) else ""})
        datasets.append({"name": dataset_name(dataset), "rows": rows,
                         "dense": accuracy_text(dense.mean(), dense.std()) if len(dense) else "-"})
    return [dataset for dataset in datasets if dataset["rows"]]


def _size_label(fields: dict) -> str:
    parts = []
    for key, label, fmt in (("ranks", "ranks", "{:g}"), ("budgets", "budgets", "{:,.0f}"),
                            ("energies", "energy", "{:.0%}")):
        values = fields[key]
        if values:
            parts.append(f"{label} {', '.join(fmt.format(v) for v in sorted(values))}")
    return "; ".join(parts) or "dense"


RUN_FIELDS = ("dataset", "method", "seed", "epochs")
"""The Papermill parameters that make a page one of the grid's run pages."""


def run_pages(pages: list[str], epochs: int | None = None, reports_dir: str = "reports"
              ) -> tuple[list[int], list[dict], list[tuple[str, str]]]:
    """Groups the grid's run pages by dataset and method, one column per seed, from the
    Papermill parameters each page carries (:func:`svdnet.experiments.render.page_parameters`),
    never from its name.

    Args:
        pages: Page paths relative to ``reports_dir``.
        epochs: The main training budget (:func:`svdnet.experiments.report.main_epochs`
            of the results): a page whose runs trained for other epochs says how many.
            Defaults to ``None``: the epochs most of the pages' runs trained for.
        reports_dir: The folder the pages are relative to. Defaults to ``"reports"``.

    Returns:
        ``(seeds, rows, others)``: the seeds; one row per (dataset, method) with
        ``dataset``, ``method`` and ``cells`` (per seed, a list of ``(label, href)``
        whose label names the sizes the notebook ran, and its epochs when they are not
        ``epochs``); and ``(label, href)`` of pages that carry no run's parameters.
    """
    cells, others, seeds = defaultdict(lambda: defaultdict(list)), [], set()
    described = []
    for page in pages:
        fields = page_parameters(os.path.join(reports_dir, page))
        if fields is not None and not all(key in fields for key in RUN_FIELDS):
            fields = None  # another notebook's parameters: not a run of the grid
        described.append((page, fields and {"train_size": 0, "ranks": (), "energies": (),
                                            "budgets": (), **fields}))
    if epochs is None:
        counts = pd.Series([fields["epochs"] for _, fields in described if fields],
                           dtype=int)
        epochs = int(counts.mode().min()) if len(counts) else None
    for page, fields in described:
        if fields is None:
            others.append((os.path.basename(page), page))
            continue
        seeds.add(fields["seed"])
        label = _size_label(fields) + option_words(fields)
        if fields["epochs"] != epochs or fields["train_size"]:
            label += f" ({fields['epochs']} epochs" + (
                f", {fields['train_size']:,} examples)" if fields["train_size"] else ")")
        cells[(fields["dataset"], fields["method"])][fields["seed"]].append((label, page))
    datasets = dataset_order(dataset for dataset, _ in cells)

    def key(item):
        dataset, method = item
        return (datasets.index(dataset),
                METHODS.index(method) if method in METHODS else len(METHODS))

    seeds = sorted(seeds)
    rows = [{"dataset": dataset_name(dataset), "method": method,
             "cells": [sorted(cells[(dataset, method)].get(seed, [])) for seed in seeds]}
            for dataset, method in sorted(cells, key=key)]
    return seeds, rows, others


def write_site(reports_dir: str = "reports", pages=(), run_page_list=(), unfinished=()) -> str:
    """Writes ``index.html``, ``results.html``, ``results.csv`` and the two headline figures
    into ``reports_dir``, from the result files of ``reports_dir/grid/results`` (and the
    reference experiment's, ``reports_dir/results``, on the results page).

    Args:
        reports_dir: The reports folder. Defaults to ``"reports"``.
        pages: Pages of the notebooks under ``reports_dir/html`` other than the report
            and the exploration, relative to ``reports_dir`` (listed under "Read
            further"). Defaults to none.
        run_page_list: The grid's run pages, relative to ``reports_dir``. Defaults to
            none.
        unfinished: ``(notebook name, state)`` of executions that did not finish
            (``"interrupted"`` or ``"failed"``), named apart from the runs, not linked.
            Defaults to none.

    Returns:
        The path of ``index.html``.
    """
    grid_dir = os.path.join(reports_dir, "grid", "results")
    frame = load_results(grid_dir)[0] if os.path.isdir(grid_dir) else pd.DataFrame()
    environment = _environment()
    provenance = _provenance(frame)

    figures = []
    if len(frame):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from svdnet.experiments.plots import frontier_plot, is_core, options_or_small

        os.makedirs(os.path.join(reports_dir, "figures"), exist_ok=True)
        table = frontier_table(frame)
        for path, methods, title in (
                (FIGURE, is_core, "The core methods against the plain small network"),
                (OPTIONS_FIGURE, options_or_small,
                 "The methods with options against the plain small network")):
            if not table["method"].map(lambda m, f=methods: m != "small" and f(m)).any():
                continue
            drawn = frontier_plot(table, PUBLISHED, methods=methods, title=title)
            _save_png(drawn, os.path.join(reports_dir, path))
            plt.close(drawn)
            figures.append(path)

    # every run of the grid, the CNN's and ViT's beside the MLP's (whose are the rest's)
    every = readable_results(load_results(grid_dir, architectures=ARCHITECTURES)[0]
                             if os.path.isdir(grid_dir) else frame)
    write_text_atomic(os.path.join(reports_dir, CSV), every.to_csv(index=False))
    sections = [{"title": "The sweep (grid/results)", "table": _html_table(every, "grid/results")}]
    reference_dir = os.path.join(reports_dir, "results")
    if os.path.isdir(reference_dir):
        reference = load_results(reference_dir)[0]
        if len(reference):
            sections.append({"title": "The reference experiment (results)",
                             "table": _html_table(readable_results(reference), "results")})
    write_text_atomic(os.path.join(reports_dir, "results.html"), environment.get_template(
        "results.html.j2").render(links=_links(), provenance=provenance, count=len(every),
                                  csv=CSV, sections=sections))

    seeds, rows, others = run_pages(list(run_page_list),
                                    main_epochs(frame) if len(frame) else None, reports_dir)
    further = [("The full report", "html/report.html",
                "every table and figure, the conclusions, the provenance"),
               ("Every result", "results.html",
                f"one row per run, readable columns; also as {CSV}"),
               ("The exploration", "html/explore.html",
                "singular value spectra and post-training truncation of one trained network"),
               ("Beyond the MLP", "html/architectures.html",
                "a CNN on Fashion-MNIST and a vision transformer on MNIST, compressed: "
                "accuracy, parameters, MACs and inference time"),
               ("Compressing a trained network", "html/post_training.html",
                "the network already exists: SVD with and without calibration data, then "
                "fine-tuning on a few thousand images, against the small network trained "
                "or distilled on the same images"),
               ("Benchmarks", "../benchmarks/README.md",
                "SVD step cost, training throughput, inference speed, deployment sizes")]
    further += [(os.path.basename(page), page,
                 "the reference experiment (MNIST, projection at rank 20, seed 0), executed"
                 if os.path.basename(page).startswith("sweep-") else "an executed notebook")
                for page in pages]
    summary = (findings.summary(frame) if len(frame) else
               ["No results yet: run `python -m svdnet.experiments.grid`."])
    study_dir = os.path.join(reports_dir, "post_training", "study")
    practice = findings.practice(frame) if len(frame) else []
    if os.path.isdir(study_dir) and os.listdir(study_dir):
        from svdnet.experiments import post_training_report

        study = post_training_report.load_study(study_dir)
        summary.append(post_training_report.finding(study)
                       + " ([the page](html/post_training.html))")
        practice.append(post_training_report.practice(study))
    tested = comparisons(frame) if len(frame) else pd.DataFrame()
    index = environment.get_template("index.html.j2").render(
        links=_links(), provenance=provenance, runs=len(frame),
        seeds=frame["seed"].nunique() if len(frame) else 0, epochs=epochs_text(frame),
        summary=summary,
        practice=[paragraph for paragraph in practice if paragraph],
        terms=findings.definitions(frame) if len(frame) else [],
        published_note=counts_note(PUBLISHED), mnist_note=MNIST_NOTE,
        figures=figures, figure_names=dict(core=FIGURE, options=OPTIONS_FIGURE),
        statistics=statistics_note(tested) if len(tested) else "",
        compact=compact_table(frame) if len(frame) else [], further=further,
        run_seeds=seeds, run_pages=rows, other_pages=others, unfinished=list(unfinished))
    return write_text_atomic(os.path.join(reports_dir, "index.html"), index)


def _save_png(figure, path: str) -> None:
    """Writes ``figure`` to ``path`` as a compact PNG without metadata, atomically."""
    partial = path + ".partial.png"
    figure.savefig(partial, dpi=100, metadata={"Software": None}, bbox_inches="tight")
    with open(partial, "rb") as stream:
        png = compact_png(stream.read())
    with open(partial, "wb") as stream:
        stream.write(png)
    os.replace(partial, path)


def epochs_text(frame: pd.DataFrame) -> str:
    """The training budget of the runs in words: ``"10 epochs per run (24 runs of 30
    epochs, marked +30ep)"``, from the results."""
    main = main_epochs(frame)
    if main is None:
        return ""
    other = frame.loc[frame["epochs"] != main, "epochs"].value_counts().sort_index()
    return f"{main} epochs per run" + (" (" + ", ".join(
        f"{count} runs of {int(epochs)} epochs, marked +{int(epochs)}ep"
        for epochs, count in other.items()) + ")" if len(other) else "")


def _html_table(table: pd.DataFrame, folder: str):
    """The table as HTML (pandas' own writer), each file name a link into ``folder``,
    marked safe for the template."""
    import html

    from markupsafe import Markup

    if table.empty:
        return Markup("<p>none yet</p>")
    return Markup(table_html(table, {
        "test accuracy %": "{:.2f}", "train accuracy %": "{:.2f}", "parameters": "{:,}",
        "compression": "{:.1f}x", "train s": "{:.1f}", "svd s": "{:.2f}",
        "file": lambda name: f'<a href="{html.escape(folder)}/{html.escape(name)}" '
                             f'title="{html.escape(name)}">JSON</a>'}))
