"""Where the project's notebooks and reports are, relative to this package."""

import os

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The project folder: the one holding ``svdnet/``, ``notebooks/`` and ``reports/``."""

NOTEBOOKS = os.path.join(PROJECT_ROOT, "notebooks")
REPORTS = os.path.join(PROJECT_ROOT, "reports")
GRID_RESULTS = os.path.join(REPORTS, "grid", "results")
