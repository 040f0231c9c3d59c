"""The one execution rule of every run (threads), and what a result records of its code."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from svdnet.experiments import RunConfig
from svdnet.experiments.execution import (
    RUN_THREADS, execution_record, follows_rule, pin_threads, thread_environment,
)
from svdnet.experiments.provenance import git_commit, provenance, uncommitted_diff
from svdnet.experiments.training import train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_harness_tests_run_under_the_rule_and_pinning_again_is_harmless():
    record = pin_threads()  # conftest pinned already; the same counts again are accepted
    assert record == execution_record()
    assert record["intra_op_threads"] == RUN_THREADS and record["inter_op_threads"] == 1
    assert follows_rule(record)


def test_records_that_break_the_rule_or_predate_it_do_not_follow_it():
    record = execution_record()
    assert not follows_rule(None) and not follows_rule({})
    assert not follows_rule({**record, "intra_op_threads": 0})  # one per core
    assert not follows_rule({**record, "intra_op_threads": RUN_THREADS + 1})
    assert not follows_rule({**record, "blas_threads": {"openblas": RUN_THREADS + 1}})


def test_the_environment_of_a_new_process_names_the_rules_counts():
    environment = thread_environment()
    assert environment["TF_NUM_INTRAOP_THREADS"] == str(RUN_THREADS)
    assert environment["TF_NUM_INTEROP_THREADS"] == "1"
    assert environment["OPENBLAS_NUM_THREADS"] == str(RUN_THREADS)


def test_a_process_whose_tensorflow_started_otherwise_is_refused_with_the_counts():
    code = ("import tensorflow as tf; tf.config.threading.set_intra_op_parallelism_threads(2); "
            "tf.constant(1.0) + 1\n"
            "from svdnet.experiments.execution import pin_threads\npin_threads()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0
    assert "ExecutionRuleError" in done.stderr
    assert "already runs with 2 intra-op" in done.stderr and "must use 1 and 1" in done.stderr


@pytest.mark.slow
def test_a_runs_numbers_do_not_depend_on_what_ran_before_it_in_the_process(mnist_small):
    config = RunConfig(depth=2, width=48, rank=6, epochs=2, batch_size=64, train_size=2000)
    def measured(run):
        weights = run.model.get_weights()
        return run.test_loss, run.history["loss"], weights

    first = measured(train(mnist_small, config))
    train(mnist_small, config.replace(method="lowrank", seed=3, width=32, rank=4))  # beside it
    again = measured(train(mnist_small, config))
    assert first[0] == again[0] and first[1] == again[1]
    assert all(np.array_equal(a, b) for a, b in zip(first[2], again[2]))


def _repository(tmp_path):
    def git(*arguments):
        subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "code.py").write_text("A = 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "run.json").write_text("{}\n")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    return tmp_path


def test_a_changed_result_file_leaves_the_tree_clean_and_changed_code_is_recorded(tmp_path):
    folder = _repository(tmp_path)
    (folder / "reports" / "run.json").write_text(json.dumps({"accuracy": 0.9}))
    assert not git_commit(str(folder)).endswith("+dirty")
    assert uncommitted_diff(str(folder)) == ""
    (folder / "code.py").write_text("A = 2\n")
    assert git_commit(str(folder)).endswith("+dirty")
    diff = uncommitted_diff(str(folder))
    assert "-A = 1" in diff and "+A = 2" in diff and "run.json" not in diff


def test_a_result_from_this_repository_carries_its_diff_exactly_when_dirty():
    info = provenance()
    assert ("diff" in info) == info["commit"].endswith("+dirty")


@pytest.mark.slow
@pytest.mark.parametrize("method, unused", [
    ("small", {"svd_method": "randomized"}),  # small takes no SVD
    ("dense", {"svd_method": "randomized", "every": 3}),  # dense projects nothing
    # lowrank projects nothing (its SVD backend does count: it splits the initial kernels)
    ("lowrank", {"every": 2, "finetune_epochs": 1}),
])
def test_a_setting_a_method_does_not_use_leaves_its_numbers_alone(mnist_small, method, unused):
    config = RunConfig(method=method, depth=2, width=48, rank=6, epochs=2, batch_size=64,
                       train_size=2000)
    first, second = train(mnist_small, config), train(mnist_small, config.replace(**unused))
    assert first.test_loss == second.test_loss
    assert first.history["loss"] == second.history["loss"]
