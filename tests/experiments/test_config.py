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


# --- the architecture field: the CNN and the ViT in the same schema as the MLP ----------

def test_an_older_config_trained_the_mlp():
    older = {"dataset": "mnist", "method": "lowrank", "rank": 10}
    assert full_config(older)["architecture"] == "mlp"
    assert identity(older) == identity({**older, "architecture": "mlp"})
    assert identity(older) != identity({**older, "architecture": "cnn"})


@pytest.mark.parametrize("changes, error, text", [
    ({"architecture": "resnet"}, ValueError, "architecture.*'mlp', 'cnn', 'vit'.*'resnet'"),
    ({"architecture": "CNN"}, ValueError, "'CNN'"),
    ({"architecture": ""}, ValueError, "architecture"),
    ({"architecture": None}, (TypeError, ValueError), "architecture"),
    ({"architecture": "cnn", "width": 512}, ValueError,
     "width sizes the 'mlp'; architecture='cnn'.*received width=512"),
    ({"architecture": "vit", "depth": 2}, ValueError, "received depth=2"),
    # the ViT's widest kernel is 256 x 128: rank 129 exceeds every kernel
    ({"architecture": "vit", "rank": 129}, ValueError, "129"),
])
def test_a_bad_architecture_or_an_mlp_size_given_to_another_is_named(changes, error, text):
    with pytest.raises(error, match=text):
        RunConfig(**changes)


def test_the_largest_rank_of_the_mlp_is_still_its_width():
    RunConfig(rank=1024)
    with pytest.raises(ValueError, match="1025"):
        RunConfig(rank=1025)
    RunConfig(architecture="vit", rank=128)  # the ViT's largest kernel rank


@pytest.mark.parametrize("architecture", ["cnn", "vit"])
@pytest.mark.parametrize("changes", [{"rank": 4}, {"rank": 10},
                                     {"rank": 10, "output_layer": "dense"}])
def test_the_size_the_small_network_matches_is_the_factorized_models(architecture, changes):
    """Known before training, from the layout: equal to what factorize builds."""
    import keras

    from svdnet import factorize
    from svdnet.experiments.architectures import build_architecture
    from svdnet.experiments.config import dense_parameters, target_parameters
    from svdnet.experiments.training import compressed_layers

    config = RunConfig(method="posthoc", architecture=architecture, **changes)
    keras.utils.set_random_seed(0)
    model = build_architecture(architecture)
    assert dense_parameters(config) == model.count_params()
    layers = compressed_layers(model, config)
    factorized = factorize(model, rank=config.rank, layers=layers, verbose=0)
    assert target_parameters(config) == factorized.count_params()


def test_the_small_cnn_is_the_narrowed_cnn_closest_in_size():
    from svdnet.experiments.architectures import WIDTHS, build_architecture
    from svdnet.experiments.config import small_width, target_parameters

    config = RunConfig(method="small", architecture="cnn", dataset="fashion_mnist", rank=4)
    width = small_width(config)
    assert width in WIDTHS and width < 1
    target = target_parameters(config)
    gap = abs(build_architecture("cnn", width=width).count_params() - target)
    neighbours = [w for w in WIDTHS if abs(w - width) < 0.015 and w != width]
    assert all(abs(build_architecture("cnn", width=w).count_params() - target) >= gap
               for w in neighbours)


def test_each_architecture_has_its_own_file_and_notebook_names():
    from svdnet.experiments.grid import Group
    from svdnet.experiments.sweep import result_name

    names = {architecture: result_name(RunConfig(architecture=architecture, rank=4))
             for architecture in ("mlp", "cnn", "vit")}
    assert names["mlp"] == "mnist-projection-r4-5x1024-e10-b128-seed0.json"  # as before
    assert names["cnn"] == "mnist-projection-r4-cnn-e10-b128-seed0.json"
    assert len(set(names.values())) == 3
    groups = {Group(RunConfig(architecture=a), (4,)).name for a in ("mlp", "cnn", "vit")}
    assert groups == {"mnist-projection-e10-seed0-r4.ipynb",
                      "mnist-cnn-projection-e10-seed0-r4.ipynb",
                      "mnist-vit-projection-e10-seed0-r4.ipynb"}


def test_a_notebooks_parameters_make_its_config_and_a_missing_field_is_named():
    from svdnet.experiments.config import config_from_parameters

    fields = dataclasses.asdict(RunConfig(architecture="cnn", rank=4))
    assert config_from_parameters({**fields, "other": 1}) == RunConfig(architecture="cnn",
                                                                        rank=4)
    del fields["architecture"]
    with pytest.raises(NameError, match=r"\['architecture'\]"):
        config_from_parameters(fields)
    with pytest.raises(ValueError, match="'resnet'"):
        config_from_parameters({**fields, "architecture": "resnet"})
