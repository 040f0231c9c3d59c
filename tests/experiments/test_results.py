"""Atomic result files and provenance."""

import json
import os
import stat

import numpy as np
import pytest

from svdnet.experiments.provenance import provenance
from svdnet.experiments.results import CorruptResultError, read_json, write_json_atomic


def test_round_trip_converts_numpy_and_non_finite(tmp_path):
    path = tmp_path / "sub" / "run.json"
    write_json_atomic(path, {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan")})
    assert read_json(path) == {"a": 0.5, "b": [0, 1, 2], "c": None}
    assert os.listdir(tmp_path / "sub") == ["run.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "run.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert read_json(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["run.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_folder_is_named(tmp_path):
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(PermissionError, match=str(tmp_path)):
            write_json_atomic(tmp_path / "run.json", {"v": 1})
    finally:
        tmp_path.chmod(stat.S_IRWXU)


def test_unwritable_path_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="file"):
        write_json_atomic(blocker / "run.json", {"v": 1})


def test_truncated_file_is_reported_by_name(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"accuracy": 0.9})[:8])
    with pytest.raises(CorruptResultError, match="run.json.*corrupt or truncated"):
        read_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(CorruptResultError, match="holds a list"):
        read_json(path)


def test_provenance_records_versions_machine_and_commit():
    info = provenance()
    assert {"tensorflow-cpu", "keras", "numpy"} <= set(info["versions"]) or \
        {"tensorflow", "keras", "numpy"} <= set(info["versions"])
    assert info["machine"]["cpu_count"] >= 1
    assert "commit" in info and info["created_utc"].endswith("+00:00")


def test_result_file_is_readable_by_others_like_a_normal_file(tmp_path):
    path = tmp_path / "run.json"
    old = os.umask(0o022)
    try:
        write_json_atomic(path, {"v": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
