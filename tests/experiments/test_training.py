"""Training runs on real MNIST data: dense, projection and post-hoc."""

import dataclasses

import keras
import numpy as np
import pytest

from svdnet.experiments import RunConfig, run_reference, train
from svdnet.experiments.config import validate_config

SMALL = RunConfig(epochs=2, depth=2, width=128, rank=8, batch_size=32)


@pytest.mark.slow
def test_projection_run_is_low_rank_and_far_above_chance(mnist_small):
    run = train(mnist_small, SMALL, record_spectrum=True)
    assert run.test_accuracy > 0.6  # chance is 0.1; 2,000 examples give about 0.84
    assert all(rank <= 8 for rank in run.ranks.values())
    assert run.params["factorized"] < run.params["dense"]
    assert len(run.epoch_seconds) == 2 and run.svd_seconds > 0
    assert set(run.spectra) == {"hidden_1", "hidden_2", "output"}
    summary = run.summary()
    assert summary["config"]["rank"] == 8
    assert len(summary["history"]["svd_energy/hidden_1"]) == 2


@pytest.mark.slow
def test_same_seed_gives_same_weights_and_dense_is_full_rank(mnist_small):
    config = SMALL.replace(method="dense", epochs=1)
    first = train(mnist_small, config)
    second = train(mnist_small, config)
    assert first.test_accuracy == second.test_accuracy
    np.testing.assert_array_equal(first.model.get_weights()[0], second.model.get_weights()[0])
    assert first.ranks["hidden_2"] > 8
    assert first.params["ratio"] == 1.0


@pytest.mark.slow
def test_posthoc_truncates_once_after_training(mnist_small):
    run = train(mnist_small, SMALL.replace(method="posthoc", epochs=1))
    assert all(rank <= 8 for rank in run.ranks.values())
    assert "svd_energy/hidden_1" not in run.history


@pytest.mark.parametrize(
    "field, value, error, text",
    [
        ("rank", 0, ValueError, "rank must be an integer between 1 and 1024, received 0"),
        ("rank", 2000, ValueError, "rank must be an integer between 1 and 1024, received 2000"),
        ("dataset", "cifar", ValueError, "dataset must be one of 'mnist', 'fashion_mnist'; received 'cifar'"),
        ("method", "prune", ValueError, "method must be one of 'dense', 'projection', 'posthoc', 'finetune', 'lowrank', 'small'; received 'prune'"),
        ("epochs", -1, ValueError, "epochs must be an integer >= 1, received -1"),
        ("epochs", 2.5, TypeError, "epochs must be an integer >= 1, received 2.5 of type float"),
        ("batch_size", 0, ValueError, "batch_size must be an integer >= 1, received 0"),
        ("train_size", -1, ValueError, "train_size must be an integer between 0 and 60000, received -1"),
        ("train_size", 70_000, ValueError, "train_size must be an integer between 0 and 60000, received 70000"),
        ("seed", 2**32, ValueError, "seed must be an integer between 0 and 4294967295, received 4294967296"),
        ("svd_method", "qr", ValueError, "svd_method must be one of"),
        ("energy", 0.9, ValueError, "Give only one of rank, energy or budget; received rank=20 and energy=0.9"),
        ("finetune_epochs", 0, ValueError, "finetune_epochs must be an integer >= 1, received 0"),
        ("jit_compile", 1, TypeError, "jit_compile must be True or False; received 1"),
        ("pipeline", "pandas", ValueError, "pipeline must be one of 'tf.data', 'numpy'; received 'pandas'"),
        ("output_layer", "sparse", ValueError, "output_layer must be one of 'auto', 'dense'; received 'sparse'"),
        ("distill", 1.0, ValueError, "distill must be a number with 0 <= distill < 1; received 1.0"),
        ("distill", "0.5", TypeError, "distill must be a number with 0 <= distill < 1; received '0.5' of type str"),
        ("distill", 0.5, ValueError, "distill=0.5 needs a method that trains after the teacher, one of 'finetune', 'lowrank', 'small'; received method='projection'"),
        ("temperature", 0, ValueError, "temperature must be a number with 0 < temperature; received 0.0"),
        ("temperature", float("nan"), ValueError, "temperature must be a number with 0 < temperature; received nan"),
        ("weight_decay", -1e-4, ValueError, "weight_decay must be a number with 0 <= weight_decay; received -0.0001"),
        ("weight_decay", 1e-4, ValueError, "weight_decay=0.0001 is the Frobenius decay of 'lowrank''s factors; received method='projection'"),
        ("anneal_epochs", -2, ValueError, "anneal_epochs must be an integer >= 0, received -2"),
        ("lr_schedule", "step", ValueError, "lr_schedule must be one of 'constant', 'cosine'; received 'step'"),
        ("lr_schedule", "cosine", ValueError, "lr_schedule='cosine' schedules the factor epochs of 'finetune'; received method='projection'"),
        ("allocation", "entropy", ValueError, "allocation must be one of 'energy', 'accuracy'; received 'entropy'"),
        ("allocation", "accuracy", ValueError, "allocation='accuracy' shares a budget between the layers of 'finetune'; received method='projection' with rank 20"),
    ],
)
def test_bad_config_names_field_value_and_allowed(field, value, error, text):
    """Validation trains nothing: every value is checked when the config is made."""
    with pytest.raises(error) as info:
        validate_config(dataclasses.replace(RunConfig(), **{field: value}))
    assert text in str(info.value)
    with pytest.raises(error) as info:  # constructing it is enough
        RunConfig(**{**dataclasses.asdict(RunConfig()), field: value})
    assert text in str(info.value)


