"""``LowRankDense``: a Dense layer whose kernel is stored as two rank-k factors."""

from __future__ import annotations

import keras

from svdnet.lowrank_base import LowRankLayer
from svdnet.validation import check_int


@keras.saving.register_keras_serializable(package="svdnet")
class LowRankDense(LowRankLayer):
    """Densely connected layer with a rank-k kernel ``W = U @ V``.

    Computes ``activation(inputs @ U @ V + bias)`` where ``U`` has shape
    ``(input_dim, rank)`` and ``V`` shape ``(rank, units)``: ``rank * (input_dim + units)``
    kernel parameters instead of ``input_dim * units``, and as many multiply-accumulates
    per example. It is smaller than ``Dense`` only while
    ``rank < input_dim * units / (input_dim + units)``.

    :func:`svdnet.factorize` builds these from trained Dense layers, with
    ``U = U_k sqrt(S_k)`` and ``V = sqrt(S_k) V_k^T`` from the truncated SVD. Both factors
    are trainable, so a factorized model can be fine-tuned directly.

    Args:
        units: Output size, a positive integer.
        rank: Inner dimension k of the factorization, a positive integer.
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

    def __init__(self, units: int, rank: int, activation=None, use_bias: bool = True,
                 u_initializer="glorot_uniform", v_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 bias_constraint=None, **kwargs):
        super().__init__(rank=rank, activation=activation, u_initializer=u_initializer,
                         v_initializer=v_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, bias_constraint=bias_constraint,
                         **kwargs)
        self.units = check_int("units", units, minimum=1)
        self.use_bias = bool(use_bias)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self._add_factors((input_dim, self.rank), (self.rank, self.units),
                          (self.units,) if self.use_bias else None)
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def _apply_factors(self, inputs):
        return keras.ops.matmul(keras.ops.matmul(inputs, self.u), self.v)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    @property
    def kernel(self):
        """The full ``input_dim x units`` kernel ``U @ V`` (computed, not stored)."""
        return keras.ops.matmul(self.u, self.v)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}
