"""How the CPU's kernels move a run's numbers: one dense model trained under each setting of
oneDNN's and XLA's instruction sets, each in a process of its own.

    python benchmarks/cpu_numerics.py [--model cnn] [--dataset fashion_mnist] [--seed 0]
                                      [--epochs 10] [--settings default,onednn-off,...]

Each setting trains the post-training study's dense model as the study trains it
(:mod:`svdnet.experiments.post_training`: the same seed, batches, epochs and one thread, the
runs' execution rule) in a subprocess whose environment carries the setting, and prints its
validation and test accuracy, its seconds, and this machine's vector instruction sets
(:func:`svdnet.experiments.provenance.cpu_features`). The same numbers under two settings mean
those kernels do not change the run here; other numbers, that a machine whose CPU picks other
kernels trains the same code to other results. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SETTINGS = {
    "default": {},
    "onednn-off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "onednn-avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2-everywhere": {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"},
}
"""Each setting's environment: the default kernels, oneDNN's off, oneDNN held to AVX2,
oneDNN held to AVX-512 without its newer extensions (VNNI, BF16), and both oneDNN and XLA's
compiled code held to AVX2."""


def train_once(model: str, dataset: str, seed: int, epochs: int) -> dict:
    """Trains the study's dense model in this process; returns its accuracies and time."""
    from svdnet.experiments.execution import pin_threads

    pin_threads()  # the runs' execution rule, before TensorFlow's first operation
    from svdnet.experiments import post_training as study

    data, train, validation = study.splits(dataset)
    start = time.perf_counter()
    dense = study.train_dense(model, data, train, seed, epochs)
    return {"seconds": time.perf_counter() - start, **study.accuracies(dense, data, validation)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model", default="cnn", choices=("mlp", "cnn", "vit"))
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated, of {', '.join(SETTINGS)} (default: all)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(train_once(args.model, args.dataset, args.seed, args.epochs)))
        return
    names = args.settings.split(",")
    unknown = sorted(set(names) - set(SETTINGS))
    if unknown or len(set(names)) != len(names):
        parser.error(f"--settings takes each of {', '.join(SETTINGS)} at most once; "
                     f"received {args.settings!r}.")
    from svdnet.experiments.provenance import cpu_features

    print(f"{args.model} on {args.dataset}, seed {args.seed}, {args.epochs} epochs; "
          f"CPU features: {' '.join(cpu_features()) or 'unknown'}")
    command = [sys.executable, os.path.abspath(__file__), "--child", "--model", args.model,
               "--dataset", args.dataset, "--seed", str(args.seed),
               "--epochs", str(args.epochs)]
    print("| setting | environment | val | test | seconds |\n| --- | --- | ---: | ---: | ---: |")
    for name in names:
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "XLA_FLAGS")}
        result = subprocess.run(command, env={**environment, **SETTINGS[name]},
                                capture_output=True, text=True, check=True)
        numbers = json.loads(result.stdout.strip().splitlines()[-1])
        setting = " ".join(f"{key}={value}" for key, value in SETTINGS[name].items()) or "-"
        print(f"| {name} | {setting} | {100 * numbers['val']:.2f}% | "
              f"{100 * numbers['test']:.2f}% | {numbers['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
