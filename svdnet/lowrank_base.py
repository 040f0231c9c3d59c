"""``LowRankLayer``: what the layers whose kernel is stored as two rank-k factors share."""

from __future__ import annotations

import math

import keras
import numpy as np

from svdnet.validation import check_rank


class LowRankLayer(keras.layers.Layer):
    """Base of the layers whose kernel is stored as two rank-k factors, ``u`` and ``v``.

    It holds the settings those layers share (the rank, activation, initializers,
    regularizers and bias constraint) and writes them into the config; its ``call`` adds
    the kernel's penalty, runs the subclass's :meth:`_apply_factors`, then adds the bias
    and applies the activation. A subclass creates the weights with :meth:`_add_factors`
    in ``build``, defines :attr:`kernel` (the product of the factors, in the original
    layer's layout) and adds its own entries to ``get_config``.

    :meth:`assign_factors` sets the factors from the two matrices of a truncated SVD of
    the kernel's matricisation (see :mod:`svdnet.kernels`): ``u`` is its ``m x k`` left
    factor and ``v`` its ``k x n`` right one, reshaped to the layer's layout.

    Args:
        rank: Inner dimension k of the factorization, a positive integer.
        activation: Activation function. Defaults to ``None`` (linear).
        u_initializer: Initializer of ``u``. Defaults to ``"glorot_uniform"``.
        v_initializer: Initializer of ``v``. Defaults to ``"glorot_uniform"``.
        bias_initializer: Initializer of the bias. Defaults to ``"zeros"``.
        kernel_regularizer: Regularizer of the full kernel (the product of the factors,
            the kernel the layer computes with, not each factor), added to the layer's
            losses at every call. Defaults to ``None``.
        bias_regularizer: Regularizer of the bias. Defaults to ``None``.
        bias_constraint: Constraint of the bias. Defaults to ``None``.
        **kwargs: Base ``Layer`` arguments such as ``name``, ``dtype``, ``trainable``
            and ``activity_regularizer``.
    """

    def __init__(self, rank: int, activation=None, u_initializer="glorot_uniform",
                 v_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.rank = check_rank(rank)
        self.activation = keras.activations.get(activation)
        self.u_initializer = keras.initializers.get(u_initializer)
        self.v_initializer = keras.initializers.get(v_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def _add_factors(self, u_shape: tuple, v_shape: tuple, bias_shape: tuple | None) -> None:
        """Creates the weights ``u``, ``v`` and ``bias``, in that order (the order a
        saved model's weights are read back in).

        Args:
            u_shape: Shape of ``u``, in the layer's layout.
            v_shape: Shape of ``v``, in the layer's layout.
            bias_shape: Shape of the bias, or ``None`` for a layer without one
                (``bias`` is then ``None``).
        """
        self.u = self.add_weight(name="u", shape=u_shape, initializer=self.u_initializer)
        self.v = self.add_weight(name="v", shape=v_shape, initializer=self.v_initializer)
        self.bias = (
            self.add_weight(name="bias", shape=bias_shape, initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
            if bias_shape is not None else None
        )

    def _apply_factors(self, inputs):
        """Returns ``inputs`` through the two factors, before bias and activation."""
        raise NotImplementedError(
            f"{type(self).__name__} must define _apply_factors(inputs).")

    def _broadcast_bias(self):
        """The bias, shaped to be added to :meth:`_apply_factors`' outputs."""
        return self.bias

    def call(self, inputs):
        if self.kernel_regularizer is not None:
            self.add_loss(self.kernel_regularizer(self.kernel))
        outputs = self._apply_factors(inputs)
        if self.bias is not None:
            outputs = keras.ops.add(outputs, self._broadcast_bias())
        return self.activation(outputs) if self.activation is not None else outputs

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """The shape ``(m, n)`` of the kernel's matricisation, the product of the ``m x k``
        and ``k x n`` matrices that :meth:`assign_factors` takes."""
        return math.prod(self.u.shape) // self.rank, math.prod(self.v.shape) // self.rank

    def _v_from_matrix(self, v):
        """Returns the ``k x n`` right factor in the layout of ``v``."""
        return keras.ops.reshape(v, self.v.shape)

    def assign_factors(self, u, v, bias=None) -> None:
        """Sets the factors from the ``m x k`` and ``k x n`` matrices of the kernel's
        matricisation (:attr:`matrix_shape`; for example
        :meth:`svdnet.TruncatedSVD.factors`), and the bias.

        Args:
            u: The ``m x k`` left factor.
            v: The ``k x n`` right factor.
            bias: The bias, or ``None`` to keep the layer's. Defaults to ``None``.

        Raises:
            ValueError: naming a factor of another shape, or a bias given to a layer
                without one.
        """
        rows, cols = self.matrix_shape
        for name, value, shape in (("u", u, (rows, self.rank)), ("v", v, (self.rank, cols))):
            if tuple(np.shape(value)) != shape:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r} takes {name} as a {shape[0]}x"
                    f"{shape[1]} matrix; received one of shape {tuple(np.shape(value))}.")
        if bias is not None and self.bias is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} has no bias; received "
                             f"one of shape {tuple(np.shape(bias))}.")
        self.u.assign(keras.ops.reshape(keras.ops.cast(u, self.u.dtype), self.u.shape))
        self.v.assign(self._v_from_matrix(keras.ops.cast(v, self.v.dtype)))
        if bias is not None:
            self.bias.assign(bias)

    def get_config(self):
        return {
            **super().get_config(),
            "rank": self.rank,
            "activation": keras.activations.serialize(self.activation),
            "u_initializer": keras.initializers.serialize(self.u_initializer),
            "v_initializer": keras.initializers.serialize(self.v_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
        }
