"""Training throughput of the reference MLP against this machine's matmul peak, side by side.

    python benchmarks/throughput.py [--train-size 0] [--epochs 1] [--configs all]

First measures the single-precision matrix-multiply peak (numpy and TensorFlow, two
2048 x 2048 float32 matrices, best of 10), then trains the reference 5x1024 MLP on MNIST
under several settings (the input pipeline, batch size, XLA compilation) and prints each
setting's achieved training FLOP rate as a fraction of that peak, and the factorised
(rank-20 ``LowRankDense``) network's epoch time against the dense one's. Training FLOPs
are counted analytically: 2 per multiply-add, forward plus the two backward products
(gradients of the weights and of the inputs; none for the inputs of the first layer).
Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import svdnet  # noqa: E402
from svdnet.provenance import provenance  # noqa: E402
from svdnet.speed import matmul_peak, training_flops_per_example  # noqa: E402

# name: (pipeline, batch size, jit_compile, model)
CONFIGS = {
    "keras-default": ("numpy", 128, False, "dense"),
    "tf.data": ("tf.data", 128, False, "dense"),
    "xla": ("numpy", 128, True, "dense"),
    "xla+tf.data": ("tf.data", 128, True, "dense"),
    "xla+tf.data-b256": ("tf.data", 256, True, "dense"),
    "xla+tf.data-b512": ("tf.data", 512, True, "dense"),
    "lowrank-r20": ("numpy", 128, False, "lowrank"),
    "lowrank-r20-xla+tf.data": ("tf.data", 128, True, "lowrank"),
}


def time_epochs(model, data, pipeline, batch_size, epochs):
    """Returns the median seconds of ``epochs`` timed epochs after one warm-up epoch."""
    if pipeline == "tf.data":
        dataset = svdnet.training_dataset(data.x_train, data.y_train, batch_size, seed=0)
        fit = dict(x=dataset)
    else:
        fit = dict(x=data.x_train, y=data.y_train, batch_size=batch_size)
    model.fit(epochs=1, verbose=0, **fit)  # warm-up: tracing, compilation, caching
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(epochs=1, verbose=0, **fit)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per setting")
    parser.add_argument("--configs", default="all",
                        help=f"comma-separated subset of {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")

    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}, commit {info['commit']}")
    peaks = {"numpy": matmul_peak("numpy"), "tensorflow": matmul_peak("tensorflow")}
    peak = max(peaks.values())
    print(f"matmul peak, float32 2048x2048: numpy {peaks['numpy'] / 1e9:.1f} GFLOP/s, "
          f"TensorFlow {peaks['tensorflow'] / 1e9:.1f} GFLOP/s; peak = {peak / 1e9:.1f}")

    data = svdnet.load_dataset("mnist", train_size=args.train_size)
    n = len(data.x_train)
    print(f"{'setting':<26} {'epoch s':>8} {'GFLOP/s':>8} {'/ peak':>7}")
    epoch_times = {}
    for name in names:
        pipeline, batch_size, jit, kind = CONFIGS[name]
        keras.utils.set_random_seed(0)
        model = svdnet.build_mlp(jit_compile=jit)
        if kind == "lowrank":
            model = svdnet.factorize(model, 20)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], jit_compile=jit)
        seconds = time_epochs(model, data, pipeline, batch_size, args.epochs)
        epoch_times[name] = seconds
        rate = training_flops_per_example(model) * n / seconds
        print(f"{name:<26} {seconds:>8.2f} {rate / 1e9:>8.1f} {100 * rate / peak:>6.1f}%")
    for fast, slow in (("lowrank-r20", "keras-default"),
                       ("lowrank-r20-xla+tf.data", "xla+tf.data")):
        if fast in epoch_times and slow in epoch_times:
            print(f"factorised / dense epoch time ({fast} / {slow}): "
                  f"{epoch_times[fast] / epoch_times[slow]:.3f}")


if __name__ == "__main__":
    main()
