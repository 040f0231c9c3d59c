"""One Papermill execution of a notebook, started again when its kernel never started.

Kernels started at the same moment in different processes (the grid's ``--workers``, a
Dask cluster) can race for the same free ports: jupyter_client picks a port by binding
and releasing it, and another process may take it before the kernel binds it. The
kernel then dies before it answers its first message, and nbclient raises
``RuntimeError("Kernel died before replying to kernel_info")`` (or "Kernel didn't
respond in N seconds") before any cell ran (nteract/papermill#239, jupyter/jupyter_client#154).
Nothing was computed, so starting the notebook again loses and repeats nothing. An error
raised once cells run (a failed run, a kernel killed mid-run) is never retried here.
"""

from __future__ import annotations

import time

KERNEL_START_ATTEMPTS = 3
"""How many times a notebook is started when its kernel dies before answering."""

KERNEL_START_MESSAGES = ("Kernel died before replying to kernel_info", "Kernel didn't respond")
"""The starts of jupyter_client's messages for a kernel that never answered."""


def kernel_never_started(error: BaseException) -> bool:
    """Whether ``error`` is jupyter_client's error for a kernel that never answered its
    first message (so no cell ran)."""
    return isinstance(error, RuntimeError) and str(error).startswith(KERNEL_START_MESSAGES)


def execute_notebook(source: str, output: str, parameters: dict, cwd: str,
                     attempts: int = KERNEL_START_ATTEMPTS, log=None, wait: float = 1.0):
    """Runs ``source`` into ``output`` through Papermill with ``parameters``.

    Args:
        source: The notebook to run.
        output: Where the executed notebook is written.
        parameters: Papermill parameters.
        cwd: The kernel's working folder.
        attempts: Starts allowed when the kernel dies before it answers (an integer
            >= 1). Defaults to :data:`KERNEL_START_ATTEMPTS`.
        log: Called with a line when a start is retried. Defaults to ``None`` (silent).
        wait: Seconds before the next start, times the attempt number. Defaults to 1.

    Returns:
        What ``papermill.execute_notebook`` returns.

    Raises:
        ValueError: ``attempts`` is not an integer >= 1.
        RuntimeError: The kernel died before answering on every attempt (the last
            error), or any error of the execution itself, at once.
    """
    import papermill

    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be an integer >= 1; received {attempts!r}.")
    for attempt in range(1, attempts + 1):
        try:
            return papermill.execute_notebook(source, output, parameters=parameters,
                                              progress_bar=False, cwd=cwd)
        except RuntimeError as error:
            if not kernel_never_started(error) or attempt == attempts:
                raise
            if log is not None:
                log(f"{output}: the kernel died before it answered ({error}); "
                    f"starting it again ({attempt + 1} of {attempts}).")
            time.sleep(wait * attempt)
