"""Result files: one JSON document per run, written atomically."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile

import numpy as np

from svdnet.experiments.config import (
    ARCHITECTURES,
    METHODS,
    RunConfig,
    full_config,
    identity,
    model_token,
)
from svdnet.experiments.execution import follows_rule
from svdnet.experiments.options import METHOD_OPTIONS, method_label, option_tokens, option_values
from svdnet.rank_selection import rank_request, request_label
from svdnet.svd import DEFAULT_BACKEND


class CorruptResultError(ValueError):
    """Raised when a result file cannot be parsed, or holds a value a result cannot hold."""


class DuplicateResultError(CorruptResultError):
    """Raised when two result files hold the same run configuration (a stray copy)."""


class MixedRecipeError(ValueError):
    """Raised when runs that the report would average (the same dataset, method label,
    rank choice and epochs) differ in a setting it does not show."""


class ResultValueError(ValueError):
    """Raised by :func:`check_result` for a field a result record cannot hold.

    Attributes:
        field: The field's dotted path, for example ``"run.test_accuracy"``.
        value: The value found (:data:`MISSING` when the field is absent).
        allowed: What the field may hold, in words.
    """

    def __init__(self, field: str, value, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        if value is MISSING:
            super().__init__(f"the field {field!r} is missing ({allowed})")
        else:
            super().__init__(f"{field} = {value!r}; allowed: {allowed}")


MISSING = object()
"""The value of a field that a result record lacks (see :class:`ResultValueError`)."""


def result_name(config: RunConfig) -> str:
    """Returns the result file name of ``config``, unique per distinct run.

    For example ``mnist-projection-r20-5x1024-e10-b128-seed0.json`` (the MLP's depth and
    width; ``-cnn-`` or ``-vit-`` in their place for those architectures).
    """
    parts = [config.dataset, config.method]
    if config.method != "dense":
        parts.append(request_label(**config.rank_choice))
        if config.svd_method != DEFAULT_BACKEND and config.method != "small":  # no SVD in small
            parts.append(config.svd_method)
        if config.every != 1:
            parts.append(f"every{config.every}")
        if config.method == "finetune":
            parts.append(f"ft{config.finetune_epochs}")
        parts += option_tokens(config)
    parts += [model_token(config), f"e{config.epochs}", f"b{config.batch_size}"]
    if config.train_size:
        parts.append(f"n{config.train_size}")
    if not config.jit_compile:
        parts.append("nojit")
    if config.pipeline != "tf.data":
        parts.append(config.pipeline)
    parts.append(f"seed{config.seed}")
    return "-".join(parts) + ".json"


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


def write_result(path: str | os.PathLike, payload: dict) -> str:
    """Writes a result record, atomically, only when its check accepts it as it will be
    stored (numpy values converted, NaN and infinity as ``null``): a result that the
    runner would not count as finished is never written.

    Args:
        path: Destination file. Its folder is created when missing.
        payload: The record, checked by :func:`check_result`.

    Returns:
        The destination path as a string.

    Raises:
        ResultValueError: naming the first field that the check refuses; nothing is
            written.
    """
    stored = _plain(payload)
    check_result(stored)
    return write_json_atomic(path, stored)


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
    """True when the result file at ``path`` exists and reads back (:func:`read_result`):
    the one "finished" rule of the runner, for every architecture.

    A runner skips a run exactly when this is true; anything else (missing, truncated,
    another schema, a value its check refuses) is run again and the file replaced.

    Args:
        path: The run's result file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False
    try:
        read_result(path)
    except CorruptResultError:
        return False
    return True


SHOWN_FIELDS = ("architecture", "dataset", "method", "energy", "budget", "epochs", "seed")
"""The fields of a run's config that the report's rows tell apart (with one rank, the
options whose value the method label tells, :attr:`MethodOption.labelled`): every other
field is the run's :func:`recipe`."""


