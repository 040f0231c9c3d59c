"""svdnet under tf.distribute.MirroredStrategy, on two logical CPU devices.

TensorFlow fixes its logical devices when it starts, so the check runs in a fresh Python
process: the test suite's own process has already started TensorFlow with one device.
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r'''
import json, os
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import svdnet
from svdnet import experiments
from svdnet.layers import dense_layers

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = {"replicas": strategy.num_replicas_in_sync}
rng = np.random.default_rng(0)
x = rng.standard_normal((512, 32)).astype("float32")
y = x[:, :4].argmax(axis=1).astype("int32")

# 1. Plain Keras training with the callback, model built in the strategy's scope.
with strategy.scope():
    keras.utils.set_random_seed(0)
    model = experiments.build_mlp(input_dim=32, num_classes=4, depth=2, width=64, jit_compile=True)
history = model.fit(x, y, epochs=2, batch_size=64, verbose=0,
                    callbacks=[svdnet.SVDProjection(rank=3)])
out["mirrored"] = type(model.layers[1].kernel.value).__name__
out["ranks"] = {layer.name: int(np.linalg.matrix_rank(keras.ops.convert_to_numpy(layer.kernel)))
                for layer in dense_layers(model)}
out["logged_ranks"] = history.history["svd_rank/hidden_1"]

# 2. factorize in the scope: a distributed factorized model computing the same function.
with strategy.scope():
    factorized = svdnet.factorize(model, 3, verbose=0)
out["factorized_mirrored"] = type(factorized.layers[1].u.value).__name__
out["max_output_difference"] = float(np.max(np.abs(
    factorized.predict(x[:64], verbose=0) - model.predict(x[:64], verbose=0))))
factorized.fit(x, y, epochs=1, batch_size=64, verbose=0)  # the factors train distributed

# 3. svdnet.train on real data, unchanged, inside the scope.
data = experiments.load_dataset("mnist", train_size=1000)
out["train"] = {}
for method in ("projection", "finetune", "lowrank"):
    with strategy.scope():
        run = experiments.train(data, experiments.RunConfig(method=method, depth=2, width=64, rank=4,
                                                  epochs=2, finetune_epochs=1, batch_size=64))
    out["train"][method] = {"accuracy": run.test_accuracy, "chosen": run.chosen_ranks,
                            "mirrored": type(run.model.layers[1].u.value).__name__}
print("RESULT " + json.dumps(out))
'''


@pytest.mark.timeout(600)
def test_callback_factorize_and_train_under_mirrored_strategy():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas"] == 2
    assert out["mirrored"] == "MirroredVariable"
    assert out["ranks"] == {"hidden_1": 3, "hidden_2": 3, "output": 3}
    assert out["logged_ranks"] == [3, 3]
    assert out["factorized_mirrored"] == "MirroredVariable"
    assert out["max_output_difference"] < 1e-4
    for method, run in out["train"].items():
        assert run["mirrored"] == "MirroredVariable", method
        assert run["chosen"] == {"hidden_1": 4, "hidden_2": 4, "output": 4}, method
        assert 0.1 < run["accuracy"] <= 1.0, method