@pytest.mark.parametrize("changes, text", [
    ({"rank": None, "budget": 1},
     "budget=1 parameters is below the smallest possible model: 5,130 parameters outside the "
     "compressed kernels (biases and layers left dense) plus 11,034 for rank-1 factors of 6 "
     "kernel(s) = 16,164. Give a budget of at least 16,164."),
    ({"method": "posthoc", "rank": {"hidden_9": 4}},
     "Per-layer ranks name unknown layer(s) ['hidden_9']; the layers that can be compressed "
     "are ['hidden_1', 'hidden_2', 'hidden_3', 'hidden_4', 'hidden_5', 'output']"),
    ({"rank": {"output": 20}}, "rank of layer 'output' must be an integer between 1 and 10, "
                               "received 20"),
])
def test_ranks_that_cannot_fit_the_model_fail_before_any_training(changes, text):
    with pytest.raises(ValueError) as info:
        RunConfig().replace(**changes)
    assert text in str(info.value)
    assert RunConfig(method="dense").replace(rank=None, budget=1)  # dense has no ranks


@pytest.mark.slow
def test_run_reference_compares_dense_and_rank_k_from_the_same_seed():
    result = run_reference(rank=20, epochs=1, train_size=500, batch_size=64)
    dense, compressed = result["dense"], result["compressed"]
    assert dense["config"]["seed"] == compressed["config"]["seed"] == 0
    assert dense["params"]["dense"] == compressed["params"]["dense"] == 5_012_490
    assert compressed["params"]["factorized"] == 215_370
    assert max(compressed["ranks"].values()) <= 20
    assert max(dense["ranks"].values()) > 20
    assert result["accuracy_drop"] == pytest.approx(
        dense["test_accuracy"] - compressed["test_accuracy"])
    assert len(compressed["epoch_seconds"]) == 1 and compressed["svd_seconds"] > 0
    assert result["provenance"]["versions"]["keras"].startswith("3.")


