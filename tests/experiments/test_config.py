"""A run's identity: the whole configuration, read from its file (never from its name)."""

import dataclasses

import pytest

from svdnet.experiments.config import RunConfig, full_config, identity


def test_an_older_config_is_completed_with_the_defaults_it_trained_with():
    older = {"dataset": "mnist", "method": "lowrank", "rank": 10, "seed": 1, "epochs": 10}
    full = full_config(older)
    assert list(full) == [field.name for field in dataclasses.fields(RunConfig)]
    assert full == dataclasses.asdict(RunConfig(method="lowrank", rank=10, seed=1))
    assert full_config(full) == full  # idempotent


def test_no_rank_energy_or_budget_means_the_reference_rank_as_in_runconfig():
    assert full_config({"method": "projection"})["rank"] == RunConfig().rank == 20
    assert full_config({"method": "projection", "energy": 0.9})["rank"] is None


def test_identity_tells_every_field_apart_and_can_leave_the_seed_out():
    base = {"dataset": "mnist", "method": "small", "rank": 10, "seed": 0}
    assert identity(base) == identity({**base, "batch_size": 128})  # the default, written
    assert identity(base) != identity({**base, "batch_size": 64})
    assert identity(base) != identity({**base, "train_size": 1000})
    assert identity(base) != identity({**base, "seed": 1})
    assert identity(base, without=("seed",)) == identity({**base, "seed": 1}, without=("seed",))


@pytest.mark.parametrize("config, text", [
    ({"method": "dense", "colour": "red"}, "colour"),
    (["method", "dense"], "list"),
    (None, "NoneType"),
])
def test_a_config_that_is_not_one_of_runconfig_is_named(config, text):
    with pytest.raises(TypeError, match=text):
        full_config(config)


def test_an_integer_where_a_float_belongs_is_the_same_run():
    """papermill -p weight_decay 0 gives an int: the same run as the default 0.0."""
    base = {"method": "lowrank", "rank": 5}
    assert identity({**base, "weight_decay": 0, "temperature": 4}) == identity(base)
    assert full_config({**base, "weight_decay": 0})["weight_decay"] == 0.0
    assert full_config({**base, "jit_compile": True})["jit_compile"] is True  # not a float
