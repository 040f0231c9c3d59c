"""Each compressible layer's kernel seen as a matrix: its matricisation.

A truncated SVD needs a matrix. A ``Dense`` kernel is one (``m x n``). A ``Conv2D``
kernel ``(kh, kw, c_in, c_out)`` is read as the ``(kh * kw * c_in) x c_out`` matrix of
the *weight* scheme (Zhang et al. 2016, AIMET's weight SVD: rank-k factors are a
Conv2D with k filters followed by a 1x1 Conv2D) or as the ``(kh * c_in) x (kw * c_out)``
matrix of the *spatial* scheme (Jaderberg et al. 2014: a ``kh x 1`` Conv2D with k
filters followed by a ``1 x kw`` one). An ``EinsumDense`` kernel is read through its
equation: the axes it contracts with the input become rows, the axes it adds to the
output columns. Everything downstream (rank choice, budgets, break-even rank, parameter
counts) works on these matrices, so a rank-k factorization of any of them holds
``k * (m + n)`` numbers.

This module is the one place that knows how each layer type's kernel maps to and from
its matrix; :class:`KernelView` is what the callback, ``factorize`` and the rank
selection read and write.
"""

from __future__ import annotations

import dataclasses
import math
import string

import keras
import numpy as np

CONV_SCHEMES = ("weight", "spatial")
"""How a Conv2D kernel is matricised: ``"weight"`` or ``"spatial"``."""

KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.EinsumDense)
"""The layer types whose kernels svdnet compresses."""

KERNEL_LAYER_NAMES = "Dense, Conv2D or EinsumDense"


@dataclasses.dataclass(frozen=True)
class EinsumSplit:
    """An ``EinsumDense`` equation read as a matrix product.

    Attributes:
        inputs: The input's letters (``"..."`` kept as is).
        kernel: The kernel's letters.
        output: The output's letters.
        contracted: The kernel's letters summed with the input, in kernel order (the
            matrix's rows).
        free: The kernel's letters that go to the output, in kernel order (its
            columns).
        inner: A letter used by neither, for the rank axis between the two factors.
    """

    inputs: str
    kernel: str
    output: str
    contracted: str
    free: str
    inner: str

    @property
    def permutation(self) -> list[int]:
        """The kernel axes in matrix order: contracted ones, then free ones."""
        return [self.kernel.index(letter) for letter in self.contracted + self.free]

    @property
    def first_equation(self) -> str:
        """``inputs, U -> intermediate``: contracts the input with the first factor."""
        kept = "".join(letter for letter in self.inputs.replace("...", "")
                       if letter not in self.contracted and letter in self.output)
        prefix = "..." if self.inputs.startswith("...") else ""
        return f"{self.inputs},{self.contracted}{self.inner}->{prefix}{kept}{self.inner}"

    @property
    def second_equation(self) -> str:
        """``intermediate, V -> output``."""
        intermediate = self.first_equation.split("->")[1]
        return f"{intermediate},{self.inner}{self.free}->{self.output}"

    @property
    def product_equation(self) -> str:
        """``U, V -> kernel``: the full kernel from the two factors."""
        return f"{self.contracted}{self.inner},{self.inner}{self.free}->{self.kernel}"


def einsum_split(equation: str) -> EinsumSplit:
    """Reads an ``EinsumDense`` equation as a product over the kernel's axes.

    Args:
        equation: For example ``"abc,cde->abde"`` (a query projection) or
            ``"...b,bc->...c"``.

    Returns:
        An :class:`EinsumSplit`.

    Raises:
        ValueError: naming the equation when it is not ``input,kernel->output``, when an
            ellipsis is anywhere but at the start of the input and output, when a kernel
            axis appears in both the input and the output (a batch-like axis: the kernel
            is then a stack of matrices, not one), or when the kernel has no contracted
            or no free axis.
    """
    if not isinstance(equation, str) or "->" not in equation or equation.count(",") != 1:
        raise ValueError(f"EinsumDense equation {equation!r} is not of the form "
                         "'input,kernel->output'.")
    left, output = equation.replace(" ", "").split("->")
    inputs, kernel = left.split(",")
    for part, where in ((kernel, "kernel"),):
        if "..." in part:
            raise ValueError(f"EinsumDense equation {equation!r} has an ellipsis in the "
                             f"{where}; svdnet handles one only at the start of the input "
                             "and the output.")
    if ("..." in inputs) != ("..." in output) or any(
            "..." in part and not part.startswith("...") for part in (inputs, output)):
        raise ValueError(f"EinsumDense equation {equation!r} has an ellipsis that is not at "
                         "the start of both the input and the output; svdnet handles only "
                         "that one.")
    plain_inputs, plain_output = inputs.replace("...", ""), output.replace("...", "")
    shared = [letter for letter in kernel if letter in plain_inputs and letter in plain_output]
    if shared:
        raise ValueError(f"EinsumDense equation {equation!r}: kernel axis {shared[0]!r} is in "
                         "both the input and the output, so the kernel is a stack of "
                         "matrices, not one matrix; svdnet leaves such layers alone.")
    contracted = "".join(letter for letter in kernel if letter in plain_inputs)
    free = "".join(letter for letter in kernel if letter in plain_output)
    if not contracted or not free or len(contracted) + len(free) != len(kernel):
        raise ValueError(f"EinsumDense equation {equation!r} is not a matrix product over "
                         "the kernel's axes (each kernel axis must be contracted with the "
                         "input or appear in the output, with at least one of each).")
    inner = next(letter for letter in string.ascii_letters if letter not in equation)
    return EinsumSplit(inputs, kernel, output, contracted, free, inner)


