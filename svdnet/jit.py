"""The XLA setting a compiled model can use."""

from __future__ import annotations

import keras


def resolve_jit_compile(jit_compile):
    """Returns ``jit_compile``, except ``False`` inside a ``tf.distribute`` strategy scope.

    XLA cannot compile a step that reads variables mirrored on several devices (the
    step fails with "Trying to access resource ... located in device"), so under a
    distribution strategy svdnet trains without XLA, as Keras' own ``"auto"`` does.
    On other backends than TensorFlow the value is returned unchanged (and TensorFlow
    is not imported).

    Args:
        jit_compile: The value given to ``Model.compile`` (``True``, ``False`` or
            ``"auto"``).
    """
    if jit_compile is not True or keras.backend.backend() != "tensorflow":
        return jit_compile
    import tensorflow as tf

    return False if tf.distribute.has_strategy() else jit_compile
