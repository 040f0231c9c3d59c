"""TFLite export of dense and factorized models."""

import keras
import numpy as np
import pytest

from tests.conftest import mlp as build_mlp
from svdnet.factorize import factorize
from svdnet.tflite import TFLiteModel, to_tflite

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="TFLite export converts through TensorFlow"),
    pytest.mark.slow,
]

X = np.random.default_rng(0).random((200, 64)).astype("float32")
Y = X[:, :4].argmax(axis=1).astype("int32")


@pytest.fixture(scope="module")
def factorized():
    keras.utils.set_random_seed(0)
    # Wide enough that weights, not the flatbuffer's fixed overhead, set the file size.
    model = build_mlp(input_dim=64, num_classes=4, depth=2, width=512)
    model.fit(X, Y, epochs=5, verbose=0)
    return model, factorize(model, 32, verbose=0)


def test_float32_tflite_matches_keras(factorized):
    _, model = factorized
    lite = TFLiteModel(to_tflite(model))
    np.testing.assert_allclose(lite.predict(X, batch_size=64), model.predict(X, verbose=0),
                               atol=1e-5)


def test_int8_tflite_is_smaller_and_close(factorized):
    dense, model = factorized
    float_bytes = TFLiteModel(to_tflite(dense)).size_bytes
    int8 = TFLiteModel(to_tflite(model, "int8", representative_data=X))
    # int8 weights take a quarter of float32's bytes; per-channel scales, int32 biases
    # and the flatbuffer's own overhead come on top.
    assert int8.size_bytes < TFLiteModel(to_tflite(model)).size_bytes / 2
    kinds = {detail["dtype"] for detail in int8.interpreter.get_tensor_details()}
    assert np.int8 in kinds
    assert int8.size_bytes < float_bytes / 10
    keras_labels = model.predict(X, verbose=0).argmax(axis=1)
    agreement = np.mean(int8.predict(X).argmax(axis=1) == keras_labels)
    assert agreement > 0.9
    assert int8.accuracy(X, Y) > 0.5


def test_bad_quantization_requests():
    model = build_mlp(input_dim=8, num_classes=3, depth=1, width=4)
    with pytest.raises(ValueError, match="quantization must be one of 'float32', 'dynamic', "
                                         "'int8'; received 'int4'"):
        to_tflite(model, "int4")
    with pytest.raises(ValueError, match="needs representative_data"):
        to_tflite(model, "int8")


def test_per_tensor_int8_is_smaller_than_per_channel_and_as_accurate(factorized):
    _, model = factorized
    per_channel = TFLiteModel(to_tflite(model, "int8", representative_data=X))
    per_tensor = TFLiteModel(to_tflite(model, "int8", representative_data=X, per_channel=False))
    assert per_tensor.size_bytes < per_channel.size_bytes
    labels = model.predict(X, verbose=0).argmax(axis=1)
    assert np.mean(per_tensor.predict(X).argmax(axis=1) == labels) > 0.9


@pytest.mark.parametrize("data, error, text", [
    (np.zeros((5, 7), "float32"), ValueError, r"shape \(examples, 8\) for model 'mlp'; received "
                                              r"shape \(5, 7\)"),
    (np.zeros(8, "float32"), ValueError, r"received shape \(8,\)"),
    (np.zeros((0, 8), "float32"), ValueError, "holds no example"),
    (np.full((3, 8), np.nan, "float32"), ValueError, "24 NaN or infinite"),
    ([["a"] * 8], TypeError, "numpy cannot read as floats"),
])
def test_bad_representative_data_is_named_before_conversion(data, error, text):
    model = build_mlp(input_dim=8, num_classes=3, depth=1, width=4)
    with pytest.raises(error, match=text):
        to_tflite(model, "int8", representative_data=data)


@pytest.mark.parametrize("model", [None, "model.keras"])
def test_a_model_that_is_not_a_keras_model_is_named(model):
    with pytest.raises(TypeError, match=f"to_tflite needs a built Keras model; received "
                                        f"{model!r} of type {type(model).__name__}"):
        to_tflite(model)
