"""Models saved as ``.keras`` by an earlier svdnet still load: every low-rank layer keeps
its registered name, its config and the layout of its weights (see
``tests/core/data/make_lowrank_saved.py``, which wrote the files)."""

import json
import os

import keras
import numpy as np
import pytest

from svdnet import LowRankConv2D, LowRankDense, LowRankEinsumDense, LowRankMultiHeadAttention
from svdnet.layers import LOW_RANK_LAYERS

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "lowrank_saved.json")) as _file:
    SAVED = json.load(_file)
KINDS = {"conv_weight": LowRankConv2D, "conv_spatial": LowRankConv2D,
         "einsum": LowRankEinsumDense, "attention": LowRankMultiHeadAttention,
         "dense": LowRankDense}


@pytest.fixture(scope="module")
def loaded():
    return keras.models.load_model(os.path.join(DATA, "lowrank_saved.keras"))


def _plain(config):
    """A config as JSON holds it (tuples as lists)."""
    return json.loads(json.dumps(config))


def test_a_saved_model_loads_with_the_same_outputs(loaded):
    outputs = loaded.predict(np.asarray(SAVED["images"], "float32"), verbose=0)
    np.testing.assert_allclose(outputs, SAVED["outputs"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_layer_loads_as_its_class_with_the_saved_config(loaded, name):
    layer = loaded.get_layer(name)
    assert type(layer) is KINDS[name]
    assert _plain(layer.get_config()) == SAVED["configs"][name]
    # the config alone rebuilds the same layer (what clone_model and from_config do)
    assert _plain(type(layer).from_config(layer.get_config()).get_config()) == \
        SAVED["configs"][name]


def test_the_registered_names_are_unchanged():
    names = {cls: keras.saving.get_registered_name(cls)
             for cls in (*LOW_RANK_LAYERS, LowRankMultiHeadAttention)}
    assert names == {LowRankDense: "svdnet>LowRankDense", LowRankConv2D: "svdnet>LowRankConv2D",
                     LowRankEinsumDense: "svdnet>LowRankEinsumDense",
                     LowRankMultiHeadAttention: "svdnet>LowRankMultiHeadAttention"}
