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
