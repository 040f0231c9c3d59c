"""Calibration: streamed input second moments of each layer, and the calibration data."""

import itertools
import warnings

import keras
import numpy as np
import pytest

from svdnet import calibration
from svdnet.kernels import KernelView
from svdnet.layers import select_layers
from svdnet.whitening import output_energy, whitened_svd
from tests.conftest import mlp, vit

# Most tests calibrate tiny models on fewer examples than a layer is wide, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Layer .* fewer than its input width")


def small_mlp(seed=0):
    return mlp(input_dim=12, width=16, depth=2, num_classes=3, seed=seed)


def inputs(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def conv_model(input_shape=(9, 11, 3), data_format="channels_last", **conv):
    keras.utils.set_random_seed(0)
    image = keras.Input(shape=input_shape)
    output = keras.layers.Conv2D(4, conv.pop("kernel_size", (3, 2)), name="conv",
                                 data_format=data_format, **conv)(image)
    return keras.Model(image, output)


def captured(model, layer, data):
    """The argument ``layer`` is called with when ``model`` runs on ``data`` (caught here
    independently of the library)."""
    seen = []
    original = layer.call

    def call(value, *args, **kwargs):
        seen.append(value)
        return original(value, *args, **kwargs)

    vars(layer)["call"] = call
    try:
        model(data, training=False)
    finally:
        del vars(layer)["call"]
    assert len(seen) == 1
    return seen[0]


def check_output_identity(model, key, layer, data, conv_scheme="weight", rank=2):
    """||X (W - W_k)||^2 from the covariance equals the squared change of the layer's
    own output (before bias and activation) when its kernel becomes W_k."""
    covariance = calibration.input_covariances(model, {key: layer}, data,
                                               conv_scheme=conv_scheme)[key]
    view = KernelView(layer, conv_scheme)
    kernel = view.read().astype(np.float64)
    approximation = whitened_svd(kernel, covariance).truncate(rank).reconstruct()
    value = captured(model, layer, data)
    activation = getattr(layer, "activation", None)
    if activation is not None:
        layer.activation = keras.activations.linear
    try:
        before = keras.ops.convert_to_numpy(layer(value)).astype(np.float64)
        view.write(approximation)
        after = keras.ops.convert_to_numpy(layer(value)).astype(np.float64)
    finally:
        view.write(kernel)
        if activation is not None:
            layer.activation = activation
    change = np.sum((after - before) ** 2)
    assert change > 1e-3 * np.sum(before ** 2)  # the test changes something
    assert output_energy(kernel - approximation, covariance) == pytest.approx(change, rel=1e-4)
    rows = calibration.input_rows(layer, value, conv_scheme)
    assert rows.shape == (covariance.rows, view.shape[0])
    return rows, before


def test_mlp_covariance_is_the_gram_matrix_of_the_inputs():
    model = small_mlp()
    layers, _ = select_layers(model)
    data = inputs((40, 12))
    covariances = calibration.input_covariances(model, layers, data, batch_size=16)
    assert list(covariances) == list(layers)
    for key, layer in layers.items():
        explicit = keras.Model(model.inputs[0], layer.input)(data)
        explicit = keras.ops.convert_to_numpy(explicit).astype(np.float64)
        covariance = covariances[key]
        assert covariance.examples == 40 and covariance.rows == 40
        assert covariance.width == layer.kernel.shape[0]
        np.testing.assert_allclose(covariance.matrix, explicit.T @ explicit, rtol=1e-5,
                                   atol=1e-4)
        np.testing.assert_allclose(covariance.mean, explicit.T @ explicit / 40, rtol=1e-5,
                                   atol=1e-5)
        assert "call" not in vars(layer)  # restored


def test_layers_of_nested_models():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.layers.Dense(6, activation="relu", name="hidden")],
                             name="inner")
    pixels = keras.Input((5,))
    model = keras.Model(pixels, keras.layers.Dense(3, name="head")(inner(pixels)))
    layers, _ = select_layers(model)
    data = inputs((20, 5))
    covariances = calibration.input_covariances(model, layers, data)
    np.testing.assert_allclose(covariances["hidden"].matrix,
                               data.T.astype(np.float64) @ data, rtol=1e-5)
    hidden = keras.ops.convert_to_numpy(inner(data)).astype(np.float64)
    np.testing.assert_allclose(covariances["head"].matrix, hidden.T @ hidden, rtol=1e-5,
                               atol=1e-5)


