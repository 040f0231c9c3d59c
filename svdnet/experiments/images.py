"""Smaller PNG figures for the committed pages: plots have few colours, so a 256-colour
palette on white (maximum-coverage quantisation, which keeps every line's and marker's
hue) keeps them as they were at about a third of the bytes, and ``reports/`` stays within
its size limit as the grid grows."""

from __future__ import annotations

import base64
import io
import re

PALETTE_COLOURS = 256
"""Colours kept per figure."""

_DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def compact_png(data: bytes, colours: int = PALETTE_COLOURS) -> bytes:
    """A PNG re-encoded with a palette of ``colours`` colours (transparency flattened
    onto white); the original when that is not smaller.

    Args:
        data: The PNG file's bytes.
        colours: Palette size, from 2 to 256. Defaults to :data:`PALETTE_COLOURS`.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
    else:
        flat = image.convert("RGB")
    output = io.BytesIO()
    flat.quantize(colors=colours, method=Image.Quantize.MAXCOVERAGE).save(
        output, format="PNG", optimize=True)
    smaller = output.getvalue()
    return smaller if len(smaller) < len(data) else data


def compact_data_uris(html: str, colours: int = PALETTE_COLOURS) -> str:
    """``html`` with every embedded PNG (``data:image/png;base64,...``) re-encoded by
    :func:`compact_png`."""
    def replace(match):
        png = compact_png(base64.b64decode(match.group(1)), colours)
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    return _DATA_URI.sub(replace, html)
