"""One executor interface: the local back end, and the progress report both share."""

import dataclasses

from svdnet.experiments.executors import LocalExecutor, Outcome, execute_groups


@dataclasses.dataclass(frozen=True)
class _Group:
    name: str
    size: int


GROUPS = [_Group("a", 2), _Group("b", 1), _Group("c", 3)]


def test_the_local_executor_runs_each_group_in_turn_and_goes_on_past_a_failure():
    ran, lines = [], []

    def execute(group):
        ran.append(group.name)
        if group.name == "b":
            raise RuntimeError("first line\nthe reason")

    outcomes = list(LocalExecutor(execute, lines.append).run(GROUPS))
    assert ran == ["a", "b", "c"]
    assert [(o.group.name, o.runs, o.where) for o in outcomes] == [
        ("a", 2, "here"), ("b", 0, "here"), ("c", 3, "here")]
    assert outcomes[1].error is not None and outcomes[0].error is None
    assert lines == ["running a ...", "running b ...", "running c ..."]


def test_progress_counts_runs_and_names_failures_the_same_for_every_back_end():
    lines = []

    def execute(group):
        if group.name == "b":
            raise ValueError("bad value\nreceived 'x'")

    ran, failed = execute_groups(LocalExecutor(execute, lambda line: None), GROUPS,
                                 lines.append)
    assert (ran, failed) == (5, ["b"])
    assert lines[0].startswith("[1/3] a: 2 run(s) in ") and "2/6 runs done" in lines[0]
    assert lines[1].startswith("[2/3] b FAILED after ")
    assert lines[1].endswith("here: ValueError: received 'x'")
    assert lines[2].startswith("[3/3] c: 3 run(s)") and "5/6 runs done" in lines[2]


def test_outcomes_in_any_order_from_another_back_end_are_counted_once():
    class Cluster:  # the Dask executor's shape: outcomes as tasks finish, on workers
        def run(self, groups):
            yield Outcome(groups[2], 3, 4.0, "worker-1", note=" (1 running)")
            yield Outcome(groups[0], 1, 2.0, "worker-2")  # one file was already there
            yield Outcome(groups[1], 0, 9.0, "the cluster", KeyError("KilledWorker"))

    lines = []
    assert execute_groups(Cluster(), GROUPS, lines.append) == (4, ["b"])
    assert lines[0].startswith("[1/3] c: 3 run(s) in 4 s on worker-1; 3/6 runs done (1 running)")
    assert "FAILED after 9 s on the cluster: KeyError" in lines[2]


def test_no_groups_log_nothing():
    lines = []
    assert execute_groups(LocalExecutor(lambda group: None, lines.append), [],
                          lines.append) == (0, [])
    assert lines == []