def test_streaming_equals_one_batch():
    model = small_mlp()
    layers, _ = select_layers(model)
    data = inputs((50, 12))
    streamed = calibration.input_covariances(model, layers, data, batch_size=7)
    whole = calibration.input_covariances(model, layers, data, batch_size=50)
    for key in layers:
        np.testing.assert_allclose(streamed[key].matrix, whole[key].matrix, rtol=1e-6,
                                   atol=1e-5)
        assert streamed[key].rows == whole[key].rows == 50


def test_cap_is_respected_with_an_endless_generator():
    model = small_mlp()
    layers, _ = select_layers(model, ["hidden_1"])
    batches = (inputs((5, 12), seed) for seed in itertools.count())
    covariance = calibration.input_covariances(model, layers, batches, max_examples=23)
    assert covariance["hidden_1"].examples == 23 and covariance["hidden_1"].rows == 23
    first = np.concatenate([inputs((5, 12), seed) for seed in range(5)])[:23]
    reference = calibration.input_covariances(model, layers, first)
    np.testing.assert_allclose(covariance["hidden_1"].matrix, reference["hidden_1"].matrix,
                               rtol=1e-6, atol=1e-5)


class Batches(keras.utils.PyDataset):
    def __init__(self, data, size, endless=False):
        super().__init__()
        self.data, self.size, self.endless = data, size, endless

    @property
    def num_batches(self):
        return None if self.endless else -(-len(self.data) // self.size)

    def __getitem__(self, index):
        index %= -(-len(self.data) // self.size)
        part = self.data[index * self.size:(index + 1) * self.size]
        return part, np.zeros(len(part))


def test_every_form_of_data_gives_the_same_moments():
    model = small_mlp()
    layers, _ = select_layers(model, ["hidden_2"])
    data = inputs((30, 12))
    labels = np.arange(30) % 3
    reference = calibration.input_covariances(model, layers, data)["hidden_2"].matrix
    forms = {
        "tuple": (data, labels),
        "weighted": (data, labels, np.ones(30)),
        "one-tuple": (data,),
        "tensor": keras.ops.convert_to_tensor(data),
        "list": [data[:10], data[10:25], data[25:]],
        "generator": ((data[i:i + 4], labels[i:i + 4]) for i in range(0, 30, 4)),
        "py_dataset": Batches(data, 8),
        "endless py_dataset": Batches(data, 8, endless=True),
    }
    for name, form in forms.items():
        covariance = calibration.input_covariances(model, layers, form, max_examples=30)
        assert covariance["hidden_2"].examples == 30, name
        np.testing.assert_allclose(covariance["hidden_2"].matrix, reference, rtol=1e-6,
                                   atol=1e-5, err_msg=name)


def test_tf_data_dataset():
    tf = pytest.importorskip("tensorflow")
    model = small_mlp()
    layers, _ = select_layers(model, ["hidden_1"])
    data = inputs((30, 12))
    dataset = tf.data.Dataset.from_tensor_slices((data, np.zeros(30))).batch(8).repeat()
    covariance = calibration.input_covariances(model, layers, dataset, max_examples=30)
    reference = calibration.input_covariances(model, layers, data)
    np.testing.assert_allclose(covariance["hidden_1"].matrix, reference["hidden_1"].matrix,
                               rtol=1e-6, atol=1e-5)
    with pytest.raises(ValueError, match=r"looks like one example: batch the data"):
        calibration.input_covariances(model, layers, tf.data.Dataset.from_tensor_slices(data))


def test_dense_output_identity_for_tokens():
    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(5, 6))
    model = keras.Model(tokens, keras.layers.Dense(7, activation="relu", name="dense")(tokens))
    rows, before = check_output_identity(model, "dense", model.get_layer("dense"),
                                         inputs((4, 5, 6)))
    kernel = KernelView(model.get_layer("dense")).read()
    np.testing.assert_allclose(rows @ kernel, before.reshape(-1, 7), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conv", [
    {"strides": 2, "padding": "same"},
    {"strides": (2, 3), "padding": "valid"},
    {"dilation_rate": 2, "padding": "same"},
    {"dilation_rate": (2, 1), "padding": "valid", "kernel_size": (3, 3)},
    {"strides": 1, "padding": "same", "kernel_size": (4, 4)},
])
def test_conv_weight_scheme_output_identity(conv):
    model = conv_model(**conv, use_bias=True)
    layer = model.get_layer("conv")
    rows, before = check_output_identity(model, "conv", layer, inputs((3, 9, 11, 3)))
    np.testing.assert_allclose(rows @ KernelView(layer).read(), before.reshape(-1, 4),
                               rtol=1e-4, atol=1e-5)


