"""The landing page, the page and CSV of every result, and the run pages' table."""

import csv
import json
import os
import re
import shutil

from svdnet.experiments.report import load_results
from svdnet.experiments.site import run_pages, write_site


def _reports(tmp_path, sweep_results):
    reports = tmp_path / "reports"
    shutil.copytree(sweep_results, reports / "grid" / "results")
    return reports


def test_landing_page_summarises_the_results_it_is_built_from(tmp_path, sweep_results,
                                                              write_result):
    import re

    from svdnet.experiments.site import compact_table

    reports = _reports(tmp_path, sweep_results)
    page = open(write_site(str(reports)), encoding="utf-8").read()
    assert re.search(r"dense network reaches 98\.05 ± 0\.07% on MNIST", page)
    assert "<code>" in page and "`" not in page  # generated Markdown rendered, not escaped
    for figure in ("figures/frontier.png", "figures/options.png"):
        assert f'src="{figure}"' in page or not (reports / figure).exists()
    assert (reports / "figures" / "frontier.png").exists()
    assert re.search(r"\b10 epochs per run\b", page)  # from the results, not typed
    # The compact table: one row per size, the verdicts counted from the tests.
    rows = compact_table(load_results(str(reports / "grid" / "results"))[0])[0]["rows"]
    assert [row["size"] for row in rows] == ["101", "111"]
    assert [row["worse"] for row in rows] == ["3 of 3", "1 of 1"]
    assert rows[0]["small"] == "96.05 ± 0.07%" and rows[0]["better"] == "none"
    assert f"<td class=\"text\">{rows[0]['small']}</td>" in page and "Benjamini-Hochberg" in page
    # A changed result changes the page.
    for seed in (0, 1):
        write_result(reports / "grid" / "results", "dense", seed, 0.99, 1000, train=0.995)
    assert re.search(r"dense network reaches 99\.00 ± 0\.00% on MNIST", open(
        write_site(str(reports)), encoding="utf-8").read())


def test_the_epochs_of_other_budgets_are_counted(tmp_path, sweep_results):
    from svdnet.experiments.results import write_json_atomic
    from svdnet.experiments.site import epochs_text

    frame = load_results(str(sweep_results))[0]
    assert epochs_text(frame) == "10 epochs per run"
    for seed in (0, 1):
        write_json_atomic(sweep_results / f"mnist-small-r2-e30-seed{seed}.json", {
            "config": {"dataset": "mnist", "method": "small", "rank": 2, "seed": seed,
                       "epochs": 30},
            "quick": False, "run": {"test_accuracy": 0.99, "test_loss": 0.1,
                                    "params": {"dense": 1000, "factorized": 101, "ratio": 9.9},
                                    "train_seconds": 5.0, "svd_seconds": 0.5}})
    text = epochs_text(load_results(str(sweep_results))[0])
    assert [int(n) for n in re.findall(r"\d+", text)] == [10, 2, 30, 30]


def test_every_result_page_and_csv_hold_one_readable_row_per_file(tmp_path, sweep_results,
                                                                   write_result):
    reports = _reports(tmp_path, sweep_results)
    # a CNN run of the grid is a result too (the landing page's tables stay the MLP's)
    write_result(reports / "grid" / "results", "dense", 0, 0.9, 1000, architecture="cnn",
                 dataset="fashion_mnist")
    write_site(str(reports))
    rows = list(csv.DictReader(open(reports / "results.csv", encoding="utf-8")))
    assert len(rows) == len(os.listdir(reports / "grid" / "results"))
    assert [row["model"] for row in rows].count("CNN") == 1
    budget = next(row for row in rows if row["size"] == "budget 110" and row["method"] == "finetune")
    assert budget["dataset"] == "MNIST" and budget["test accuracy %"] in ("94.0", "94.1")
    page = (reports / "results.html").read_text()
    assert "<th" in page and "94.00" in page and "0.9400" not in page
    assert 'href="results.csv"' in page and 'href="index.html"' in page
    assert '<a href="grid/results/mnist-finetune-p110-seed0.json" ' in page


def _page(reports, name, **parameters):
    """A run page as render_html writes it: the notebook's Papermill parameters inside."""
    from svdnet.experiments.render import embed_parameters

    path = reports / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page = "<html><head></head><body>run</body></html>"
    path.write_text(embed_parameters(page, parameters) if parameters else page)
    return name


def _run(dataset="mnist", method="lowrank", seed=0, epochs=10, **more):
    return {"dataset": dataset, "method": method, "seed": seed, "epochs": epochs,
            "rank": 20, "train_size": 0, "ranks": [], "energies": [], "budgets": [], **more}


