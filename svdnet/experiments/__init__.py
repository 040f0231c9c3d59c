"""The experiment harness: svdnet measured on MNIST and Fashion-MNIST.

Data (TensorFlow Datasets), the reference MLP, run configurations and training
methods, the sweep notebook's experiment, the resumable grid runner
(``python -m svdnet.experiments.grid``), result files, provenance, the report's tables,
plots and HTML rendering. It uses the core library :mod:`svdnet`; the core never
imports it. It loads data with TensorFlow Datasets and trains with a ``tf.data``
pipeline and XLA; its results were measured on Keras' TensorFlow backend.
"""

from svdnet.package_api import package_api

package_api(__name__, {
    "svdnet.experiments.config": ("METHODS", "RunConfig"),
    "svdnet.experiments.data": ("DATASETS", "Dataset", "DatasetUnavailableError",
                                "load_dataset", "training_dataset"),
    "svdnet.experiments.model": ("build_mlp",),
    "svdnet.experiments.training": ("Run", "run_reference", "train"),
}, globals())
