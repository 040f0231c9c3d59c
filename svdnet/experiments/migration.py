"""The one-off migration of sweep result files to whole configurations.

Result files written before every run option existed store only the fields their version
of :class:`svdnet.experiments.config.RunConfig` had. The migration writes each file's
:func:`svdnet.experiments.config.full_config` (the missing fields at their defaults, which
is what those runs trained with) into its ``config`` and ``run.config``, so that a run's
identity is read from its file, never from its name. It also renames the parameter
counts' key ``factorised`` (the British spelling files were written with) to
``factorized``, the one spelling of the code. A run that truncated nothing (dense, small,
lowrank) stored its final spectra twice, as ``spectra.before`` and ``spectra.after``; its
``before`` becomes ``null``, as the sweep now writes it. Nothing else in a file changes, a
file already migrated is left untouched, and running it twice changes nothing more.

    python -m svdnet.experiments.migration reports/grid/results reports/grid/earlier/results

The grid's run pages rendered before pages carried their notebook's Papermill parameters
(:func:`svdnet.experiments.render.embed_parameters`) are given the parameters their names
encode, once (:func:`migrate_pages`), so that the landing page reads every page's
parameters from the page:

    python -m svdnet.experiments.migration --pages reports/grid/html
"""

from __future__ import annotations

import copy
import glob
import os
import re
import sys

from svdnet.experiments.config import METHODS, RunConfig, full_config
from svdnet.experiments.options import options_pattern, read_options
from svdnet.experiments.render import embed_parameters, page_parameters
from svdnet.experiments.results import read_json, write_json_atomic, write_text_atomic


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


LEGACY_KEYS = {"factorised": "factorized"}
"""Keys of the parameter counts (``run.params``, ``baseline.params`` and their
``layers``) written under an older name, and their name now."""


def _renamed_keys(record) -> bool:
    """Renames :data:`LEGACY_KEYS` in the parameter counts of one run record, in place;
    ``True`` when something was renamed."""
    params = record.get("params") if isinstance(record, dict) else None
    if not isinstance(params, dict):
        return False
    layers = params.get("layers")
    counts = [params] + (list(layers.values()) if isinstance(layers, dict) else [])
    renamed = False
    for count in counts:
        for old, new in LEGACY_KEYS.items():
            if isinstance(count, dict) and old in count:
                if new in count:
                    raise ValueError(f"parameter counts hold both {old!r} and {new!r}")
                count[new] = count.pop(old)
                renamed = True
    return renamed


def _dropped_repeated_spectra(payload: dict) -> bool:
    """Sets ``spectra.before`` of one result to ``None`` when it repeats
    ``spectra.after`` (nothing was truncated), in place; returns whether it did."""
    spectra = payload.get("spectra")
    if (not isinstance(spectra, dict) or spectra.get("before") is None
            or spectra.get("before") != spectra.get("after")):
        return False
    spectra["before"] = None
    return True


def _checked(path: str, payload: dict) -> dict:
    """The full config of ``payload`` (:func:`_full_config`), once its keys are known to
    rename cleanly; raises ``ValueError`` naming the file otherwise."""
    full = _full_config(path, payload)
    try:
        for part in (payload["run"], payload.get("baseline")):
            _renamed_keys(copy.deepcopy(part))
    except ValueError as error:
        raise ValueError(f"{path!r}: {error}. Nothing was changed.") from error
    return full


def migrate_result(path: str) -> bool:
    """Writes the full config into the sweep result file ``path``, renames its
    :data:`LEGACY_KEYS`, and stores its spectra once when nothing was truncated.

    Args:
        path: A sweep result file (one with ``config`` and ``run``).

    Returns:
        ``True`` when the file was rewritten, ``False`` when it already held its full
        config, no legacy key and no repeated spectra.

    Raises:
        CorruptResultError: when the file is not a JSON object.
        ValueError: naming the file when it is not a sweep result (no ``config`` or
            ``run``) or its config is not one :class:`RunConfig` accepts; the file is
            left as it was.
    """
    payload = read_json(path)
    full = _checked(path, payload)
    run = payload["run"]
    changed = (_renamed_keys(run) | _renamed_keys(payload.get("baseline"))
               | _dropped_repeated_spectra(payload))
    if payload["config"] == full and run.get("config", full) == full and not changed:
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
        _checked(path, read_json(path))
    return [path for path in paths if migrate_result(path)]


