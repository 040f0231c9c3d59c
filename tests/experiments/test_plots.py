"""The figures: what each draws, read back from matplotlib's artists."""

import matplotlib
import numpy as np

matplotlib.use("Agg")

from svdnet.experiments import plots  # noqa: E402


def _lines(grid):
    return [line for axis in grid.axes.flat for line in axis.get_lines()
            if len(line.get_xdata()) and line.get_linestyle() != "--"]


def test_a_rank_one_spectrum_is_drawn_as_points_not_an_empty_line():
    one = {"hidden_1": np.array([3.0]), "output": np.array([2.0])}
    grid = plots.spectrum_plot({"before last truncation": one, "after truncation": one},
                               rank=1)
    lines = _lines(grid)
    assert len(lines) == 4 and all(line.get_marker() == "o" for line in lines)
    assert sorted(float(line.get_ydata()[0]) for line in lines) == [2.0, 2.0, 3.0, 3.0]


def test_a_full_spectrum_stays_a_plain_line():
    values = {"hidden_1": np.linspace(10.0, 0.1, plots.SHORT_SPECTRUM + 1)}
    grid = plots.spectrum_plot({"dense": values})
    lines = _lines(grid)
    assert len(lines) == 1 and lines[0].get_marker() in ("None", None, "")
    assert len(lines[0].get_xdata()) == plots.SHORT_SPECTRUM + 1
