"""The models a run trains, and the reference multilayer perceptron (built here; the CNN
and the vision transformer in :mod:`svdnet.experiments.architectures`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from svdnet.validation import check_int

if TYPE_CHECKING:
    import keras

ARCHITECTURES = ("mlp", "cnn", "vit")
"""The models a run trains: ``"mlp"`` (the reference MLP, :func:`build_mlp`, ``depth``
hidden layers of ``width`` units), ``"cnn"`` and ``"vit"``
(:func:`svdnet.experiments.architectures.build_architecture`, whose layers are fixed).
Declared where no Keras is imported: the grid's ``--help`` lists them."""

REFERENCE_DEPTH = 5


REFERENCE_WIDTH = 1024


def mlp_shapes(input_dim: int = 784, num_classes: int = 10, depth: int = REFERENCE_DEPTH,
               width: int = REFERENCE_WIDTH) -> dict:
    """The kernel shape of each Dense layer :func:`build_mlp` builds, by layer name.

    Known without building the model, so a run's ranks and budget are checked before any
    work; every layer also has a bias of its output size.
    """
    sizes = [input_dim] + [width] * depth + [num_classes]
    names = [f"hidden_{index + 1}" for index in range(depth)] + ["output"]
    return {name: (rows, cols) for name, rows, cols in zip(names, sizes[:-1], sizes[1:])}


def mlp_parameters(input_dim: int, num_classes: int, depth: int, width: int) -> int:
    """Returns the parameter count of the dense MLP that :func:`build_mlp`
    builds (kernels and biases, from :func:`mlp_shapes`)."""
    shapes = mlp_shapes(input_dim, num_classes, depth, width).values()
    return sum(rows * cols + cols for rows, cols in shapes)


def width_for_parameters(parameters: int, input_dim: int = 784, num_classes: int = 10,
                         depth: int = REFERENCE_DEPTH, max_width: int = REFERENCE_WIDTH) -> int:
    """The hidden width (1 to ``max_width``) whose MLP of ``depth`` layers has the parameter
    count (:func:`mlp_parameters`) closest to ``parameters``, the narrower on a tie: the
    ``small`` network of a compressed model of that size.

    Args:
        parameters: The parameter count to match, >= 1.
        input_dim: Defaults to 784.
        num_classes: Defaults to 10.
        depth: Hidden layers. Defaults to 5.
        max_width: The widest candidate. Defaults to 1024.
    """
    parameters = check_int("parameters", parameters, minimum=1)

    def distance(width):
        return abs(mlp_parameters(input_dim, num_classes, depth, width) - parameters), width

    return min(range(1, check_int("max_width", max_width, minimum=1) + 1), key=distance)


def build_mlp(
    input_dim: int = 784,
    num_classes: int = 10,
    depth: int = REFERENCE_DEPTH,
    width: int = REFERENCE_WIDTH,
    activation: str = "relu",
    learning_rate: float = 1e-3,
    name: str = "mlp",
    jit_compile="auto",
) -> keras.Model:
    """Builds and compiles the reference MLP: ``depth`` hidden Dense layers and a softmax.

    The reference experiment uses the defaults: 784 inputs, five hidden
    ``Dense(1024, relu)`` layers and ``Dense(10, softmax)``, 5,012,490 parameters,
    compiled with Adam and sparse categorical cross-entropy. Weights are initialised
    from Keras' global seed: call ``keras.utils.set_random_seed`` first for a
    reproducible model.

    Args:
        input_dim: Number of input features. Defaults to 784.
        num_classes: Number of classes of the softmax output. Defaults to 10.
        depth: Number of hidden layers, >= 1. Defaults to 5.
        width: Units per hidden layer, >= 1. Defaults to 1024.
        activation: Activation of the hidden layers, any name ``keras.activations.get``
            accepts. Defaults to ``"relu"``.
        learning_rate: Adam's learning rate. Defaults to 0.001.
        name: Name of the model. Defaults to ``"mlp"``.
        jit_compile: Passed to ``Model.compile``: ``True`` compiles the training step
            with XLA (except inside a distribution strategy's scope, see
            :func:`resolve_jit_compile`), ``False`` runs it as a plain ``tf.function``,
            ``"auto"`` lets Keras choose. Defaults to ``"auto"``.

    Returns:
        A compiled functional ``keras.Model``.
    """
    input_dim = check_int("input_dim", input_dim, minimum=1)
    num_classes = check_int("num_classes", num_classes, minimum=2)
    depth = check_int("depth", depth, minimum=1)
    width = check_int("width", width, minimum=1)
    # Keras when a model is built: the shapes above serve the grid's --help without it.
    import keras

    from svdnet.jit import resolve_jit_compile

    try:
        keras.activations.get(activation)
    except ValueError as error:
        raise ValueError(
            f"activation must name a Keras activation such as 'relu' or 'tanh'; "
            f"received {activation!r}."
        ) from error
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    x = inputs
    for index in range(depth):
        x = keras.layers.Dense(width, activation=activation, name=f"hidden_{index + 1}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=resolve_jit_compile(jit_compile),
    )
    return model
