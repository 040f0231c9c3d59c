"""``LowRankConv2D``: a Conv2D whose kernel is stored as two rank-k factors."""

from __future__ import annotations

import keras

from svdnet.kernels import check_conv_scheme
from svdnet.lowrank_base import LowRankLayer
from svdnet.validation import check_int


def _pair(name: str, value) -> tuple[int, int]:
    values = (value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints; received {value!r}.")
    return tuple(check_int(name, item, minimum=1) for item in values)


@keras.saving.register_keras_serializable(package="svdnet")
class LowRankConv2D(LowRankLayer):
    """2D convolution with a rank-k kernel, computed as two convolutions.

    With ``scheme="weight"`` (Zhang et al. 2016; AIMET's weight SVD) the layer is a
    ``kh x kw`` convolution with ``rank`` filters (the first factor ``u``, shape
    ``(kh, kw, c_in, rank)``, with the strides, padding and dilation of the original)
    followed by a ``1 x 1`` convolution with ``filters`` filters (``v``, shape
    ``(1, 1, rank, filters)``), bias and activation. With ``scheme="spatial"``
    (Jaderberg et al. 2014) it is a ``kh x 1`` convolution with ``rank`` filters (``u``,
    ``(kh, 1, c_in, rank)``, the vertical stride and dilation) followed by a ``1 x kw``
    one (``v``, ``(1, kw, rank, filters)``, the horizontal ones). Either computes exactly
    the Conv2D whose kernel is :attr:`kernel` (the product of the factors, see
    :mod:`svdnet.kernels`), with ``rank * (m + n)`` kernel parameters for the scheme's
    ``m x n`` matricisation.

    :func:`svdnet.factorize` builds these from trained Conv2D layers; both factors are
    trainable.

    Args:
        filters: Output channels, a positive integer.
        kernel_size: ``kh x kw``, an int or a pair.
        rank: Inner number of channels k, a positive integer.
        scheme: ``"weight"`` or ``"spatial"``. Defaults to ``"weight"``.
        strides: As for ``Conv2D``. Defaults to ``(1, 1)``.
        padding: ``"valid"`` or ``"same"``, as for ``Conv2D``. Defaults to ``"valid"``.
        data_format: ``"channels_last"`` or ``"channels_first"``, or ``None`` for
            ``keras.config.image_data_format()``. Defaults to ``None``.
        dilation_rate: As for ``Conv2D``. Defaults to ``(1, 1)``.
        activation: Activation function. Defaults to ``None`` (linear).
        use_bias: Whether the layer adds a bias. Defaults to ``True``.
        u_initializer: Initializer of ``u``. Defaults to ``"glorot_uniform"``.
        v_initializer: Initializer of ``v``. Defaults to ``"glorot_uniform"``.
        bias_initializer: Initializer of the bias. Defaults to ``"zeros"``.
        kernel_regularizer: Regularizer of the full kernel (the product), as for
            ``Conv2D``. Defaults to ``None``.
        bias_regularizer: Regularizer of the bias. Defaults to ``None``.
        bias_constraint: Constraint of the bias. Defaults to ``None``.
        **kwargs: Base ``Layer`` arguments such as ``name``, ``dtype`` and ``trainable``.
    """

    def __init__(self, filters: int, kernel_size, rank: int, scheme: str = "weight",
                 strides=(1, 1), padding: str = "valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias: bool = True,
                 u_initializer="glorot_uniform", v_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 bias_constraint=None, **kwargs):
        super().__init__(rank=rank, activation=activation, u_initializer=u_initializer,
                         v_initializer=v_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, bias_constraint=bias_constraint,
                         **kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.scheme = check_conv_scheme(scheme)
        self.strides = _pair("strides", strides)
        self.dilation_rate = _pair("dilation_rate", dilation_rate)
        if str(padding).lower() not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'; received {padding!r}.")
        self.padding = str(padding).lower()
        self.data_format = data_format or keras.config.image_data_format()
        self.use_bias = bool(use_bias)

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = int(input_shape[self._channel_axis])
        kh, kw = self.kernel_size
        if self.scheme == "weight":
            u_shape, v_shape = (kh, kw, channels, self.rank), (1, 1, self.rank, self.filters)
        else:
            u_shape, v_shape = (kh, 1, channels, self.rank), (1, kw, self.rank, self.filters)
        self._add_factors(u_shape, v_shape, (self.filters,) if self.use_bias else None)

    def _apply_factors(self, inputs):
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        if self.scheme == "weight":
            first = {"strides": self.strides, "dilation_rate": self.dilation_rate}
            second = {"strides": 1, "padding": "valid"}
        else:
            first = {"strides": (sh, 1), "dilation_rate": (dh, 1)}
            second = {"strides": (1, sw), "dilation_rate": (1, dw), "padding": self.padding}
        outputs = keras.ops.conv(inputs, self.u, padding=self.padding,
                                 data_format=self.data_format, **first)
        return keras.ops.conv(outputs, self.v, data_format=self.data_format,
                              **{"padding": "valid", **second})

    def _broadcast_bias(self):
        shape = (1, 1, 1, self.filters) if self._channel_axis == -1 else (1, self.filters, 1, 1)
        return keras.ops.reshape(self.bias, shape)

    @property
    def kernel(self):
        """The full ``(kh, kw, c_in, filters)`` kernel the two factors compute with."""
        if self.scheme == "weight":
            u = keras.ops.reshape(self.u, (-1, self.rank))
            v = keras.ops.reshape(self.v, (self.rank, self.filters))
            return keras.ops.reshape(keras.ops.matmul(u, v), (*self.kernel_size, -1, self.filters))
        return keras.ops.einsum("icr,jro->ijco", self.u[:, 0], self.v[0])

    def _v_from_matrix(self, v):
        if self.scheme == "weight":
            return super()._v_from_matrix(v)
        # columns are (kw, filters): the 1 x kw kernel is (1, kw, rank, filters)
        v = keras.ops.reshape(v, (self.rank, self.kernel_size[1], self.filters))
        return keras.ops.expand_dims(keras.ops.transpose(v, (1, 0, 2)), 0)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters, "kernel_size": self.kernel_size, "scheme": self.scheme,
            "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "use_bias": self.use_bias,
        }