@pytest.mark.slow
def test_finetune_and_lowrank_export_factorized_models(mnist_small):
    from svdnet import LowRankDense

    for method in ("finetune", "lowrank"):
        run = train(mnist_small, SMALL.replace(method=method, epochs=3, finetune_epochs=1))
        factorized = [layer for layer in run.model.layers if isinstance(layer, LowRankDense)]
        assert [layer.name for layer in factorized] == ["hidden_1", "hidden_2", "output"]
        assert run.chosen_ranks == {"hidden_1": 8, "hidden_2": 8, "output": 8}
        assert run.params["factorized"] == run.model.count_params() < run.params["dense"]
        assert all(rank <= 8 for rank in run.ranks.values())
        # finetune trains only its fine-tuning epochs; lowrank all of them.
        assert len(run.epoch_seconds) == (1 if method == "finetune" else 3)
        assert run.test_accuracy > 0.3


@pytest.mark.slow
def test_starting_from_a_saved_dense_model_equals_training_it_again(mnist_small):
    config = SMALL.replace(method="finetune", epochs=2, finetune_epochs=1)
    retrained = train(mnist_small, config)
    dense = train(mnist_small, config.replace(method="dense", epochs=1)).model
    reused = train(mnist_small, config, trained_dense=dense)
    assert reused.test_accuracy == retrained.test_accuracy
    for a, b in zip(reused.model.get_weights(), retrained.model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_projection_with_energy_records_ranks_per_epoch(mnist_small):
    run = train(mnist_small, SMALL.replace(rank=None, energy=0.6, epochs=2))
    ranks = run.history["svd_rank/hidden_2"]
    assert len(ranks) == 2 and all(1 <= rank <= 128 for rank in ranks)
    assert run.chosen_ranks["hidden_2"] == ranks[-1]
    assert run.summary()["chosen_ranks"] == run.chosen_ranks


def test_finetune_epochs_must_leave_dense_epochs():
    with pytest.raises(ValueError, match="finetune_epochs must be an integer between 1 and 2, received 3"):
        SMALL.replace(method="finetune", epochs=3, finetune_epochs=3)
    with pytest.raises(ValueError, match="The finetune method needs epochs >= 2"):
        SMALL.replace(method="finetune", epochs=1)


@pytest.mark.slow
@pytest.mark.parametrize("pipeline, jit", [("numpy", False), ("tf.data", True)])
def test_same_seed_gives_identical_metrics_twice(mnist_small, pipeline, jit):
    config = SMALL.replace(pipeline=pipeline, jit_compile=jit)
    first, second = train(mnist_small, config), train(mnist_small, config)
    assert first.test_accuracy == second.test_accuracy
    assert first.test_loss == second.test_loss
    assert first.history["loss"] == second.history["loss"]


@pytest.mark.parametrize("changes", [{"rank": 20}, {"rank": 5}, {"rank": 50},
                                     {"rank": None, "budget": 100_000}])
def test_small_width_lands_within_two_percent_of_the_compared_model(changes):
    from svdnet.experiments.config import small_width, target_parameters
    from svdnet.experiments.model import mlp_parameters

    config = RunConfig(method="small").replace(**changes)
    width = small_width(config)
    size = mlp_parameters(784, 10, 5, width)
    assert abs(size - target_parameters(config)) <= 0.02 * target_parameters(config)
    # and it is the closest width: one unit more or less is not closer
    for other in (width - 1, width + 1):
        assert abs(mlp_parameters(784, 10, 5, other) - target_parameters(config)) >= \
            abs(size - target_parameters(config))


def test_small_is_sized_like_the_exported_factorized_model():
    from svdnet.experiments.config import target_parameters
    from svdnet.experiments.model import build_mlp
    from svdnet.params import parameter_counts

    for rank in (1, 5, 20, 200):
        expected = parameter_counts(build_mlp(), rank)["factorized"]
        assert target_parameters(RunConfig(method="small", rank=rank)) == expected, rank
    with pytest.raises(ValueError, match="The small method needs a rank or a budget"):
        RunConfig(method="small", rank=None, energy=0.9).replace()


@pytest.mark.slow
def test_small_trains_the_narrow_network(mnist_small):
    run = train(mnist_small, SMALL.replace(method="small", rank=8))
    assert run.params["factorized"] == run.model.count_params() < run.params["dense"]
    assert run.params["width"] == run.model.get_layer("hidden_1").units < SMALL.width
    assert run.chosen_ranks == {} and run.test_accuracy > 0.5


def test_output_layer_dense_sizes_small_like_the_model_that_keeps_it():
    from svdnet import factorize
    from svdnet.experiments.config import target_parameters
    from svdnet.experiments.model import build_mlp

    kept = RunConfig(method="small", rank=5, output_layer="dense")
    hidden = [f"hidden_{i}" for i in range(1, 6)]
    expected = factorize(build_mlp(), rank=5, layers=hidden, verbose=0).count_params()
    assert target_parameters(kept) == expected == 65_370
    assert target_parameters(RunConfig(method="small", rank=5)) == 60_300  # output at rank 5
    with pytest.raises(ValueError, match="applies to the compressed methods and small; "
                                         "received method='dense'"):
        RunConfig(method="dense", output_layer="dense").replace()


def test_options_name_their_runs_and_their_method_labels():
    from svdnet.experiments.config import base_method
    from svdnet.experiments.options import method_label
    from svdnet.experiments.sweep import result_name

    config = RunConfig(method="lowrank", rank=5, output_layer="dense", distill=0.9,
                       weight_decay=1e-4)
    assert result_name(config) == ("mnist-lowrank-r5-outdense-kd0.9t4-wd0.0001-5x1024-e10-b128"
                                   "-seed0.json")
    assert result_name(config.dense_twin()) == "mnist-dense-5x1024-e10-b128-seed0.json"
    assert method_label("lowrank", output_layer="dense", distill=0.9,
                        weight_decay=1e-4) == "lowrank+denseout+kd+fd"
    assert method_label("small") == "small" and base_method("small+kd") == "small"


def test_lowrank_keeps_the_output_layer_dense_and_learns_from_a_teacher(mnist_small):
    """A real (tiny) run: the output layer stays Dense, the distillation trains on the
    teacher's outputs, and the model is tested on plain labels afterwards."""
    base = RunConfig(method="lowrank", epochs=1, depth=1, width=32, rank=3, batch_size=64,
                     train_size=300)
    teacher = train(mnist_small, base.dense_twin()).model
    run = train(mnist_small, base.replace(output_layer="dense", distill=0.5),
                teacher=teacher, evaluate_each_epoch=True)
    assert run.chosen_ranks == {"hidden_1": 3, "output": None}
    assert 0 <= run.history["accuracy"][-1] <= 1 and "test_accuracy" in run.history
    assert run.test_accuracy == pytest.approx(run.model.evaluate(
        mnist_small.x_test, mnist_small.y_test, verbose=0)[1])
    small = train(mnist_small, base.replace(method="small", distill=0.5), teacher=teacher)
    assert small.params["width"] < 32 and small.chosen_ranks == {}


def test_annealing_is_for_projection_with_a_rank():
    assert RunConfig(anneal_epochs=3).replace().anneal_epochs == 3
    with pytest.raises(ValueError, match="anneal_epochs=3 anneals the rank of 'projection' "
                                         "with a rank; received method='lowrank' with rank 20"):
        RunConfig(method="lowrank", anneal_epochs=3).replace()
    with pytest.raises(ValueError, match="received method='projection' with energy 0.9"):
        RunConfig(rank=None, energy=0.9, anneal_epochs=3).replace()


@pytest.mark.slow
def test_annealed_projection_ends_at_rank_k(mnist_small):
    run = train(mnist_small, SMALL.replace(epochs=3, anneal_epochs=2))
    kept = run.history["svd_rank/hidden_1"]
    assert kept[0] > 8 and kept[1:] == [8, 8]
    assert run.chosen_ranks["hidden_1"] == 8


def test_a_budget_shared_by_accuracy_fits_and_is_recorded(mnist_small):
    config = RunConfig(method="finetune", epochs=2, finetune_epochs=1, depth=2, width=32,
                       rank=None, budget=15_000, allocation="accuracy", batch_size=64,
                       train_size=600)
    run = train(mnist_small, config)
    assert run.params["factorized"] <= 15_000 < run.params["dense"]
    assert set(run.chosen_ranks) == {"hidden_1", "hidden_2", "output"}
    assert any(rank is not None for rank in run.chosen_ranks.values())


def test_cosine_schedule_decays_the_factor_epochs_learning_rate_to_zero(mnist_small):
    config = RunConfig(method="finetune", epochs=2, finetune_epochs=1, depth=1, width=32,
                       rank=4, batch_size=100, train_size=500, lr_schedule="cosine")
    run = train(mnist_small, config)
    optimizer = run.model.optimizer
    assert int(optimizer.iterations) == 5  # one epoch of train_size 500, batches of 100
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0, abs=1e-9)
    optimizer.iterations.assign(0)  # the schedule read at the first step: Adam's 1e-3
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(1e-3)