def test_conv_channels_first_rows_are_the_channels_last_ones():
    data = inputs((2, 9, 11, 3))
    first = keras.layers.Conv2D(4, (3, 2), strides=2, padding="same",
                                data_format="channels_first")
    first.build((None, 3, 9, 11))
    last = conv_model(strides=2, padding="same").get_layer("conv")
    for scheme in ("weight", "spatial"):
        np.testing.assert_array_equal(
            calibration.input_rows(first, data.transpose(0, 3, 1, 2), scheme),
            calibration.input_rows(last, data, scheme))


def test_conv_channels_first():
    model = conv_model(input_shape=(3, 9, 11), data_format="channels_first", strides=2,
                       padding="same")
    data = inputs((2, 3, 9, 11))
    try:
        model(data)
    except Exception as error:  # noqa: BLE001  (TensorFlow's CPU kernels lack NCHW)
        pytest.skip(f"this backend cannot run a channels_first Conv2D here: {error}")
    check_output_identity(model, "conv", model.get_layer("conv"), data)


@pytest.mark.parametrize("conv", [{"strides": 2, "padding": "same"},
                                  {"strides": (1, 3), "padding": "valid"},
                                  {"dilation_rate": 2, "padding": "valid"}])
def test_conv_spatial_scheme_is_exact_for_a_vertical_kernel(conv):
    model = conv_model(kernel_size=(3, 1), **conv)
    check_output_identity(model, "conv", model.get_layer("conv"), inputs((3, 9, 11, 3)),
                          conv_scheme="spatial")


@pytest.mark.parametrize("conv, columns", [
    ({"strides": 2, "padding": "same"}, range(11)),
    ({"dilation_rate": 2, "padding": "valid"}, range(11)),
    ({"strides": (2, 3), "padding": "valid"}, [0, 1, 3, 4, 6, 7, 9, 10]),  # 2, 5, 8 unread
])
def test_conv_spatial_rows_are_what_the_first_factor_sees(conv, columns):
    model = conv_model(kernel_size=(3, 2), **conv)
    layer = model.get_layer("conv")
    data = inputs((2, 9, 11, 3))
    rows = calibration.input_rows(layer, data, "spatial")
    first = inputs((3, 1, 3, 5), seed=1)  # a kh x 1 factor with 5 filters
    (sh, _), (dh, _) = layer.strides, layer.dilation_rate
    seen = keras.ops.conv(data, first, strides=(sh, 1), padding=layer.padding,
                          dilation_rate=(dh, 1))
    seen = keras.ops.convert_to_numpy(seen)[:, :, list(columns)]
    np.testing.assert_allclose(rows @ first.reshape(9, 5), seen.reshape(-1, 5), rtol=1e-4,
                               atol=1e-5)
    covariance = calibration.input_covariances(model, {"conv": layer}, data,
                                               conv_scheme="spatial")["conv"]
    assert covariance.width == 9 and covariance.rows == seen.size // 5


