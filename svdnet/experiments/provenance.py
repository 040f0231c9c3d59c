"""What produced a result: library versions, machine and commit."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess

LIBRARIES = (
    "svdnet", "tensorflow", "tensorflow-cpu", "keras", "tensorflow-datasets", "numpy",
    "scikit-learn", "pandas", "jax", "torch",
)


def library_versions() -> dict[str, str]:
    """Returns the installed version of each library in :data:`LIBRARIES` that is present."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


NUMERIC_FEATURES = re.compile(r"^(sse4_2|fma|f16c|avx.*|amx.*)$")
"""The CPU features that choose the kernels of oneDNN and XLA on x86: two machines named
alike ("AMD EPYC") train the same run to other numbers when these differ."""


def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The CPU's vector instruction sets (:data:`NUMERIC_FEATURES`) from ``cpuinfo``'s first
    ``flags`` line, sorted; empty where there is no such file (not Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted({flag for flag in flags if NUMERIC_FEATURES.match(flag)})
    except OSError:
        pass
    return []


def machine() -> dict:
    """Returns the host's OS, architecture, CPU model and vector instruction sets, core
    count and memory."""
    info = {
        "system": platform.system(),
        "release": platform.release(),
        "architecture": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_count": os.cpu_count(),
    }
    try:
        info["memory_gib"] = round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
        )
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import tensorflow as tf

        info["gpus"] = [device.name for device in tf.config.list_physical_devices("GPU")]
    except ImportError:
        pass
    return info


RESULT_FOLDERS = ("reports",)
"""Folders of the repository that hold results, not code: writing a result there does not
make the tree dirty for the next run."""

_CODE = [".", *(f":(exclude){folder}" for folder in RESULT_FOLDERS)]


def _git(arguments, path):
    return subprocess.run(["git", *arguments], cwd=path, capture_output=True, text=True,
                          check=True, timeout=30).stdout


def git_commit(path: str | None = None) -> str | None:
    """Returns the commit checked out at ``path`` (``+dirty`` when a tracked file outside
    :data:`RESULT_FOLDERS` is modified), or ``None`` outside a git repository.

    Args:
        path: A folder inside the repository. Defaults to this package's folder.
    """
    path = path or os.path.dirname(os.path.abspath(__file__))
    try:
        commit = _git(["rev-parse", "HEAD"], path).strip()
        top = _git(["rev-parse", "--show-toplevel"], path).strip()
        dirty = _git(["status", "--porcelain", "--untracked-files=no", "--", *_CODE],
                     top).strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def uncommitted_diff(path: str | None = None) -> str | None:
    """The ``git diff`` of the tracked files outside :data:`RESULT_FOLDERS` against the
    commit checked out at ``path``: what a result from a dirty tree ran beyond its commit
    (``None`` outside a git repository, ``""`` for a clean tree)."""
    path = path or os.path.dirname(os.path.abspath(__file__))
    try:
        top = _git(["rev-parse", "--show-toplevel"], path).strip()
        return _git(["diff", "HEAD", "--", *_CODE], top)
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict:
    """Returns versions, machine, commit and the UTC time, to store with a result; from
    a dirty tree (commit ``...+dirty``) also the ``diff`` that the run ran beyond the
    commit (:func:`uncommitted_diff`), so that no result rests on code nobody can see."""
    commit = git_commit()
    return {
        "versions": library_versions(),
        "machine": machine(),
        "commit": commit,
        **({"diff": uncommitted_diff()} if commit and commit.endswith("+dirty") else {}),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }
