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


def test_a_result_path_that_is_a_folder_is_named_and_nothing_is_left(tmp_path):
    folder = tmp_path / "run.json"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="run.json': it is a folder. Remove it"):
        write_json_atomic(folder, {"v": 1})
    assert sorted(os.listdir(tmp_path)) == ["run.json"] and not os.listdir(folder)


def test_bytes_that_are_not_utf8_are_a_corrupt_file_named_by_path(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(b'\xff\xfe{"run": 1}')
    with pytest.raises(CorruptResultError, match="run.json' is corrupt or truncated"):
        read_json(path)


def test_the_report_skips_a_non_utf8_file_when_asked(tmp_path):
    from svdnet.experiments.report import load_results

    (tmp_path / "bad.json").write_bytes(b"\x80\x81")
    frame, problems = load_results(str(tmp_path), on_corrupt="skip")
    assert frame.empty and len(problems) == 1 and "bad.json" in problems[0]
    with pytest.raises(CorruptResultError, match="bad.json"):
        load_results(str(tmp_path))