@pytest.mark.parametrize("key", ["query", "key", "value", "attention_output", "mlp_1"])
def test_attention_projections_output_identity(key):
    model = vit(seed=0)
    layers, _ = select_layers(model)
    layer = layers[key]
    check_output_identity(model, key, layer, inputs((3, 8, 8, 1)))


def test_one_pass_for_several_layers_equals_one_layer_at_a_time():
    model = vit(seed=0)
    layers, _ = select_layers(model)
    data = inputs((4, 8, 8, 1))
    together = calibration.input_covariances(model, layers, data)
    for key in ("patches", "attention_output", "head"):
        alone = calibration.input_covariances(model, {key: layers[key]}, data)
        assert list(alone) == [key]
        np.testing.assert_allclose(alone[key].matrix, together[key].matrix, rtol=1e-6)
    assert together["query"].rows == 4 * 4 and together["patches"].rows == 4 * 4


def test_covariances_follow_the_current_weights():
    """Sequential calibration: a later layer's moments change with an earlier kernel."""
    model = small_mlp()
    layers, _ = select_layers(model)
    data = inputs((20, 12))
    before = calibration.input_covariances(model, {"hidden_2": layers["hidden_2"]}, data)
    view = KernelView(layers["hidden_1"])
    view.write(0.5 * view.read())
    after = calibration.input_covariances(model, {"hidden_2": layers["hidden_2"]}, data)
    np.testing.assert_allclose(after["hidden_2"].matrix, 0.25 * before["hidden_2"].matrix,
                               rtol=1e-4, atol=1e-6)


def test_calls_are_restored_after_an_error():
    model = small_mlp()
    layers, _ = select_layers(model)

    def failing():
        yield inputs((4, 12))
        raise RuntimeError("data source broke")

    with pytest.raises(RuntimeError, match="data source broke"):
        calibration.input_covariances(model, layers, failing())
    assert all("call" not in vars(layer) for layer in layers.values())


