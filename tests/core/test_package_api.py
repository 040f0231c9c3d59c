"""svdnet.package_api: the package's names, at once or (for a command's --help) on use."""

import json
import os

import pytest

import svdnet.package_api as package_api
from svdnet.package_api import printing_help


@pytest.mark.parametrize("argv, expected", [
    (["python", "-m", "svdnet.experiments.grid", "--help"], True),
    (["python3.11", "-X", "importtime", "-m", "svdnet.experiments.grid", "-h"], True),
    (["python", "-m", "svdnet.experiments.post_training", "--model", "cnn", "--help"], True),
    (["python", "-m", "svdnet.experiments.grid", "--ranks", "3"], False),
    (["python", "-m", "svdnet.experiments.grid"], False),
    (["python", "-m", "pytest", "--help"], False),  # another program's help
    (["python", "-m"], False),
    (["python", "script.py", "--help"], False),
    (["python", "-c", "import svdnet", "--help"], False),
    ([], False),
])
def test_printing_help_only_for_a_svdnet_command_asked_for_its_usage(argv, expected):
    assert printing_help(argv) is expected


def test_this_process_is_not_printing_help():
    assert printing_help() is False


def test_names_are_loaded_at_once_unless_printing_help(monkeypatch):
    eager = {}
    package_api.package_api("pkg", {"json": ("dumps", "loads"), "os.path": ("join",)}, eager)
    assert eager["dumps"] is json.dumps and eager["join"] is os.path.join
    assert eager["__all__"] == ["dumps", "join", "loads"]

    monkeypatch.setattr(package_api, "printing_help", lambda: True)
    lazy = {}
    package_api.package_api("pkg", {"json": ("dumps", "loads")}, lazy)
    assert "dumps" not in lazy and lazy["__all__"] == ["dumps", "loads"]
    assert lazy["__getattr__"]("dumps") is json.dumps
    assert lazy["dumps"] is json.dumps  # kept: the module's __getattr__ is not asked again
    assert lazy["__dir__"]() == sorted({*lazy, "dumps", "loads"})
    with pytest.raises(AttributeError, match=r"module 'pkg' has no attribute 'dump'"):
        lazy["__getattr__"]("dump")


def test_every_public_name_is_loaded_and_listed():
    import svdnet

    assert set(svdnet.__all__) <= set(vars(svdnet))
    assert set(svdnet.__all__) <= set(dir(svdnet))
    with pytest.raises(AttributeError, match="no attribute 'factorise'"):
        svdnet.factorise  # noqa: B018