def test_run_pages_are_grouped_by_dataset_method_and_seed(tmp_path):
    # the names say nothing (or mislead): the parameters inside each page decide
    pages = [_page(tmp_path, "grid/html/a.html", **_run(method="dense")),
             _page(tmp_path, "grid/html/b.html", **_run(method="dense", seed=1)),
             _page(tmp_path, "grid/html/mnist-dense-e10-seed0.html", **_run(ranks=[20, 5, 1])),
             _page(tmp_path, "grid/html/d.html", **_run(
                 "fashion_mnist", "finetune", 1, rank=None, energies=[0.5], budgets=[100000])),
             _page(tmp_path, "grid/html/e.html", **_run(epochs=2, train_size=1000, ranks=[2])),
             _page(tmp_path, "html/notes.html"),
             _page(tmp_path, "html/other.html", rank=20)]  # another notebook's parameters
    seeds, rows, others = run_pages(pages, reports_dir=str(tmp_path))
    assert seeds == [0, 1]
    table = {(row["dataset"], row["method"]): row["cells"] for row in rows}
    assert list(table) == [("MNIST", "dense"), ("MNIST", "lowrank"),
                           ("Fashion-MNIST", "finetune")]
    assert table[("MNIST", "dense")] == [[("dense", pages[0])], [("dense", pages[1])]]
    assert table[("MNIST", "lowrank")][0] == [("ranks 1, 5, 20", pages[2]),
                                              ("ranks 2 (2 epochs, 1,000 examples)", pages[4])]
    assert table[("Fashion-MNIST", "finetune")] == [[], [("budgets 100,000; energy 50%",
                                                          pages[3])]]
    assert others == [("notes.html", "html/notes.html"), ("other.html", "html/other.html")]


def test_run_pages_name_the_epochs_of_runs_off_the_main_budget(tmp_path):
    pages = [_page(tmp_path, "grid/html/x.html", **_run(method="small", epochs=30, ranks=[2])),
             _page(tmp_path, "grid/html/y.html", **_run(method="small", seed=1, epochs=30,
                                                          ranks=[2])),
             _page(tmp_path, "grid/html/z.html", **_run(method="small", ranks=[5]))]
    # The main budget from the results: the 30-epoch runs are named as such.
    _, rows, _ = run_pages(pages, epochs=10, reports_dir=str(tmp_path))
    assert rows[0]["cells"] == [[("ranks 2 (30 epochs)", pages[0]), ("ranks 5", pages[2])],
                                [("ranks 2 (30 epochs)", pages[1])]]
    # Results of 30 epochs throughout: the 10-epoch page is the one set apart.
    _, rows, _ = run_pages(pages, epochs=30, reports_dir=str(tmp_path))
    assert rows[0]["cells"][0] == [("ranks 2", pages[0]), ("ranks 5 (10 epochs)", pages[2])]
    # Without results, the epochs most pages ran.
    assert (run_pages(pages, reports_dir=str(tmp_path))[1]
            == run_pages(pages, epochs=30, reports_dir=str(tmp_path))[1])


def test_the_landing_page_opens_with_the_practitioners_paragraph(tmp_path, sweep_results,
                                                                 write_result):
    from svdnet.experiments import findings

    reports = _reports(tmp_path, sweep_results)
    for seed in (0, 1):  # a 30-epoch grid: no page may assume 10 epochs
        for path in (reports / "grid" / "results").glob(f"*seed{seed}.json"):
            result = json.loads(path.read_text())
            result["config"]["epochs"] = 30
            path.write_text(json.dumps(result))
    with open(write_site(str(reports)), encoding="utf-8") as stream:
        page = stream.read()
    assert re.search(r"\b30 epochs per run\b", page) and "10 epochs" not in page
    practice = page[page.index('id="practice"'):page.index("<h2>Findings</h2>")]
    assert page.index('id="practice"') < page.index("<h2>")  # before every section
    frame = load_results(str(reports / "grid" / "results"))[0]
    for paragraph in findings.practice(frame):  # its numbers, as generated
        numbers = re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", paragraph)
        assert numbers and all(number in practice for number in numbers)
    for term in ("dense", "projection", "posthoc", "finetune", "lowrank", "small",
                 "budget", "+denseout", "+kd", "+cosine", "+accuracy", "+anneal", "+fd"):
        assert re.search(r"<dt>(<code>)?" + re.escape(term) + r"(</code>)?</dt>", practice)
    assert not re.search(r"\bwins?\b", page)
