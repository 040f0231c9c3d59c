"""The published points: what each one's size counts, and the figure saying so."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from svdnet.experiments.literature import COUNTS, PUBLISHED, Published, counts_note


def test_every_published_point_says_what_its_size_counts():
    assert all(point.counts in COUNTS for point in PUBLISHED)
    # Pruned and sparsified networks count the weights left non-zero, as their sources say.
    for point in PUBLISHED:
        pruned = "pruned" in point.label or "sparse" in point.label
        assert point.counts == ("non-zero weights" if pruned else "parameters"), point.label
    with pytest.raises(ValueError, match="'nonzero'"):
        Published("x", "mnist", 0.9, 100, "nonzero", "a paper")


def test_counts_note_names_each_point_under_what_it_counts():
    points = (Published("A", "mnist", 0.9, 100, "non-zero weights", "s"),
              Published("B", "mnist", 0.9, 100, "non-zero weights", "s"),
              Published("C", "mnist", 0.9, 100, "parameters", "s"))
    clauses = {clause.rsplit(" count", 1)[1].removeprefix("s"): clause
               for clause in counts_note(points).split("; ")}
    assert set(clauses) == {" non-zero weights", " parameters"}
    assert "A" in clauses[" non-zero weights"] and "B" in clauses[" non-zero weights"]
    assert "C" in clauses[" parameters"] and "A" not in clauses[" parameters"]


def test_the_figure_labels_published_points_with_their_counts():
    import matplotlib.pyplot as plt

    from svdnet.experiments.plots import frontier_plot

    table = pd.DataFrame({"dataset": ["mnist"] * 2, "method": ["dense", "small"],
                          "choice": ["dense", "rank"], "value": [None, 2.0],
                          "mean": [0.98, 0.97], "std": [0.001, 0.001],
                          "parameters": [1000, 100], "pareto": [True, True]})
    point = Published("P", "mnist", 0.975, 300, "non-zero weights", "s")
    figure = frontier_plot(table, (point,))
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "published: P (non-zero weights)" in labels
    assert "non-zero weights" in figure.axes[0].get_xlabel()
    plt.close(figure)
    counted = Published("Q", "mnist", 0.975, 300, "parameters", "s")
    figure = frontier_plot(table, (counted,))
    assert "published: Q (parameters)" in [t.get_text() for t in figure.legends[0].get_texts()]
    assert "non-zero" not in figure.axes[0].get_xlabel()
    plt.close(figure)


def test_the_mnist_note_stands_in_the_legend_not_over_the_data():
    import matplotlib.pyplot as plt

    from svdnet.experiments.literature import MNIST_NOTE
    from svdnet.experiments.plots import frontier_plot

    table = pd.DataFrame({"dataset": ["mnist"] * 2, "method": ["dense", "small"],
                          "choice": ["dense", "rank"], "value": [None, 2.0],
                          "mean": [0.98, 0.97], "std": [0.001, 0.001],
                          "parameters": [1000, 100], "pareto": [True, True]})
    figure = frontier_plot(table, PUBLISHED)
    legend = " ".join(t.get_text() for t in figure.legends[0].get_texts()).replace("\n", " ")
    assert MNIST_NOTE in legend and not figure.axes[0].texts
    plt.close(figure)
