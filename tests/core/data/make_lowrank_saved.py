"""Writes ``lowrank_saved.keras`` and ``lowrank_saved.json``: a model of every low-rank
layer, saved by svdnet 0.4.0 (commit 7bbd1d8, before the layers shared a base class).

``tests/core/test_lowrank_saved.py`` loads them to check that models saved by that
version still load, with the same configs and outputs. Do not regenerate them with a
later version unless the saved format is meant to change: run from the repository root,
``python tests/core/data/make_lowrank_saved.py``.
"""

import json
import os

import keras
import numpy as np

from svdnet import (
    LowRankConv2D,
    LowRankDense,
    LowRankEinsumDense,
    LowRankMultiHeadAttention,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def model() -> keras.Model:
    """Every low-rank layer, with settings other than the defaults."""
    inputs = keras.Input((6, 6, 2), name="image")
    x = LowRankConv2D(4, 3, rank=2, padding="same", activation="relu",
                      kernel_regularizer=keras.regularizers.L2(0.01),
                      bias_constraint=keras.constraints.NonNeg(), name="conv_weight")(inputs)
    x = LowRankConv2D(4, (3, 1), rank=2, scheme="spatial", strides=(2, 1),
                      use_bias=False, u_initializer="he_normal", name="conv_spatial")(x)
    x = keras.layers.Reshape((12, 4))(x)
    x = LowRankEinsumDense("abc,cd->abd", (None, 5), rank=2, bias_axes="d",
                           activation="tanh", bias_regularizer=keras.regularizers.L1(0.01),
                           name="einsum")(x)
    x = LowRankMultiHeadAttention(2, 3, projection_ranks={"query": 1, "attention_output": 2},
                                  name="attention")(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = LowRankDense(3, rank=2, activation="softmax", v_initializer="zeros",
                           trainable=False, name="dense")(x)
    return keras.Model(inputs, outputs, name="lowrank_saved")


def main() -> None:
    rng = np.random.default_rng(0)
    saved = model()
    saved.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.5
                       for w in saved.get_weights()])
    images = rng.standard_normal((4, 6, 6, 2)).astype("float32")
    saved.save(os.path.join(HERE, "lowrank_saved.keras"))
    configs = {layer.name: layer.get_config() for layer in saved.layers
               if layer.name in ("conv_weight", "conv_spatial", "einsum", "attention", "dense")}
    record = {"images": images.tolist(), "outputs": saved.predict(images, verbose=0).tolist(),
              "configs": configs}
    with open(os.path.join(HERE, "lowrank_saved.json"), "w") as file:
        json.dump(record, file, indent=1, sort_keys=True)
        file.write("\n")


if __name__ == "__main__":
    main()
