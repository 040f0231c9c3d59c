"""TensorFlow Lite export and evaluation, float32 and int8 post-training quantization."""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np

from svdnet.validation import check_choice, check_int

QUANTIZATIONS = ("float32", "dynamic", "int8")
"""TFLite variants:

- ``float32``: no quantization;
- ``dynamic``: int8 weights, float activations (no calibration data needed);
- ``int8``: full-integer post-training quantization of weights and activations,
  calibrated on representative examples; input and output stay float32.
"""


def to_tflite(
    model: keras.Model,
    quantization: str = "float32",
    representative_data=None,
    calibration_examples: int = 500,
    per_channel: bool = True,
) -> bytes:
    """Converts a Keras model to a TFLite flatbuffer with Keras' own LiteRT export.

    Args:
        model: A built Keras model with one input.
        quantization: One of :data:`QUANTIZATIONS`. Defaults to ``"float32"``.
        representative_data: Input examples for calibrating ``"int8"`` (required there).
        calibration_examples: How many of them to use. Defaults to 500.
        per_channel: Quantize weights with one scale per output channel (TFLite's
            default) rather than one per tensor. Per-tensor scales save the per-channel
            scale and zero-point tables (about 12 bytes per output unit per layer), which
            matter once low-rank factors have made the weights small. Defaults to ``True``.

    Returns:
        The ``.tflite`` file contents.
    """
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"to_tflite needs a built Keras model; received {model!r:.80} of type "
                        f"{type(model).__name__}.")
    check_choice("quantization", quantization, QUANTIZATIONS)
    calibration_examples = check_int("calibration_examples", calibration_examples, minimum=1)
    options = {}
    if quantization in ("dynamic", "int8"):
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
        if not per_channel:
            # A TFLiteConverter attribute; Keras' LiteRT exporter sets it by name.
            options["_experimental_disable_per_channel"] = True
    if quantization == "int8":
        if representative_data is None:
            raise ValueError(
                "quantization='int8' needs representative_data (input examples to calibrate "
                "activation ranges); received None."
            )
        sample = _representative_sample(model, representative_data, calibration_examples)

        def representative_dataset():
            for row in sample:
                yield [row[None, :]]

        options["representative_dataset"] = representative_dataset
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        model.export(path, format="litert", verbose=False, **options)
        with open(path, "rb") as stream:
            return stream.read()


def _representative_sample(model, data, count: int) -> np.ndarray:
    """The first ``count`` calibration examples as float32, checked against the model's
    input shape (the converter's own errors name neither)."""
    if len(model.inputs) != 1:
        raise ValueError(f"int8 calibration supports models with one input; model "
                         f"{model.name!r} has {len(model.inputs)}.")
    expected = tuple(model.inputs[0].shape[1:])
    try:
        sample = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"representative_data must be a numeric array of shape "
                        f"(examples, {', '.join(map(str, expected))}); received "
                        f"{type(data).__name__} that numpy cannot read as floats "
                        f"({error}).") from None
    if sample.ndim != len(expected) + 1 or any(
            size is not None and size != got for size, got in zip(expected, sample.shape[1:])):
        raise ValueError(f"representative_data must have shape (examples, "
                         f"{', '.join(map(str, expected))}) for model {model.name!r}; "
                         f"received shape {sample.shape}.")
    if not len(sample):
        raise ValueError("representative_data holds no example; give at least one.")
    sample = sample[:count]
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"representative_data holds "
                         f"{int(sample.size - np.count_nonzero(np.isfinite(sample)))} NaN or "
                         "infinite value(s) among the examples used for calibration.")
    return sample


class TFLiteModel:
    """Runs a TFLite flatbuffer with the LiteRT (TensorFlow Lite) interpreter.

    Args:
        content: The ``.tflite`` bytes.
        num_threads: Interpreter threads. Defaults to ``None`` (the interpreter's choice).
    """

    def __init__(self, content: bytes, num_threads: int | None = None):
        # LiteRT's interpreter replaces the deprecated tf.lite.Interpreter.
        from ai_edge_litert.interpreter import Interpreter

        self.content = content
        self.interpreter = Interpreter(model_content=content, num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._batch = None

    @property
    def size_bytes(self) -> int:
        """Size of the flatbuffer in bytes."""
        return len(self.content)

    def _resize(self, batch: int):
        if batch != self._batch:
            shape = [batch, *self.input["shape"][1:]]
            self.interpreter.resize_tensor_input(self.input["index"], shape)
            self.interpreter.allocate_tensors()
            self._batch = batch

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Returns the model's outputs for ``x``, computed ``batch_size`` rows at a time."""
        x = np.asarray(x, dtype=self.input["dtype"])
        outputs = []
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            self._resize(len(chunk))
            self.interpreter.set_tensor(self.input["index"], chunk)
            self.interpreter.invoke()
            outputs.append(self.interpreter.get_tensor(self.output["index"]).copy())
        return np.concatenate(outputs)

    def accuracy(self, x, y, batch_size: int = 256) -> float:
        """Classification accuracy of :meth:`predict` on ``(x, y)``."""
        return float(np.mean(self.predict(x, batch_size).argmax(axis=1) == np.asarray(y)))