def test_too_few_vectors_warn_and_still_work():
    model = small_mlp()
    layers, _ = select_layers(model)
    with pytest.warns(UserWarning, match=r"Layer 'hidden_1' saw 5 input vectors \(from 5 "
                                         r"examples\), fewer than its input width 12"):
        covariances = calibration.input_covariances(model, layers, inputs((5, 12)))
    assert np.linalg.matrix_rank(covariances["hidden_2"].matrix) <= 5
    result = whitened_svd(KernelView(layers["hidden_2"]).read(), covariances["hidden_2"])
    assert np.all(np.isfinite(result.truncate(3).reconstruct()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibration.input_covariances(model, layers, inputs((16, 12)))


@pytest.mark.parametrize("data, error, match", [
    (np.ones((4, 13), "float32"), ValueError,
     (r"must have shape \(batch, 12\) for the input of model 'mlp'; received a batch of "
      r"shape \(4, 13\)")),
    (np.ones((4, 3, 4), "float32"), ValueError, r"shape \(batch, 12\).*\(4, 3, 4\)"),
    ([np.ones(12, "float32")], ValueError,
     r"received a batch of shape \(12,\) \(it looks like one example"),
    (np.array([["a"] * 12]), TypeError, r"must be numeric.*batch 0 has dtype <U1"),
    (np.ones((2, 12), dtype=complex), TypeError, r"must be numeric.*dtype complex128"),
    (np.zeros((0, 12), "float32"), ValueError, r"hold no examples: received array"),
    ([], ValueError, r"hold no examples: received \[\] of type list"),
    ({"pixels": np.ones((2, 12))}, ValueError,
     r"models with one input for now; received a dict with keys \['pixels'\]"),
    ("pixels.npy", TypeError, r"must be an array, a tuple.*received 'pixels.npy' of type str"),
    (3.0, TypeError, r"received 3.0 of type float"),
    ((np.ones((2, 12)),) * 4, TypeError, r"\(x, y, sample_weight\); received a tuple of 4"),
    ([(np.ones((2, 12)), np.ones((2, 12))) * 2], TypeError, r"received a tuple of 4 items"),
    ([((np.ones((2, 6)), np.ones((2, 6))), np.zeros(2))], ValueError,
     r"one input for now; received batches whose x is a tuple of 2 arrays"),
])
def test_bad_data_is_refused(data, error, match):
    model = small_mlp()
    layers, _ = select_layers(model)
    with pytest.raises(error, match=match):
        calibration.input_covariances(model, layers, data)


def test_non_finite_data_is_refused_with_a_count():
    model = small_mlp()
    layers, _ = select_layers(model)
    data = inputs((20, 12))
    data[13, 2] = np.nan
    data[14, :2] = np.inf
    with pytest.raises(ValueError, match=r"Batch 1 of the calibration data holds 3 NaN or "
                                         r"infinite values \(of 96\)"):
        calibration.input_covariances(model, layers, data, batch_size=8)
    # Only what is read counts: the bad rows lie beyond a cap of 8.
    calibration.input_covariances(model, layers, data, batch_size=8, max_examples=8)


@pytest.mark.parametrize("name, value, error, match", [
    ("max_examples", 0, ValueError, r"max_examples must be an integer >= 1, received 0"),
    ("max_examples", 2.5, TypeError, r"max_examples .*received 2.5 of type float"),
    ("max_examples", True, TypeError, r"max_examples .*received True of type bool"),
    ("batch_size", -3, ValueError, r"batch_size must be an integer >= 1, received -3"),
    ("conv_scheme", "tucker", ValueError, r"conv_scheme must be one of .*'tucker'"),
])
def test_bad_arguments_are_refused(name, value, error, match):
    model = small_mlp()
    layers, _ = select_layers(model)
    with pytest.raises(error, match=match):
        calibration.input_covariances(model, layers, inputs((4, 12)), **{name: value})


def test_several_inputs_are_refused():
    first, second = keras.Input((3,), name="first"), keras.Input((4,), name="second")
    merged = keras.layers.Concatenate()([first, second])
    model = keras.Model([first, second], keras.layers.Dense(2, name="dense")(merged),
                        name="two")
    with pytest.raises(ValueError, match=r"one input for now; received model 'two' with 2 "
                                         r"inputs \['first', 'second'\]"):
        calibration.input_covariances(model, {"dense": model.get_layer("dense")},
                                      np.ones((2, 7)))


def test_bad_layers_are_refused():
    model = small_mlp()
    other = small_mlp(seed=1)
    with pytest.raises(ValueError, match=r"Layer 'stranger' was never called when model "
                                         r"'mlp' ran"):
        calibration.input_covariances(model, {"stranger": other.get_layer("hidden_1")},
                                      inputs((4, 12)))
    with pytest.raises(TypeError, match=r"Layer 'pool' must be a Dense, Conv2D or "
                                        r"EinsumDense layer; received .* of type Flatten"):
        calibration.input_covariances(model, {"pool": keras.layers.Flatten()}, inputs((4, 12)))
    with pytest.raises(TypeError, match=r"layers must be a dict .*received \['hidden_1'\]"):
        calibration.input_covariances(model, ["hidden_1"], inputs((4, 12)))
    with pytest.raises(ValueError, match=r"at least one layer; received an empty dict"):
        calibration.input_covariances(model, {}, inputs((4, 12)))
    with pytest.raises(ValueError, match=r"Layer 'fresh' is not built"):
        calibration.input_covariances(model, {"fresh": keras.layers.Dense(3)}, inputs((4, 12)))
    with pytest.raises(TypeError, match=r"model must be a Keras model; received 'mlp'"):
        calibration.input_covariances("mlp", {}, inputs((4, 12)))