def check_conv_scheme(scheme: str) -> str:
    """Checks a Conv2D matricisation scheme: one of :data:`CONV_SCHEMES`."""
    if scheme not in CONV_SCHEMES:
        raise ValueError(f"conv_scheme must be one of {CONV_SCHEMES}; received {scheme!r}.")
    return scheme


def layer_reason(layer) -> str:
    """Says why a layer of a :data:`KERNEL_LAYERS` type has no kernel matrix svdnet can
    compress (``""`` if it has one): a grouped Conv2D, or an EinsumDense equation that is
    not one matrix product."""
    if isinstance(layer, keras.layers.Conv2D) and int(getattr(layer, "groups", 1)) > 1:
        return (f"it is a grouped convolution (groups={layer.groups}): its kernel is "
                f"{layer.groups} separate matrices, not one")
    if isinstance(layer, keras.layers.EinsumDense):
        try:
            einsum_split(layer.equation)
        except ValueError as error:
            return str(error).rstrip(".")
    return ""


@dataclasses.dataclass(frozen=True)
class KernelView:
    """One layer's kernel read and written as a matrix.

    Attributes:
        layer: A built ``Dense``, ``Conv2D`` or ``EinsumDense`` layer.
        conv_scheme: For a Conv2D, ``"weight"`` or ``"spatial"`` (see the module).
    """

    layer: object
    conv_scheme: str = "weight"

    @property
    def kind(self) -> str:
        """``"dense"``, ``"conv2d"`` or ``"einsum"``."""
        if isinstance(self.layer, keras.layers.Conv2D):
            return "conv2d"
        if isinstance(self.layer, keras.layers.EinsumDense):
            return "einsum"
        return "dense"

    @property
    def kernel_shape(self) -> tuple:
        return tuple(int(size) for size in self.layer.kernel.shape)

    @property
    def shape(self) -> tuple[int, int]:
        """The matrix shape ``(m, n)``."""
        return matrix_shape(self.kind, self.kernel_shape, self.conv_scheme,
                            getattr(self.layer, "equation", None))

    def read(self) -> np.ndarray:
        """The kernel as an ``m x n`` numpy matrix, in the kernel's dtype."""
        kernel = np.asarray(keras.ops.convert_to_numpy(self.layer.kernel))
        return to_matrix(kernel, self.kind, self.conv_scheme,
                         getattr(self.layer, "equation", None))

    def write(self, matrix: np.ndarray) -> None:
        """Assigns an ``m x n`` matrix back to the kernel, in the kernel's layout."""
        kernel = from_matrix(np.asarray(matrix), self.kind, self.kernel_shape,
                             self.conv_scheme, getattr(self.layer, "equation", None))
        dtype = keras.backend.standardize_dtype(self.layer.kernel.dtype)
        self.layer.kernel.assign(kernel.astype(dtype, copy=False))


def matrix_shape(kind: str, kernel_shape: tuple, conv_scheme: str = "weight",
                 equation: str | None = None) -> tuple[int, int]:
    """The matrix shape ``(m, n)`` of a kernel of ``kernel_shape`` (see the module)."""
    if kind == "conv2d":
        kh, kw, c_in, c_out = kernel_shape
        if conv_scheme == "spatial":
            return kh * c_in, kw * c_out
        return kh * kw * c_in, c_out
    if kind == "einsum":
        split = einsum_split(equation)
        sizes = dict(zip(split.kernel, kernel_shape))
        return (math.prod(sizes[a] for a in split.contracted),
                math.prod(sizes[a] for a in split.free))
    rows, cols = kernel_shape
    return rows, cols


def to_matrix(kernel: np.ndarray, kind: str, conv_scheme: str = "weight",
              equation: str | None = None) -> np.ndarray:
    """Reads a kernel as its matrix (see the module)."""
    shape = matrix_shape(kind, kernel.shape, conv_scheme, equation)
    if kind == "conv2d" and conv_scheme == "spatial":
        return kernel.transpose(0, 2, 1, 3).reshape(shape)
    if kind == "einsum":
        return kernel.transpose(einsum_split(equation).permutation).reshape(shape)
    return kernel.reshape(shape)


def from_matrix(matrix: np.ndarray, kind: str, kernel_shape: tuple,
                conv_scheme: str = "weight", equation: str | None = None) -> np.ndarray:
    """The kernel of ``kernel_shape`` whose matrix is ``matrix`` (the inverse of
    :func:`to_matrix`)."""
    if kind == "conv2d" and conv_scheme == "spatial":
        kh, kw, c_in, c_out = kernel_shape
        return matrix.reshape(kh, c_in, kw, c_out).transpose(0, 2, 1, 3)
    if kind == "einsum":
        permutation = einsum_split(equation).permutation
        permuted = matrix.reshape([kernel_shape[axis] for axis in permutation])
        return permuted.transpose(np.argsort(permutation))
    return matrix.reshape(kernel_shape)
