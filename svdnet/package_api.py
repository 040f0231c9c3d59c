"""A package's public names, imported at once, or on first use while Python only prints
a svdnet command's ``--help``."""

from __future__ import annotations

import importlib
import sys

HELP_FLAGS = ("-h", "--help")
"""The flags with which argparse prints a command's usage and exits."""


def printing_help(argv=None) -> bool:
    """Returns whether Python was started as ``python -m svdnet.<module> ... --help``.

    Args:
        argv: The interpreter's command line. Defaults to ``None``: ``sys.orig_argv``
            (Python's own arguments included, such as ``-m``).
    """
    argv = list(getattr(sys, "orig_argv", ()) if argv is None else argv)
    if "-m" not in argv:
        return False
    index = argv.index("-m")
    module, arguments = argv[index + 1:index + 2], argv[index + 2:]
    return (bool(module) and module[0].startswith("svdnet.")
            and any(flag in arguments for flag in HELP_FLAGS))


def package_api(package: str, api: dict, namespace: dict) -> None:
    """Gives the package ``package`` the names of ``api``: its ``__all__``, and a module
    ``__getattr__`` and ``__dir__`` that import each name's module on first use.

    Every name is imported at once, unless :func:`printing_help`: a command then prints its
    usage without loading Keras and TensorFlow (seconds, and TensorFlow's start-up log
    lines). Importing at once registers svdnet's layers with Keras' serialization, so a
    saved model loads with ``keras.saving.load_model`` after a plain ``import svdnet``.

    Args:
        package: The package's name (its ``__name__``).
        api: Module name to the tuple of names the package takes from it.
        namespace: The package's ``globals()``, which receives the names.
    """
    module_of = {name: module for module, names in api.items() for name in names}

    def __getattr__(name):
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of[name]), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted({*namespace, *module_of})

    namespace.update(__all__=sorted(module_of), __getattr__=__getattr__, __dir__=__dir__)
    if not printing_help():
        for name in module_of:
            __getattr__(name)
