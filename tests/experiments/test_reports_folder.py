"""What is committed under reports/ carries no path of the machine that built it."""

import glob
import os
import re

import pytest

from svdnet.experiments.paths import REPORTS, without_folder

ABSOLUTE = re.compile(r"""(?:^|[\s"'(=])(/(?:work|root|home|tmp|Users|mnt|opt|var|private|"""
                      r"""scratch|data|srv|usr|builds?|runner)/[^\s"'<>)]*)""")


def _files():
    for path in glob.glob(os.path.join(REPORTS, "**", "*"), recursive=True):
        if os.path.isfile(path) and not os.path.relpath(path, REPORTS).startswith("scratch"):
            yield path


def test_no_file_under_reports_holds_an_absolute_path():
    found = {}
    for path in _files():
        with open(path, encoding="utf-8", errors="replace") as stream:
            hits = ABSOLUTE.findall(stream.read())
        if hits:
            found[os.path.relpath(path, REPORTS)] = sorted(set(hits))[:3]
    assert not found, found


@pytest.mark.parametrize("text, expected", [
    ("written to /work/x/reports/r.json", "written to reports/r.json"),
    ('"input_path": "/work/x/notebooks/sweep.ipynb"', '"input_path": "notebooks/sweep.ipynb"'),
    ("cwd /work/x", "cwd ."),
])
def test_without_folder_makes_paths_project_relative(text, expected):
    assert without_folder(text, "/work/x") == expected


def test_the_scan_finds_what_it_looks_for():
    assert ABSOLUTE.findall('result written to /home/ana/svdnet/reports/grid/results/a.json')
    assert ABSOLUTE.findall('"cache_dir": "/tmp/svdnet-task-1/cache"')
    assert not ABSOLUTE.findall('see https://example.org/home/page and reports/grid/results')


LIMIT_BYTES = 25 * 2**20
"""reports/ as committed: every run's HTML page, result files, the report; at most 25 MiB."""


def _committed():
    import subprocess

    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", REPORTS], capture_output=True,
                                check=True, cwd=os.path.dirname(REPORTS)).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("reports/ is not in a git checkout")
    root = os.path.dirname(REPORTS)
    return [os.path.join(root, name) for name in listed.decode().split("\0") if name]


def test_committed_reports_stay_under_the_size_limit():
    files = [path for path in _committed() if os.path.exists(path)]
    total = sum(os.path.getsize(path) for path in files)
    assert files and total <= LIMIT_BYTES, f"reports/ holds {total / 2**20:.1f} MiB"


def test_no_image_is_committed_twice():
    # Pages embed their figures; the executed notebooks that hold the same figures are
    # working files (ignored), rebuilt by the runner and make report.
    notebooks = [path for path in _committed() if path.endswith(".ipynb")]
    assert not notebooks, notebooks[:3]
