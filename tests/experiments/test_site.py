"""The landing page, the page and CSV of every result, and the run pages' table."""

import csv
import os
import shutil

from svdnet.experiments.site import run_pages, write_site


def _reports(tmp_path, sweep_results):
    reports = tmp_path / "reports"
    shutil.copytree(sweep_results, reports / "grid" / "results")
    return reports


def test_landing_page_summarises_the_results_it_is_built_from(tmp_path, sweep_results,
                                                              write_result):
    reports = _reports(tmp_path, sweep_results)
    page = open(write_site(str(reports)), encoding="utf-8").read()
    assert "The dense network reaches 98.05 ± 0.07% on MNIST" in page
    assert "<code>lowrank</code>" in page  # generated Markdown rendered, not escaped
    assert 'src="figures/frontier.png"' in page and (reports / "figures" / "frontier.png").exists()
    # The compact table: percentages and the verdict against the small network.
    assert "<td>93.05 ± 0.07%</td><td>96.05 ± 0.07%</td><td>-3.00 points</td>" in page
    assert "small wins" in page
    # A changed result changes the page.
    for seed in (0, 1):
        write_result(reports / "grid" / "results", "dense", seed, 0.99, 1000, train=0.995)
    assert "The dense network reaches 99.00 ± 0.00% on MNIST" in open(
        write_site(str(reports)), encoding="utf-8").read()


def test_every_result_page_and_csv_hold_one_readable_row_per_file(tmp_path, sweep_results):
    reports = _reports(tmp_path, sweep_results)
    write_site(str(reports))
    rows = list(csv.DictReader(open(reports / "results.csv", encoding="utf-8")))
    assert len(rows) == len(os.listdir(reports / "grid" / "results"))
    budget = next(row for row in rows if row["size"] == "budget 110" and row["method"] == "finetune")
    assert budget["dataset"] == "MNIST" and budget["test accuracy %"] in ("94.0", "94.1")
    page = (reports / "results.html").read_text()
    assert "<th" in page and "94.00" in page and "0.9400" not in page
    assert 'href="results.csv"' in page and 'href="index.html"' in page
    assert '<a href="grid/results/mnist-finetune-p110-seed0.json" ' in page


def test_run_pages_are_grouped_by_dataset_method_and_seed():
    pages = ["grid/html/mnist-dense-e10-seed0.html", "grid/html/mnist-dense-e10-seed1.html",
             "grid/html/mnist-lowrank-e10-seed0-r20-5-1.html",
             "grid/html/fashion_mnist-finetune-e10-seed1-e0.5-p100000.html",
             "grid/html/mnist-lowrank-e2-n1000-seed0-r2.html", "html/notes.html"]
    seeds, rows, others = run_pages(pages)
    assert seeds == [0, 1]
    table = {(row["dataset"], row["method"]): row["cells"] for row in rows}
    assert list(table) == [("MNIST", "dense"), ("MNIST", "lowrank"),
                           ("Fashion-MNIST", "finetune")]
    assert table[("MNIST", "dense")] == [[("dense", pages[0])], [("dense", pages[1])]]
    assert table[("MNIST", "lowrank")][0] == [("ranks 1, 5, 20", pages[2]),
                                              ("ranks 2 (2 epochs, 1,000 examples)", pages[4])]
    assert table[("Fashion-MNIST", "finetune")] == [[], [("budgets 100,000; energy 50%",
                                                          pages[3])]]
    assert others == [("notes.html", "html/notes.html")]
