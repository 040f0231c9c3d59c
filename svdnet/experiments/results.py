"""Result files: one JSON document per run, written atomically."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile

import numpy as np

from svdnet.experiments.config import method_label
from svdnet.rank_selection import rank_request


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yields a temporary path beside ``path``, renamed over ``path`` when the block ends.

    The one way svdnet writes a file that must never be seen half-written (result
    files, weight snapshots, saved models): whatever the block writes to the yielded
    path replaces ``path`` in one rename (atomic on POSIX and Windows) only when the
    block finishes; if it raises, or the process is killed, ``path`` is untouched and
    the temporary file is removed (or, after a kill, left as a hidden ``.tmp-*`` file).

    Args:
        path: Destination file. Its folder is created when missing.
        suffix: Ending the temporary file needs (for example ``".weights.h5"``, which
            Keras checks). Defaults to ``""``.

    Raises:
        PermissionError: if the folder is not writable or cannot be created (a path
            through a file), naming the folder.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    except OSError as error:  # not writable, or a path through a file
        reason = "the folder is not writable" if isinstance(error, PermissionError) else (
            error.strerror or type(error).__name__)
        raise PermissionError(
            f"Cannot write results to {folder!r}: {reason}. Choose another results folder."
        ) from error
    os.close(handle)
    try:
        # mkstemp creates the file private (0600); give it the permissions of a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        yield temporary
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"Cannot write {path!r}: it is a folder. Remove it or choose another path.")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> str:
    """Writes ``text`` so that ``path`` is either absent, old, or complete.

    The text is flushed to disk in a temporary file that then replaces ``path``
    (see :func:`atomic_path`).

    Args:
        path: Destination file. Its folder is created when missing.
        text: The contents.

    Returns:
        The destination path as a string.

    Raises:
        PermissionError: if the folder is not writable or cannot be created, naming it.
    """
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    return os.fspath(path)


def write_json_atomic(path: str | os.PathLike, payload: dict) -> str:
    """Writes ``payload`` as JSON, atomically (see :func:`write_text_atomic`).

    Args:
        path: Destination file. Its folder is created when missing.
        payload: A JSON-serialisable dict (numpy values are converted; NaN and infinity
            become ``null``).

    Returns:
        The destination path as a string.
    """
    # Compact: a sweep's spectra and histories are most of reports/' weight
    # (python -m json.tool FILE shows one indented).
    return write_text_atomic(path, json.dumps(_plain(payload), sort_keys=True,
                                              separators=(",", ":")))


def read_json(path: str | os.PathLike) -> dict:
    """Reads a result file.

    Raises:
        CorruptResultError: if the file is not a complete JSON object, naming the file.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as stream:
            payload = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptResultError(
            f"Result file {path!r} is corrupt or truncated ({error}); delete it and rerun "
            "that run."
        ) from error
    if not isinstance(payload, dict):
        raise CorruptResultError(
            f"Result file {path!r} holds a {type(payload).__name__}, expected a JSON object."
        )
    return payload


def read_result(path: str | os.PathLike) -> dict:
    """Reads a sweep result file and checks that the report can read it.

    Returns:
        The parsed document.

    Raises:
        CorruptResultError: if the file is not JSON, not UTF-8, or lacks a field the
            report needs (see :func:`result_row`), naming the file.
    """
    payload = read_json(path)
    result_row(payload, os.fspath(path))
    return payload


def is_finished(path: str | os.PathLike) -> bool:
    """True when the result file at ``path`` exists and the report can read it.

    The runner skips a run exactly when this is true; anything else (missing, truncated,
    another schema) is run again and the file replaced.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False
    try:
        read_result(path)
    except CorruptResultError:
        return False
    return True


def result_row(payload: dict, path: str) -> dict:
    """Returns the fields of a sweep result that the report reads, as one table row.

    The one definition of a readable (finished) result: the runner counts a run as
    finished exactly when this succeeds on its file, and the report reads its rows with
    it.

    Args:
        payload: The parsed result file.
        path: Its path, for messages and the ``file`` column.

    Raises:
        CorruptResultError: when a field is missing or invalid, naming the file.
    """
    try:
        config, run = payload["config"], payload["run"]
        choice, value = run_choice(config)
        return {
            "dataset": config["dataset"],
            "method": method_label(config["method"], config.get("output_layer", "auto"),
                                   config.get("distill", 0.0), config.get("weight_decay", 0.0),
                                   config.get("anneal_epochs", 0),
                                   config.get("allocation", "energy"),
                                   config.get("lr_schedule", "constant")),
            "choice": choice,
            "value": value,
            "rank": config["rank"] if choice == "rank" else np.nan,
            "chosen ranks": run.get("chosen_ranks"),
            "seed": config["seed"],
            "epochs": config["epochs"],
            "finetune epochs": config.get("finetune_epochs", np.nan),
            "test accuracy": run["test_accuracy"],
            "test loss": run["test_loss"],
            "train accuracy": _last(run.get("history", {}).get("accuracy")),
            "parameters": run["params"]["dense"],
            "factorised parameters": run["params"]["factorised"],
            "compression": run["params"]["ratio"],
            "width": run["params"].get("width", np.nan),
            "train s": run["train_seconds"],
            "svd s": run["svd_seconds"],
            "wall s": payload.get("wall_seconds", np.nan),
            "commit": payload.get("provenance", {}).get("commit"),
            "file": os.path.basename(path),
        }
    except KeyError as error:
        raise CorruptResultError(
            f"Result file {path!r} lacks the field {error}; it was not written by this "
            "version of svdnet's sweep. Delete it and rerun that run."
        ) from error
    except (TypeError, ValueError, AttributeError) as error:
        raise CorruptResultError(
            f"Result file {path!r} holds an invalid value: {error} It was not written by "
            "this version of svdnet's sweep. Delete it and rerun that run."
        ) from error


def _last(values) -> float:
    """The last of a per-epoch history, or ``NaN`` when there is none."""
    return float(values[-1]) if values else np.nan


def run_choice(config: dict) -> tuple[str, float]:
    """How a run chose its ranks: ``("dense", nan)``, ``("rank", k)``, ``("energy", x)``,
    ``("budget", n)`` or ``("per_layer", nan)``, as :func:`rank_request` decides it.
    Results written before energy and budget existed count as a rank choice."""
    if config["method"] == "dense":
        return "dense", np.nan
    request = rank_request(rank=config["rank"], energy=config.get("energy"),
                           budget=config.get("budget"))
    value = {"rank": request.rank, "energy": request.energy, "budget": request.budget,
             "per_layer": np.nan}[request.kind]
    return request.kind, float(value)
