"""Refusing notebook parameters a notebook does not declare.

Papermill only warns ("Passed unknown parameter") when ``-p`` names a parameter the
notebook's ``parameters`` cell does not declare, and the run goes on with the default:
``papermill notebooks/sweep.ipynb out.ipynb -p rnak 5`` trains at rank 20. The kernel
cannot see what Papermill injected (Papermill records it in the executed notebook's
metadata only), but it sees the result: the injected cell assigns each parameter as a
global. The parameters cell declares each parameter with a type annotation
(``rank: int = None  # ...``), which Python records in the notebook's
``__annotations__``; so a global holding a value Papermill can inject that is not
annotated there was injected under a name the notebook does not know.
"""

from __future__ import annotations

import difflib

INJECTABLE = (str, int, float, bool, list, dict, type(None))
"""Types of the values Papermill injects (``-p``, ``-r``, ``-y``, ``-f``)."""

OTHER_GLOBALS = ("In", "Out", "PM_INPUT_PATH", "PM_OUTPUT_PATH")
"""Globals of plain values that are not parameters: IPython's input and output history,
and the paths ``papermill --inject-paths`` adds."""


def check_notebook_parameters(namespace: dict, notebook: str = "this") -> None:
    """Raises when a notebook was given a parameter its parameters cell does not declare.

    Call it in the first code cell after the parameters cell, before that cell assigns
    any value of its own: ``check_notebook_parameters(globals(), "sweep")`` (imports bind
    modules, classes and functions, which are not parameters, so they may come first).

    Args:
        namespace: The notebook's globals.
        notebook: The notebook's name, for the message. Defaults to ``"this"``.

    Raises:
        ValueError: naming each unknown parameter (with the closest declared name, when
            one is close) and every parameter the notebook declares.
        RuntimeError: when the namespace holds no annotated parameter (the parameters
            cell declares each parameter as ``name: type = default``).
    """
    declared = sorted(namespace.get("__annotations__", {}))
    if not declared:
        raise RuntimeError(
            f"The {notebook} notebook declares no parameter with a type annotation; its "
            "parameters cell must declare each one as `name: type = default`.")
    unknown = sorted(name for name, value in namespace.items()
                     if not name.startswith("_") and name not in declared
                     and name not in OTHER_GLOBALS and isinstance(value, INJECTABLE))
    if unknown:
        hints = [f"{name!r} -> {close[0]!r}" for name in unknown
                 if (close := difflib.get_close_matches(name, declared, n=1))]
        raise ValueError(
            f"Unknown notebook parameter(s) {unknown}"
            + (f" (did you mean {', '.join(hints)}?)" if hints else "")
            + f"; the {notebook} notebook's parameters are: {', '.join(declared)}.")