def recipe(config: dict) -> str:
    """The settings of a run that the report's rows do not tell apart (batch size,
    training examples, model shape, SVD backend, input pipeline, fine-tuning epochs, a
    distillation's weight and temperature, a per-layer rank map, ...), as canonical text,
    fields missing from an older file at their defaults: runs of one report row must share
    it (:func:`check_one_recipe`)."""
    shown = set(SHOWN_FIELDS) | {option.name for option in METHOD_OPTIONS if option.labelled}
    if not isinstance(config.get("rank"), dict):
        shown.add("rank")  # one rank is the row's value; a per-layer map is not shown
    return identity(config, without=shown)


def check_one_recipe(rows, keys) -> None:
    """Raises :class:`MixedRecipeError` when rows of the same ``keys`` (the report's row:
    architecture, dataset, method, choice, value, epochs) hold runs of different :func:`recipe`, naming
    the row, the files and the settings that differ.

    Args:
        rows: A ``pandas.DataFrame`` with ``keys``, ``recipe`` and ``file`` columns.
        keys: The columns of one report row.
    """
    for key, part in rows.groupby(list(keys), dropna=False):
        if part["recipe"].nunique() > 1:
            recipes = [json.loads(text) for text in part["recipe"].unique()]
            differ = sorted(name for name in set().union(*recipes)
                            if len({json.dumps(r.get(name), default=str) for r in recipes}) > 1)
            files = part.drop_duplicates("recipe")["file"].tolist()
            raise MixedRecipeError(
                f"The runs of {dict(zip(keys, key))} differ in {', '.join(differ)} "
                f"(for example {', '.join(files)}): the report would average them. Keep "
                "one setting per results folder (move the others to a folder of their own).")


def _corrupt(error: ResultValueError, path: str) -> CorruptResultError:
    """The error naming the file ``path`` whose check failed with ``error``."""
    if error.value is MISSING:
        return CorruptResultError(
            f"Result file {path!r} lacks the field {error.field!r} ({error.allowed}); "
            "it was not written by this version of svdnet's runner. Delete it and rerun "
            "that run.")
    return CorruptResultError(
        f"Result file {path!r} holds an invalid value: {error}. It was not written by "
        "a finished run of this version of svdnet's runner. Delete it and rerun that run.")


def machine_text(machine: dict) -> str:
    """``"AMD EPYC, 2 cores, 23.5 GiB, no GPU"`` from a result's provenance."""
    gpus = machine.get("gpus") or []
    return (f"{machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores, "
            f"{machine.get('memory_gib', '?')} GiB, {', '.join(gpus) if gpus else 'no GPU'}")


def _macs(layers) -> float:
    """The MACs per example of a result's ``layers`` or ``dense_layers`` (NaN when the
    file predates them)."""
    return sum(layer["macs"] for layer in layers.values()) if layers else np.nan


