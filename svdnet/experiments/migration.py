"""The one-off migration of sweep result files to whole configurations.

Result files written before every run option existed store only the fields their version
of :class:`svdnet.experiments.config.RunConfig` had. The migration writes each file's
:func:`svdnet.experiments.config.full_config` (the missing fields at their defaults, which
is what those runs trained with) into its ``config`` and ``run.config``, so that a run's
identity is read from its file, never from its name. Nothing else in a file changes, a
file already whole is left untouched, and running it twice changes nothing more.

    python -m svdnet.experiments.migration reports/grid/results reports/grid/earlier/results
"""

from __future__ import annotations

import glob
import os
import sys

from svdnet.experiments.config import RunConfig, full_config
from svdnet.experiments.results import read_json, write_json_atomic


def _full_config(path: str, payload: dict) -> dict:
    """The full config of the sweep result ``payload`` read from ``path``; raises
    ``ValueError`` naming the file when it is not a sweep result or its config cannot be
    completed."""
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("run"), dict):
        raise ValueError(f"{path!r} is not a sweep result file (it has no 'config' and 'run' "
                         "objects); the migration reads only those. Nothing was changed.")
    try:
        full = full_config(payload["config"])
        RunConfig(**full)  # the values too: only a config a run could have had is written
        twin = full_config(payload["run"].get("config", full))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path!r} holds a config the migration cannot complete: {error} "
                         "Nothing was changed.") from error
    if twin != full:
        raise ValueError(f"{path!r} holds two different configs ('config' and 'run.config'); "
                         "it was not written by svdnet's sweep. Nothing was changed.")
    return full


def migrate_result(path: str) -> bool:
    """Writes the full config into the sweep result file ``path``.

    Args:
        path: A sweep result file (one with ``config`` and ``run``).

    Returns:
        ``True`` when the file was rewritten, ``False`` when it already held its full
        config.

    Raises:
        CorruptResultError: when the file is not a JSON object.
        ValueError: naming the file when it is not a sweep result (no ``config`` or
            ``run``) or its config is not one :class:`RunConfig` accepts; the file is
            left as it was.
    """
    payload = read_json(path)
    full = _full_config(path, payload)
    run = payload["run"]
    if payload["config"] == full and run.get("config", full) == full:
        return False
    payload["config"] = full
    if "config" in run:
        run["config"] = full
    write_json_atomic(path, payload)
    return True


def migrate_folder(folder: str) -> list[str]:
    """Migrates every ``*.json`` result file of ``folder`` (see :func:`migrate_result`).

    Every file is checked before any is written, so a folder with one file the migration
    cannot read is left as it was.

    Args:
        folder: A folder of sweep result files.

    Returns:
        The paths rewritten, sorted.

    Raises:
        FileNotFoundError: naming ``folder`` when it is not a folder.
        ValueError: naming the first file that cannot be migrated.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"No result folder at {folder!r}.")
    paths = sorted(glob.glob(os.path.join(folder, "*.json")))
    for path in paths:  # all or nothing: refuse before the first write
        _full_config(path, read_json(path))
    return [path for path in paths if migrate_result(path)]


def main(argv=None) -> int:
    """The command line: migrates each folder named; returns the exit status."""
    folders = sys.argv[1:] if argv is None else list(argv)
    if not folders:
        print("usage: python -m svdnet.experiments.migration RESULTS_FOLDER [...]",
              file=sys.stderr)
        return 2
    for folder in folders:
        try:
            changed = migrate_folder(folder)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{folder}: {len(changed)} file(s) given their full config")
    return 0


if __name__ == "__main__":
    sys.exit(main())
