"""Result files: one JSON document per run, written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np


class CorruptResultError(ValueError):
    """Raised when a result file cannot be parsed."""


def _plain(value):
    """Converts numpy scalars and arrays into JSON types; NaN and inf into None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_text_atomic(path: str | os.PathLike, text: str) -> str:
    """Writes ``text`` so that ``path`` is either absent, old, or complete.

    The text goes to a temporary file in the same folder, is flushed to disk, and is
    then renamed over ``path`` (an atomic operation on POSIX and Windows), so a process
    killed at any moment never leaves a half-written file.

    Args:
        path: Destination file. Its folder is created when missing.
        text: The contents.

    Returns:
        The destination path as a string.

    Raises:
        PermissionError: if the folder is not writable or cannot be created (a path
            through a file), naming the folder.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    except OSError as error:  # not writable, or a path through a file
        reason = "the folder is not writable" if isinstance(error, PermissionError) else (
            error.strerror or type(error).__name__)
        raise PermissionError(
            f"Cannot write results to {folder!r}: {reason}. Choose another results folder."
        ) from error
    try:
        # mkstemp creates the file private (0600); give it the permissions of a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, payload: dict) -> str:
    """Writes ``payload`` as JSON, atomically (see :func:`write_text_atomic`).

    Args:
        path: Destination file. Its folder is created when missing.
        payload: A JSON-serialisable dict (numpy values are converted; NaN and infinity
            become ``null``).

    Returns:
        The destination path as a string.
    """
    return write_text_atomic(path, json.dumps(_plain(payload), indent=2, sort_keys=True))


def read_json(path: str | os.PathLike) -> dict:
    """Reads a result file.

    Raises:
        CorruptResultError: if the file is not a complete JSON object, naming the file.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as stream:
            payload = json.load(stream)
    except json.JSONDecodeError as error:
        raise CorruptResultError(
            f"Result file {path!r} is corrupt or truncated ({error}); delete it and rerun "
            "that run."
        ) from error
    if not isinstance(payload, dict):
        raise CorruptResultError(
            f"Result file {path!r} holds a {type(payload).__name__}, expected a JSON object."
        )
    return payload
