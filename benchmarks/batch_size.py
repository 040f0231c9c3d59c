"""Batch size against speed and accuracy: the dense reference model trained for 10 epochs.

    python benchmarks/batch_size.py [--batch-sizes 256,512] [--epochs 10] [--seeds 0]
                                    [--pipeline tf.data] [--jit-compile true]

Trains the dense 5x1024 MLP on all of MNIST with svdnet's training settings (XLA, tf.data;
``--pipeline numpy --jit-compile false`` gives Keras' defaults) at each batch size and
seed (Adam, learning rate 0.001 throughout) and prints the test accuracy and the median
epoch time of each run. Larger batches run the matrix products closer to the
machine's peak (benchmarks/throughput.py) but take fewer optimizer steps per epoch.
Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import svdnet  # noqa
from svdnet import experiments  # noqa: E402
from svdnet.experiments.provenance import provenance  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="128,256,512")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--pipeline", default="tf.data", choices=["tf.data", "numpy"])
    parser.add_argument("--jit-compile", default="true", choices=["true", "false"])
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    jit = args.jit_compile == "true"
    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, commit {info['commit']}, pipeline "
          f"{args.pipeline}, jit_compile {jit}")
    data = experiments.load_dataset("mnist")
    print(f"{'batch':>6} {'seed':>5} {'test accuracy':>14} {'median epoch s':>15}")
    for size in sizes:
        for seed in seeds:
            config = experiments.RunConfig(method="dense", batch_size=size, epochs=args.epochs,
                                      seed=seed, pipeline=args.pipeline, jit_compile=jit)
            run = experiments.train(data, config)
            print(f"{size:>6} {seed:>5} {run.test_accuracy:>14.4f} "
                  f"{statistics.median(run.epoch_seconds):>15.2f}", flush=True)


if __name__ == "__main__":
    main()
