"""``LowRankEinsumDense``: an EinsumDense whose kernel is stored as two rank-k factors."""

from __future__ import annotations

import keras

# The shape analysis EinsumDense itself runs in build(): the same kernel and bias shapes.
from keras.src.layers.core.einsum_dense import _analyze_einsum_string

from svdnet.kernels import einsum_split
from svdnet.lowrank_base import LowRankLayer


@keras.saving.register_keras_serializable(package="svdnet")
class LowRankEinsumDense(LowRankLayer):
    """``EinsumDense`` with a rank-k kernel, computed as two einsums.

    The kernel of ``equation`` is read as a matrix (rows: the axes it contracts with the
    input; columns: the axes it adds to the output; :func:`svdnet.kernels.einsum_split`)
    and stored as ``u`` (the contracted axes, then k) and ``v`` (k, then the output
    axes). The layer computes ``einsum(einsum(inputs, u), v)``, plus bias and
    activation: exactly ``EinsumDense(equation)`` with :attr:`kernel` as kernel, for
    ``rank * (m + n)`` kernel parameters instead of ``m * n``. Multi-head attention's
    query, key, value and output projections are EinsumDense layers of this kind.

    Args:
        equation: As for ``EinsumDense``, for example ``"abc,cde->abde"``; it must be a
            matrix product over the kernel's axes (see ``einsum_split``).
        output_shape: As for ``EinsumDense``: the output shape without the batch axis
            (``None`` for an axis of the input's size).
        rank: Inner dimension k, a positive integer.
        activation: Activation function. Defaults to ``None`` (linear).
        bias_axes: As for ``EinsumDense``: output letters the bias spans, or ``None``
            for no bias. Defaults to ``None``.
        u_initializer: Initializer of ``u``. Defaults to ``"glorot_uniform"``.
        v_initializer: Initializer of ``v``. Defaults to ``"glorot_uniform"``.
        bias_initializer: Initializer of the bias. Defaults to ``"zeros"``.
        kernel_regularizer: Regularizer of the full kernel (the product). Defaults to
            ``None``.
        bias_regularizer: Regularizer of the bias. Defaults to ``None``.
        bias_constraint: Constraint of the bias. Defaults to ``None``.
        **kwargs: Base ``Layer`` arguments such as ``name``, ``dtype`` and ``trainable``.

    Raises:
        ValueError: naming the equation when it is not such a product.
    """

    def __init__(self, equation: str, output_shape, rank: int, activation=None,
                 bias_axes: str | None = None, u_initializer="glorot_uniform",
                 v_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, bias_constraint=None,
                 **kwargs):
        super().__init__(rank=rank, activation=activation, u_initializer=u_initializer,
                         v_initializer=v_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, bias_constraint=bias_constraint,
                         **kwargs)
        self.split = einsum_split(equation)
        self.equation = equation
        self.partial_output_shape = ((output_shape,) if isinstance(output_shape, int)
                                     else tuple(output_shape))
        self.bias_axes = bias_axes

    def build(self, input_shape):
        kernel_shape, bias_shape, _, _, _ = _analyze_einsum_string(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        sizes = dict(zip(self.split.kernel, kernel_shape))
        self.kernel_shape = tuple(int(size) for size in kernel_shape)
        self._add_factors((*[sizes[a] for a in self.split.contracted], self.rank),
                          (self.rank, *[sizes[a] for a in self.split.free]),
                          None if bias_shape is None else tuple(bias_shape))

    def _apply_factors(self, inputs):
        outputs = keras.ops.einsum(self.split.first_equation, inputs, self.u)
        return keras.ops.einsum(self.split.second_equation, outputs, self.v)

    @property
    def kernel(self):
        """The full kernel of ``equation`` (computed from the factors, not stored)."""
        return keras.ops.einsum(self.split.product_equation, self.u, self.v)

    @classmethod
    def like(cls, layer: keras.layers.EinsumDense, rank: int) -> LowRankEinsumDense:
        """A rank-``rank`` layer with ``layer``'s equation, shapes and settings, built
        from ``layer``'s kernel shape (its weights are not copied)."""
        config = layer.get_config()
        low = cls(equation=config["equation"], output_shape=config["output_shape"],
                  rank=rank, activation=config["activation"], bias_axes=config["bias_axes"],
                  kernel_regularizer=config.get("kernel_regularizer"),
                  bias_regularizer=config.get("bias_regularizer"),
                  bias_constraint=config.get("bias_constraint"),
                  activity_regularizer=config.get("activity_regularizer"),
                  name=layer.name, dtype=config.get("dtype"), trainable=layer.trainable)
        sizes = dict(zip(low.split.kernel, layer.kernel.shape))
        letters = low.split.inputs.replace("...", "")
        extra = layer.input_spec.ndim - len(letters) if layer.input_spec else 0
        low.build((*[1] * extra, *[int(sizes.get(letter, 1)) for letter in letters]))
        return low

    def get_config(self):
        return {**super().get_config(), "equation": self.equation,
                "output_shape": self.partial_output_shape, "bias_axes": self.bias_axes}
