"""A notebook whose kernel died before answering is started again; nothing else is."""

import json

import papermill
import pytest

from svdnet.experiments.notebook_execution import (
    KERNEL_START_ATTEMPTS,
    execute_notebook,
    kernel_never_started,
)

DIED = RuntimeError("Kernel died before replying to kernel_info")
SILENT = RuntimeError("Kernel didn't respond in 60 seconds")


def _papermill(monkeypatch, failures):
    """Replaces papermill's execution by one that raises ``failures`` in turn, then
    writes the output; returns the list of calls."""
    calls = []

    def fake(source, output, parameters=None, **kwargs):
        calls.append((source, output, parameters, kwargs))
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        with open(output, "w") as stream:
            json.dump({"ran": parameters}, stream)
        return "executed"

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    return calls


@pytest.mark.parametrize("error", [DIED, SILENT])
def test_a_kernel_that_died_before_answering_is_started_again(monkeypatch, tmp_path, error):
    calls = _papermill(monkeypatch, [error])
    lines = []
    output = str(tmp_path / "out.ipynb")
    assert execute_notebook("in.ipynb", output, {"rank": 3}, cwd=str(tmp_path),
                            log=lines.append, wait=0) == "executed"
    assert len(calls) == 2 and calls[1][2] == {"rank": 3}
    assert calls[1][3] == {"progress_bar": False, "cwd": str(tmp_path)}
    assert len(lines) == 1 and "2 of 3" in lines[0] and output in lines[0]
    assert json.load(open(output)) == {"ran": {"rank": 3}}


def test_the_last_start_failure_is_raised_after_every_attempt(monkeypatch, tmp_path):
    calls = _papermill(monkeypatch, [DIED] * KERNEL_START_ATTEMPTS)
    with pytest.raises(RuntimeError, match="kernel_info"):
        execute_notebook("in.ipynb", str(tmp_path / "o.ipynb"), {}, cwd=".", wait=0)
    assert len(calls) == KERNEL_START_ATTEMPTS


@pytest.mark.parametrize("error", [
    RuntimeError("Kernel died"),  # nbclient's DeadKernelError: died mid-run
    RuntimeError("a cell raised"),
    ValueError("Kernel died before replying to kernel_info"),  # not jupyter_client's type
    papermill.PapermillExecutionError(0, 1, "x", "ValueError", "bad rank", []),
])
def test_any_other_error_is_raised_at_once(monkeypatch, tmp_path, error):
    calls = _papermill(monkeypatch, [error])
    with pytest.raises(type(error)):
        execute_notebook("in.ipynb", str(tmp_path / "o.ipynb"), {}, cwd=".", wait=0)
    assert len(calls) == 1 and not kernel_never_started(error)


@pytest.mark.parametrize("attempts", [0, -1, 1.5, "2", True, None])
def test_attempts_must_be_a_positive_integer(monkeypatch, attempts):
    calls = _papermill(monkeypatch, [])
    with pytest.raises(ValueError, match=f"attempts must be an integer >= 1; received {attempts!r}"):
        execute_notebook("in.ipynb", "o.ipynb", {}, cwd=".", attempts=attempts)
    assert not calls