def result_row(payload: dict, path: str) -> dict:
    """Returns the fields of a sweep result that the report reads, as one table row.

    The one definition of a readable (finished) result: the runner counts a run as
    finished exactly when this succeeds on its file, and the report reads its rows with
    it.

    Args:
        payload: The parsed result file.
        path: Its path, for messages and the ``file`` column.

    Raises:
        CorruptResultError: when a field is missing or invalid (see :func:`check_result`),
            naming the file, the field, the value and what is allowed.
    """
    try:
        check_result(payload)
    except ResultValueError as error:
        raise _corrupt(error, path) from error
    try:
        config, run = full_config(payload["config"]), payload["run"]
        choice, value = run_choice(config)
        provenance, inference = payload.get("provenance", {}), payload.get("inference", {})
        return {
            "architecture": config["architecture"],
            "dataset": config["dataset"],
            "method": method_label(config["method"], **option_values(config)),
            "choice": choice,
            "value": value,
            "rank": config["rank"] if choice == "rank" else np.nan,
            "chosen ranks": run.get("chosen_ranks"),
            "seed": config["seed"],
            "epochs": config["epochs"],
            "finetune epochs": config["finetune_epochs"],
            "test accuracy": run["test_accuracy"],
            "test loss": run["test_loss"],
            "train accuracy": _last(run.get("history", {}).get("accuracy")),
            "parameters": run["params"]["dense"],
            "factorized parameters": run["params"]["factorized"],
            "compression": run["params"]["ratio"],
            "width": run["params"].get("width", np.nan),
            "train s": run["train_seconds"],
            "svd s": run["svd_seconds"],
            "wall s": payload.get("wall_seconds", np.nan),
            # the deployment costs (svdnet.experiments.sweep.deployment_costs), NaN in
            # files that predate them
            "macs": _macs(payload.get("layers")),
            "dense macs": _macs(payload.get("dense_layers")),
            "inference s": inference.get("seconds", np.nan),
            "dense inference s": inference.get("dense_seconds", np.nan),
            "commit": provenance.get("commit"),
            "machine": machine_text(provenance.get("machine", {})),
            "keras": provenance.get("versions", {}).get("keras"),
            "execution rule": follows_rule(payload.get("execution")),
            "recipe": recipe(config),
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


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FRACTION = (lambda v: _number(v) and 0 <= v <= 1, "a finite number from 0 to 1")
_NON_NEGATIVE = (lambda v: _number(v) and v >= 0, "a finite number >= 0")
_POSITIVE = (lambda v: _number(v) and v > 0, "a finite number > 0")
_COUNT = (lambda v: _integer(v) and v >= 1, "an integer >= 1")
_OBJECT_OR_NULL = (lambda v: v is None or isinstance(v, dict), "a JSON object or null")
_RESULT_FIELDS = (
    # (dotted path, required, (test, allowed in words))
    ("config", True, (lambda v: isinstance(v, dict), "a JSON object")),
    ("config.dataset", True, (lambda v: isinstance(v, str) and bool(v), "a dataset name")),
    ("config.method", True, (lambda v: v in METHODS, f"one of {', '.join(METHODS)}")),
    ("config.architecture", False, (lambda v: v in ARCHITECTURES,
                                    f"one of {', '.join(ARCHITECTURES)}")),
    ("config.seed", True, (lambda v: _integer(v) and v >= 0, "an integer >= 0")),
    ("config.epochs", True, _COUNT),
    ("config.finetune_epochs", False, _COUNT),
    ("quick", False, (lambda v: isinstance(v, bool), "true or false")),
    ("run", True, (lambda v: isinstance(v, dict), "a JSON object")),
    ("run.test_accuracy", True, _FRACTION),
    ("run.test_loss", True, _NON_NEGATIVE),
    ("run.history", False, _OBJECT_OR_NULL),  # null: posthoc trains nothing after truncating
    ("run.history.accuracy", False,
     (lambda v: isinstance(v, list) and all(_FRACTION[0](item) for item in v),
      "a list of finite numbers from 0 to 1")),
    ("run.params", True, (lambda v: isinstance(v, dict), "a JSON object")),
    ("run.params.dense", True, _COUNT),
    ("run.params.factorized", True, _COUNT),
    ("run.params.ratio", True, _POSITIVE),
    # the small MLP's hidden width, or the small CNN's or ViT's width multiplier
    ("run.params.width", False, (lambda v: _COUNT[0](v) or (isinstance(v, float)
                                                            and _number(v) and 0 < v <= 1),
                                 "an integer >= 1 (a width) or a number in (0, 1] (a "
                                 "multiplier)")),
    ("run.chosen_ranks", False, _OBJECT_OR_NULL),
    ("run.ranks", False, _OBJECT_OR_NULL),
    ("run.train_seconds", True, _NON_NEGATIVE),
    ("run.svd_seconds", True, _NON_NEGATIVE),
    ("baseline", False, _OBJECT_OR_NULL),  # null: no baseline trained
    ("baseline.test_accuracy", False, _FRACTION),
    # the deployment costs (svdnet.experiments.sweep.deployment_costs), in later files
    ("layers", False, (lambda v: isinstance(v, dict), "a JSON object")),
    ("dense_layers", False, (lambda v: isinstance(v, dict), "a JSON object")),
    ("inference.seconds", False, _POSITIVE),
    ("inference.dense_seconds", False, _POSITIVE),
    ("wall_seconds", False, _NON_NEGATIVE),
)
"""What each field of a result record may hold: the rule of :func:`check_result`."""

def _check_fields(payload, rules) -> None:
    """Checks ``payload`` against a table of ``(field, required, (test, allowed))``."""
    if not isinstance(payload, dict):
        raise ResultValueError("(the record)", payload, "a JSON object")
    for field, required, (test, allowed) in rules:
        value = _lookup(payload, field)
        if value is MISSING:
            if required:
                raise ResultValueError(field, MISSING, allowed)
            continue
        if not test(value):
            raise ResultValueError(field, value, allowed)


def _lookup(payload: dict, field: str):
    value = payload
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def check_result(payload: dict) -> None:
    """Checks a sweep result record: the one definition of a valid result.

    The sweep checks each record with it before writing it (a run that fails it writes
    no result), the runner counts a run as finished only when its file passes it (see
    :func:`is_finished`), and the report and the site read only files that pass it (see
    :func:`result_row`).

    A record must hold finite numbers where numbers are measured: accuracies from 0 to 1,
    losses and times >= 0, parameter counts >= 1, a compression ratio > 0, a seed >= 0,
    ``epochs`` >= 1, a known method; optional fields are checked when present. Every
    compressed layer's measured rank (``run.ranks``) is at most the rank chosen for it
    (``run.chosen_ranks``).

    Args:
        payload: The record (a parsed result file, or what the sweep is about to write).

    Raises:
        ResultValueError: for the first field that is missing or holds what it cannot,
            naming the field, the value and what is allowed.
    """
    _check_fields(payload, _RESULT_FIELDS)
    ranks, chosen = payload["run"].get("ranks") or {}, payload["run"].get("chosen_ranks") or {}
    for name, limit in sorted(chosen.items()):
        if limit is not None and name in ranks:
            if not (_integer(limit) and limit >= 1):
                raise ResultValueError(f"run.chosen_ranks.{name}", limit,
                                       "an integer >= 1, or null for a layer left dense")
            if not _integer(ranks[name]) or ranks[name] > limit:
                raise ResultValueError(
                    f"run.ranks.{name}", ranks[name],
                    f"an integer at most the layer's chosen rank {limit} (the kernel's "
                    "measured rank cannot exceed the rank it was compressed to)")


def check_not_duplicate(payload: dict, path: str, seen: dict) -> None:
    """Refuses a second result file of the same run: a stray copy under another name.

    Runs are told apart by the configuration stored in the file, not by file names.

    Args:
        payload: The parsed result file (valid by :func:`check_result`).
        path: Its path, for the message.
        seen: Configuration key to the path of the file that holds it; ``path`` is added
            when its configuration is new.

    Raises:
        DuplicateResultError: naming both files, and the name the runner gives the run
            when it can be told.
    """
    config = payload["config"]
    try:
        key = identity(config)  # an older file's config, its defaults filled in, is the same run
    except (TypeError, ValueError):
        key = json.dumps(config, sort_keys=True)  # a configuration of another version
    if key not in seen:
        seen[key] = path
        return
    first = seen[key]
    hint = ""
    try:
        hint = f" (the runner names this run {result_name(RunConfig(**config))!r})"
    except (TypeError, ValueError):
        pass  # a configuration of another version: no name to suggest
    raise DuplicateResultError(
        f"Result files {first!r} and {path!r} hold the same run configuration (dataset "
        f"{config.get('dataset')!r}, method {config.get('method')!r}, seed "
        f"{config.get('seed')!r}): one is a copy, and a run counts once. Keep the file the "
        f"runner wrote{hint} and delete the other.")


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
