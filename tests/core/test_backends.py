"""The core library on Keras' other backends: JAX here, PyTorch through `make test-torch`.

The core suite (``tests/core``) is backend-neutral: it builds models with Keras alone and
checks weights through ``keras.ops``. These tests run it again in a subprocess under
``KERAS_BACKEND=jax``, and check that importing svdnet there loads no TensorFlow.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code_or_args, backend, timeout):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _need_jax():
    if importlib.util.find_spec("jax") is None:
        pytest.fail("JAX is not installed: install the test extras with "
                    "pip install -e '.[dev]' (or make install), which include jax.")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="started from the TensorFlow session only")
def test_import_svdnet_under_jax_loads_no_tensorflow_and_sets_no_environment():
    _need_jax()
    code = (
        # Keras sets variables of its own at import; svdnet must add none.
        "import os, sys, keras; before = dict(os.environ); import svdnet; "
        "assert keras.backend.backend() == 'jax', keras.backend.backend(); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_datasets', 'svdnet.experiments')); "
        "assert not loaded, loaded; "
        "assert dict(os.environ) == before, set(os.environ) ^ set(before); "
        "assert not any(m.startswith('svdnet.experiments') for m in sys.modules); "
        "print('ok', len(svdnet.__all__))"
    )
    result = _run(["-c", code], "jax", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="started from the TensorFlow session only")
def test_core_suite_passes_under_jax():
    _need_jax()
    result = _run(["-m", "pytest", "tests/core", "-q", "-p", "no:cacheprovider",
                   "-W", "ignore::DeprecationWarning"], "jax", timeout=1800)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail


def test_the_library_imports_nothing_from_the_harness():
    import ast
    import glob

    offenders = []
    for path in glob.glob(os.path.join(ROOT, "svdnet", "*.py")):
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{os.path.basename(path)}: {name}" for name in names
                          if name.startswith(("svdnet.experiments", "tensorflow_datasets"))]
    assert not offenders, offenders
