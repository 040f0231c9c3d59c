"""Training throughput of the reference MLP against this machine's matmul peak, side by side.

    python benchmarks/throughput.py [--train-size 0] [--epochs 1] [--configs all]
                                    [--intra-op 0] [--inter-op 0]

Measures the single-precision matrix-multiply peak (numpy's BLAS and TensorFlow, two
2048 x 2048 float32 matrices, best of 10) before and after the training runs (this
machine's rate drifts, so the higher of the two counts), then trains the reference
5x1024 MLP on MNIST under several settings (the input pipeline, XLA compilation, steps
per execution, batch size) and prints each setting's achieved training FLOP rate as a
fraction of both peaks, and the factorized (rank-20 ``LowRankDense``) network's epoch
time against the dense one's. It then splits one XLA training step at batch 128 into its
parts: the forward and backward pass alone, and the Adam update alone. Training FLOPs
are counted analytically: 2 per multiply-add, forward plus the two backward products
(gradients of the weights and of the inputs; none for the inputs of the first layer).
``--intra-op``/``--inter-op`` set TensorFlow's thread pools (0: TensorFlow's default).
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

import svdnet  # noqa
from svdnet import experiments  # noqa: E402
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.experiments.speed import matmul_peak, training_flops_per_example  # noqa: E402

# name: (pipeline, batch size, jit_compile, model, steps per execution)
CONFIGS = {
    "keras-default": ("numpy", 128, False, "dense", 1),
    "tf.data": ("tf.data", 128, False, "dense", 1),
    "xla": ("numpy", 128, True, "dense", 1),
    "xla+tf.data": ("tf.data", 128, True, "dense", 1),
    "xla+tf.data-spe16": ("tf.data", 128, True, "dense", 16),
    "xla+tf.data-b256": ("tf.data", 256, True, "dense", 1),
    "xla+tf.data-b512": ("tf.data", 512, True, "dense", 1),
    "lowrank-r20": ("numpy", 128, False, "lowrank", 1),
    "lowrank-r20-xla+tf.data": ("tf.data", 128, True, "lowrank", 1),
}


def time_epochs(model, data, pipeline, batch_size, epochs):
    """Returns the median seconds of ``epochs`` timed epochs after one warm-up epoch."""
    if pipeline == "tf.data":
        dataset = experiments.training_dataset(data.x_train, data.y_train, batch_size, seed=0)
        fit = dict(x=dataset, shuffle=False)  # the dataset reshuffles itself
    else:
        fit = dict(x=data.x_train, y=data.y_train, batch_size=batch_size)
    model.fit(epochs=1, verbose=0, **fit)  # warm-up: tracing, compilation, caching
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(epochs=1, verbose=0, **fit)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def step_breakdown(batch_size=128, repeats=50):
    """Milliseconds of one XLA training step of the dense reference model at
    ``batch_size`` on random data, and of its parts: the forward and backward pass
    (loss gradients, no update) and the Adam update alone (fixed gradients)."""
    keras.utils.set_random_seed(0)
    model = experiments.build_mlp()
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    x = tf.random.normal((batch_size, 784))
    y = tf.random.uniform((batch_size,), 0, 10, tf.int32)
    fixed = [tf.fill(v.shape, 1e-6) for v in model.trainable_variables]

    def gradients():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)

    @tf.function(jit_compile=True)
    def step():
        loss, grads = gradients()
        optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function(jit_compile=True)
    def forward_backward():
        loss, grads = gradients()
        return loss + tf.add_n([tf.reduce_sum(g[:1]) for g in grads])  # keep every gradient

    @tf.function(jit_compile=True)
    def update():
        optimizer.apply(fixed, model.trainable_variables)
        return tf.constant(0.0)

    def best_ms(function):
        function().numpy()  # compile
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                result = function()
            result.numpy()
            best = min(best, (time.perf_counter() - start) / repeats)
        return 1e3 * best

    times = {"step": best_ms(step), "forward+backward": best_ms(forward_backward),
             "adam update": best_ms(update)}
    return times, training_flops_per_example(model) * batch_size


def measure_peaks(peaks):
    for backend in peaks:
        peaks[backend] = max(peaks[backend], matmul_peak(backend))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per setting")
    parser.add_argument("--configs", default="all",
                        help=f"comma-separated subset of {', '.join(CONFIGS)}")
    parser.add_argument("--intra-op", type=int, default=0,
                        help="TensorFlow intra-op threads (0: default)")
    parser.add_argument("--inter-op", type=int, default=0,
                        help="TensorFlow inter-op threads (0: default)")
    parser.add_argument("--no-breakdown", action="store_true",
                        help="skip the split of one training step into its parts")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")

    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}, commit {info['commit']}, threads intra-op "
          f"{args.intra_op or 'default'}, inter-op {args.inter_op or 'default'}")
    peaks = {"numpy": 0.0, "tensorflow": 0.0}
    measure_peaks(peaks)

    data = experiments.load_dataset("mnist", train_size=args.train_size)
    n = len(data.x_train)
    rates = {}
    epoch_times = {}
    for name in names:
        pipeline, batch_size, jit, kind, steps = CONFIGS[name]
        keras.utils.set_random_seed(0)
        model = experiments.build_mlp(jit_compile=jit)
        if kind == "lowrank":
            model = svdnet.factorize(model, 20, verbose=0)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit, steps_per_execution=steps)
        seconds = time_epochs(model, data, pipeline, batch_size, args.epochs)
        epoch_times[name] = seconds
        rates[name] = training_flops_per_example(model) * n / seconds
        print(f"measured {name}: {seconds:.2f} s", flush=True)
    breakdown = None if args.no_breakdown else step_breakdown()
    measure_peaks(peaks)  # again: the higher rate of before and after counts
    peak_np, peak_tf = peaks["numpy"], peaks["tensorflow"]
    print(f"matmul peak, float32 2048x2048, best before/after: numpy (BLAS) "
          f"{peak_np / 1e9:.1f} GFLOP/s, TensorFlow {peak_tf / 1e9:.1f} GFLOP/s")
    print(f"{'setting':<26} {'epoch s':>8} {'GFLOP/s':>8} {'/ numpy':>8} {'/ TF':>7}")
    for name in names:
        rate = rates[name]
        print(f"{name:<26} {epoch_times[name]:>8.2f} {rate / 1e9:>8.1f} "
              f"{100 * rate / peak_np:>7.1f}% {100 * rate / peak_tf:>6.1f}%")
    for fast, slow in (("lowrank-r20", "keras-default"),
                       ("lowrank-r20-xla+tf.data", "xla+tf.data")):
        if fast in epoch_times and slow in epoch_times:
            print(f"factorized / dense epoch time ({fast} / {slow}): "
                  f"{epoch_times[fast] / epoch_times[slow]:.3f}")
    if breakdown:
        times, flops = breakdown
        print("one XLA training step, batch 128, random data (ms; GFLOP/s of its products; "
              "/ numpy peak):")
        for part, ms in times.items():
            line = f"  {part:<18} {ms:>7.2f} ms"
            if part != "adam update":  # the update has no matrix products
                rate = flops / ms * 1e3
                line += f"  {rate / 1e9:>6.1f} GFLOP/s {100 * rate / peak_np:>5.1f}%"
            if part != "step":
                line += f"  ({100 * ms / times['step']:.0f}% of the step)"
            print(line)


if __name__ == "__main__":
    main()
