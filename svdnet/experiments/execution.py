"""How every run is executed, so that its numbers do not depend on where it ran.

TensorFlow's CPU kernels and XLA split their work (and so their floating-point sums)
by the number of threads, and so does the BLAS behind numpy's SVD. Measured here on
the reference MLP (MNIST, 6,000 examples, 2 epochs, same seed): 1 and 2 intra-op
threads train different weights; the same thread count twice trains the same weights
bit for bit (``tf.config.experimental.enable_op_determinism`` does not change that).
Differences in the last bit grow over the epochs like any other perturbation of SGD,
so before this rule a run's accuracy depended on whether it ran alone (TensorFlow
takes every core) or beside another under ``--workers`` (each its share of them).

The rule, one for every run (alone, under ``--workers N``, on a Dask cluster, through
Papermill by hand): :data:`RUN_THREADS` TensorFlow intra-op thread(s), one inter-op
thread and :data:`RUN_THREADS` BLAS thread(s) per run; parallelism comes from running
several runs at once (``--workers``), never from threads inside one run. The pipeline
and XLA are a run's own configuration (``RunConfig.pipeline``, ``jit_compile``) and are
recorded with it. :func:`pin_threads` applies the rule in the running process and
:func:`execution_record` is what a result file stores of it.
"""

from __future__ import annotations

RUN_THREADS = 1
"""Intra-op (TensorFlow) and BLAS threads of one run."""

INTER_OP_THREADS = 1
"""TensorFlow inter-op threads of one run."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS")
"""Environment variables that set thread counts in a process that has not started
them yet."""


class ExecutionRuleError(RuntimeError):
    """Raised when this process already runs TensorFlow with other thread counts than
    the rule's; names both."""


def thread_environment() -> dict:
    """Environment variables that hold a new process (a notebook kernel, a Dask worker)
    to the rule before it imports anything: :data:`RUN_THREADS` for every variable of
    :data:`THREAD_VARIABLES`, and one inter-op thread."""
    return {**{name: str(RUN_THREADS) for name in THREAD_VARIABLES},
            "TF_NUM_INTEROP_THREADS": str(INTER_OP_THREADS)}


def pin_threads() -> dict:
    """Holds this process to the rule: TensorFlow's intra-op and inter-op thread pools
    and the BLAS libraries' threads (through ``threadpoolctl``).

    Call it before TensorFlow runs its first operation (loading a TFDS dataset runs
    some); calling it again is harmless.

    Returns:
        :func:`execution_record`.

    Raises:
        ExecutionRuleError: when TensorFlow already runs with other thread counts, naming
            them and the rule's.
    """
    import tensorflow as tf
    import threadpoolctl

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(RUN_THREADS)
        threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError as error:
        raise ExecutionRuleError(
            f"TensorFlow already runs with {threading.get_intra_op_parallelism_threads()} "
            f"intra-op and {threading.get_inter_op_parallelism_threads()} inter-op "
            "thread(s) (0 means one per core), and a run must use "
            f"{RUN_THREADS} and {INTER_OP_THREADS} (svdnet.experiments.execution): call "
            "pin_threads() "
            "before the first TensorFlow operation, or start a new process.") from error
    threadpoolctl.threadpool_limits(RUN_THREADS)
    return execution_record()


def execution_record() -> dict:
    """What a result stores of how it was executed: the thread counts in force in this
    process (``0`` for TensorFlow means one per core, which the rule never leaves) and
    the BLAS libraries' thread counts, by library."""
    import tensorflow as tf
    import threadpoolctl

    blas = sorted({(info.get("internal_api"), info.get("num_threads"))
                   for info in threadpoolctl.threadpool_info()
                   if info.get("user_api") == "blas"}, key=str)
    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "blas_threads": {name: threads for name, threads in blas},
        "rule_threads": RUN_THREADS,
    }


def follows_rule(record: dict | None) -> bool:
    """Whether an :func:`execution_record` (``None``: a result written before the rule)
    shows a run held to the rule."""
    if not record:
        return False
    return (record.get("intra_op_threads") == RUN_THREADS
            and record.get("inter_op_threads") == INTER_OP_THREADS
            and all(threads == RUN_THREADS for threads in record.get("blas_threads", {}).values()))
