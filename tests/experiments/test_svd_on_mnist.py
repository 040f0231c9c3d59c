"""The randomized SVD backend on the kernels of the reference model trained on MNIST."""

import keras
import numpy as np
import pytest

from svdnet import dense_layers, svd
from svdnet.experiments import build_mlp

pytestmark = pytest.mark.slow


def test_randomized_within_one_percent_of_optimum_on_trained_reference_layers(mnist_small):
    keras.utils.set_random_seed(0)
    model = build_mlp()  # the reference 5 x 1024 architecture
    model.fit(mnist_small.x_train, mnist_small.y_train, epochs=2, batch_size=64, verbose=0)
    for layer in dense_layers(model)[:-1]:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        exact = np.linalg.norm(kernel - svd.project(kernel, 20, svd_method="exact"))
        fast = np.linalg.norm(kernel - svd.project(kernel, 20, svd_method="randomized"))
        assert exact <= fast <= 1.01 * exact, layer.name
