"""Batch size against speed and accuracy: the dense reference model trained for 10 epochs.

    python benchmarks/batch_size.py [--batch-sizes 256,512] [--epochs 10] [--seed 0]

Trains the dense 5x1024 MLP on all of MNIST with svdnet's training settings (XLA, tf.data)
at each batch size (Adam, learning rate 0.001 throughout) and prints the test accuracy
and the median epoch time. Larger batches run the matrix products closer to the
machine's peak (benchmarks/throughput.py) but take fewer optimizer steps per epoch.
Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import svdnet  # noqa: E402
from svdnet.provenance import provenance  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="128,256,512")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, commit {info['commit']}, seed {args.seed}")
    data = svdnet.load_dataset("mnist")
    print(f"{'batch':>6} {'test accuracy':>14} {'median epoch s':>15}")
    for size in sizes:
        config = svdnet.RunConfig(method="dense", batch_size=size, epochs=args.epochs,
                                  seed=args.seed)
        run = svdnet.train(data, config)
        print(f"{size:>6} {run.test_accuracy:>14.4f} "
              f"{statistics.median(run.epoch_seconds):>15.2f}", flush=True)


if __name__ == "__main__":
    main()
