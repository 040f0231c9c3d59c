"""Smaller figures for the committed pages."""

import base64
import io

import numpy as np
from PIL import Image

from svdnet.experiments.images import compact_data_uris, compact_png


def _plot_png():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3))
    for k in range(5):
        axis.plot(np.arange(50), np.sin(np.arange(50) / (k + 3)), label=f"line {k}")
    axis.legend()
    stream = io.BytesIO()
    figure.savefig(stream, format="png", dpi=100)
    plt.close(figure)
    return stream.getvalue()


def test_a_plot_gets_smaller_and_keeps_its_size_and_look():
    original = _plot_png()
    small = compact_png(original)
    assert len(small) < 0.7 * len(original)
    before = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"), dtype=float)
    after = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"), dtype=float)
    assert before.shape == after.shape
    error = np.abs(before - after).max(axis=2)
    assert error.mean() < 1.0 and np.percentile(error, 99.9) < 16  # out of 255: same colours


def test_data_uris_in_a_page_are_replaced_and_other_text_kept():
    original = _plot_png()
    page = ('<p>before</p><img src="data:image/png;base64,'
            + base64.b64encode(original).decode() + '"><p>after</p>')
    compacted = compact_data_uris(page)
    assert compacted.startswith('<p>before</p><img src="data:image/png;base64,')
    assert compacted.endswith('"><p>after</p>') and len(compacted) < len(page)