def test_train_takes_its_training_size_from_the_config(mnist_small):
    config = RunConfig(method="dense", epochs=1, depth=1, width=16, rank=4, batch_size=100,
                       train_size=300)
    run = train(mnist_small, config)
    assert int(run.model.optimizer.iterations) == 3  # 300 of the fixture's 2,000 examples
    with pytest.raises(ValueError, match="train_size is 5000") as error:
        train(mnist_small, config.replace(train_size=5000))
    assert "holds 2000 training examples" in str(error.value)


def test_calibrated_truncation_keeps_the_layer_outputs_closer_on_its_examples(mnist_small):
    """``calibration=N`` makes posthoc's SVD data-aware: on its N examples (more than the
    input width, so the covariance has full rank) the first layer's output error is
    smaller than the weights' SVD gives (what it minimises), and the projection run
    reaches its rank k the same way."""
    from svdnet.experiments.training import effective_kernels

    base = RunConfig(method="posthoc", epochs=1, depth=1, width=64, rank=4, batch_size=100,
                     train_size=1000)
    dense = train(mnist_small, base.dense_twin()).model
    plain = train(mnist_small, base, trained_dense=dense)
    calibrated = train(mnist_small, base.replace(calibration=1000), trained_dense=dense)
    assert calibrated.chosen_ranks == plain.chosen_ranks == {"hidden_1": 4, "output": 4}
    x = mnist_small.x_train[:1000]
    kernel = keras.ops.convert_to_numpy(dense.get_layer("hidden_1").kernel)
    def error(run):
        return np.linalg.norm(x @ (kernel - effective_kernels(run.model)["hidden_1"]))
    assert error(calibrated) < 0.9 * error(plain)
    projection = base.replace(method="projection")
    projected = train(mnist_small, projection.replace(calibration=1000))
    assert projected.chosen_ranks == {"hidden_1": 4, "output": 4}
    assert max(projected.history["svd_rank/hidden_1"]) == 4
    weights = effective_kernels(train(mnist_small, projection).model)["hidden_1"]
    assert not np.allclose(effective_kernels(projected.model)["hidden_1"], weights, atol=1e-3)


def test_calibration_beyond_the_training_examples_is_refused_before_training(mnist_small):
    config = RunConfig(method="posthoc", epochs=1, depth=1, width=16, rank=4, calibration=3000)
    with pytest.raises(ValueError, match=r"calibration=3000 asks for more examples than the "
                                         r"run trains on \(2,000 of 'mnist'\)"):
        train(mnist_small, config)  # the fixture holds 2,000 of the split's 60,000
    with pytest.raises(ValueError, match=r"calibration=301 asks for more examples than the "
                                         r"run trains on \(300 of 'mnist'\)"):
        config.replace(train_size=300, calibration=301)
