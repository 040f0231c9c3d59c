"""``LowRankDense``: a Dense layer whose kernel is stored as two rank-k factors."""

from __future__ import annotations

import keras

from svdnet.validation import check_int, check_rank


@keras.saving.register_keras_serializable(package="svdnet")
class LowRankDense(keras.layers.Layer):
    """Densely connected layer with a rank-k kernel ``W = U @ V``.

    Computes ``activation(inputs @ U @ V + bias)`` where ``U`` has shape
    ``(input_dim, rank)`` and ``V`` shape ``(rank, units)``: ``rank * (input_dim + units)``
    kernel parameters instead of ``input_dim * units``, and as many multiply-accumulates
    per example. It is smaller than ``Dense`` only while
    ``rank < input_dim * units / (input_dim + units)``.

    :func:`svdnet.factorize` builds these from trained Dense layers, with
    ``U = U_k sqrt(S_k)`` and ``V = sqrt(S_k) V_k^T`` from the truncated SVD. Both factors
    are trainable, so a factorised model can be fine-tuned directly.

    Args:
        units: Output size, a positive integer.
        rank: Inner dimension k of the factorisation, a positive integer.
        activation: Activation function, as for ``Dense``. Defaults to ``None`` (linear).
        use_bias: Whether the layer adds a bias. Defaults to ``True``.
        u_initializer: Initializer of ``U``. Defaults to ``"glorot_uniform"``.
        v_initializer: Initializer of ``V``. Defaults to ``"glorot_uniform"``.
        bias_initializer: Initializer of the bias. Defaults to ``"zeros"``.
        kernel_regularizer: Regularizer of the kernel ``U @ V``, as for ``Dense``: the
            penalty of the product (the kernel the layer computes with), not of each
            factor, added to the layer's losses at every call. Defaults to ``None``.
        bias_regularizer: Regularizer of the bias. Defaults to ``None``.
        bias_constraint: Constraint of the bias. Defaults to ``None``.
        **kwargs: Base ``Layer`` arguments such as ``name``, ``dtype``, ``trainable``
            and ``activity_regularizer``.
    """

    def __init__(
        self,
        units: int,
        rank: int,
        activation=None,
        use_bias: bool = True,
        u_initializer="glorot_uniform",
        v_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_int("units", units, minimum=1)
        self.rank = check_rank(rank)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.u_initializer = keras.initializers.get(u_initializer)
        self.v_initializer = keras.initializers.get(v_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.u = self.add_weight(
            name="u", shape=(input_dim, self.rank), initializer=self.u_initializer
        )
        self.v = self.add_weight(
            name="v", shape=(self.rank, self.units), initializer=self.v_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
            if self.use_bias
            else None
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        if self.kernel_regularizer is not None:
            self.add_loss(self.kernel_regularizer(self.kernel))
        outputs = keras.ops.matmul(keras.ops.matmul(inputs, self.u), self.v)
        if self.bias is not None:
            outputs = keras.ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    @property
    def kernel(self):
        """The full ``input_dim x units`` kernel ``U @ V`` (computed, not stored)."""
        return keras.ops.matmul(self.u, self.v)

    def assign_factors(self, u, v, bias=None) -> None:
        """Sets ``U`` (``m x k``), ``V`` (``k x n``) and the bias."""
        self.u.assign(keras.ops.cast(u, self.u.dtype))
        self.v.assign(keras.ops.cast(v, self.v.dtype))
        if bias is not None:
            self.bias.assign(bias)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "rank": self.rank,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "u_initializer": keras.initializers.serialize(self.u_initializer),
            "v_initializer": keras.initializers.serialize(self.v_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        })
        return config
