"""Where the project's notebooks and reports are, relative to this package."""

import os

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The project folder: the one holding ``svdnet/``, ``notebooks/`` and ``reports/``."""

NOTEBOOKS = os.path.join(PROJECT_ROOT, "notebooks")
REPORTS = os.path.join(PROJECT_ROOT, "reports")
GRID_RESULTS = os.path.join(REPORTS, "grid", "results")
POST_TRAINING = os.path.join(REPORTS, "post_training")


def without_folder(text: str, folder: str, replacement: str = "") -> str:
    """Returns ``text`` with the absolute ``folder`` (and the separator after it) written
    as ``replacement``: executed notebooks and pages show paths relative to the project
    (or to a run's folder), never where a machine kept it."""
    folder = os.path.abspath(folder).rstrip(os.sep)
    return text.replace(folder + os.sep, replacement).replace(folder, replacement or ".")