_LEGACY_PAGE_NAME = re.compile(
    r"^(?P<dataset>.+?)-(?P<method>" + "|".join(METHODS) + r")-e(?P<epochs>\d+)"
    r"(?:-n(?P<train_size>\d+))?" + options_pattern() + r"-seed(?P<seed>\d+)"
    r"(?:-r(?P<ranks>[\d.]+(?:-[\d.]+)*))?(?:-e(?P<energies>[\d.]+(?:-[\d.]+)*))?"
    r"(?:-p(?P<budgets>[\d.]+(?:-[\d.]+)*))?$"
)


def legacy_page_fields(name: str) -> dict | None:
    """Reads back what :attr:`svdnet.experiments.grid.Group.name` wrote into the name of a
    page rendered before pages carried their parameters (used once, by
    :func:`migrate_pages`): ``"mnist-lowrank-e10-seed0-r1-2-5.html"``
    -> ``{"dataset": "mnist", "method": "lowrank", "epochs": 10, "output_layer": "auto",
    "distill": 0.0, "temperature": 4.0, "weight_decay": 0.0, "train_size": 0, "seed": 0,
    "ranks": (1.0, 2.0, 5.0), "energies": (), "budgets": ()}``.

    Args:
        name: A file name (any extension, folder ignored) of an executed notebook of the
            grid or of its page.

    Returns:
        The fields, or ``None`` when the name is not one the runner writes (an
        interrupted or failed execution, another notebook).
    """
    stem = os.path.splitext(os.path.basename(name))[0]
    match = _LEGACY_PAGE_NAME.match(stem)
    if match is None:
        return None

    def values(key):
        text = match.group(key)
        return tuple(float(value) for value in text.split("-")) if text else ()

    return {"dataset": match.group("dataset"), "method": match.group("method"),
            "epochs": int(match.group("epochs")), **read_options(match.groupdict()),
            "train_size": int(match.group("train_size") or 0), "seed": int(match.group("seed")),
            "ranks": values("ranks"), "energies": values("energies"),
            "budgets": values("budgets")}


def migrate_pages(html_dir: str) -> list[str]:
    """Gives each run page of ``html_dir`` that carries no parameters the fields its name
    encodes (:func:`legacy_page_fields`), with lists for ``ranks``, ``energies`` and
    ``budgets``; pages that carry parameters, and pages whose names the runner did not
    write, are left as they are.

    Args:
        html_dir: A folder of the grid's run pages (``reports/grid/html``).

    Returns:
        The pages rewritten, sorted.

    Raises:
        FileNotFoundError: naming ``html_dir`` when it is not a folder.
    """
    if not os.path.isdir(html_dir):
        raise FileNotFoundError(f"No page folder at {html_dir!r}.")
    changed = []
    for path in sorted(glob.glob(os.path.join(html_dir, "*.html"))):
        fields = legacy_page_fields(path)
        if fields is None or page_parameters(path) is not None:
            continue
        with open(path, encoding="utf-8") as stream:
            page = stream.read()
        parameters = {key: list(value) if isinstance(value, tuple) else value
                      for key, value in fields.items()}
        write_text_atomic(path, embed_parameters(page, parameters))
        changed.append(path)
    return changed


def main(argv=None) -> int:
    """The command line: migrates each result folder named, or with ``--pages`` each
    folder of run pages; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    pages = argv[:1] == ["--pages"]
    folders = argv[1:] if pages else argv
    if not folders or any(folder.startswith("-") for folder in folders):
        print("usage: python -m svdnet.experiments.migration [--pages] FOLDER [...]; "
              f"received {argv}", file=sys.stderr)
        return 2
    for folder in folders:
        try:
            changed = migrate_pages(folder) if pages else migrate_folder(folder)
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        what = ("page(s) given their parameters" if pages
                else "file(s) migrated (full config, key names, spectra stored once)")
        print(f"{folder}: {len(changed)} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
