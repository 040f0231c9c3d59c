"""Cost of the epoch-end SVD step against one training epoch, side by side.

    python benchmarks/svd_step.py [--rank 20] [--train-size 0] [--rounds 3]

Trains the reference 5x1024 MLP on MNIST for one warm-up epoch and one timed epoch (batch
128, XLA and tf.data as ``experiments.train`` does);
then, on the trained kernels, times one projection of all Dense layers by
``SVDProjection`` with each backend (exact, randomized, auto), median of ``--rounds``, and
prints each as a fraction of the epoch, with the randomized backend's reconstruction
error relative to the exact (optimal) one. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import svdnet  # noqa
from svdnet import experiments  # noqa: E402
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.svd import truncated_svd  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    data = experiments.load_dataset("mnist", train_size=args.train_size)
    keras.utils.set_random_seed(0)
    # The training settings of experiments.train: XLA and a cached, prefetched tf.data pipeline.
    model = experiments.build_mlp(jit_compile=True)
    dataset = experiments.training_dataset(data.x_train, data.y_train, batch_size=128)
    # Warm-up: compiles the step and fills the pipeline's cache, so that the timed epoch
    # is a steady-state one like every later epoch of a run.
    model.fit(dataset, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    epoch = time.perf_counter() - start
    trained = model.get_weights()

    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, commit {info['commit']}")
    print(f"one training epoch ({len(data.x_train):,} examples, batch 128): {epoch:.2f} s")
    print(f"{'backend':<11} {'projection s':>13} {'/ epoch':>8} {'error / exact error':>20}")
    kernels = [keras.ops.convert_to_numpy(layer.kernel) for layer in svdnet.dense_layers(model)
               if min(layer.kernel.shape) > args.rank]
    exact_errors = [truncated_svd(k, args.rank, "exact").relative_error() for k in kernels]
    for backend in ("exact", "randomized", "auto"):
        callback = svdnet.SVDProjection(rank=args.rank, svd_method=backend)
        callback.set_model(model)
        times = []
        for _ in range(args.rounds):
            model.set_weights(trained)
            times.append(callback.project()["seconds"])
        seconds = statistics.median(times)
        errors = [truncated_svd(k, args.rank, backend).relative_error() for k in kernels]
        worst = max(e / x for e, x in zip(errors, exact_errors))
        print(f"{backend:<11} {seconds:>13.3f} {100 * seconds / epoch:>7.2f}% "
              f"{worst:>19.5f}x")
    model.set_weights(trained)


if __name__ == "__main__":
    main()
