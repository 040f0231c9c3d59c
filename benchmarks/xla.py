"""XLA against no XLA: training time of each architecture, side by side in one process.

    python benchmarks/xla.py [--architectures mlp,cnn,vit] [--examples 6144] [--repeats 3]

For each architecture (the reference 5x1024 MLP on MNIST, the CNN on Fashion-MNIST, the
vision transformer on MNIST), builds the dense model twice, compiled with
``jit_compile=True`` and ``False`` as :func:`svdnet.experiments.training.dense_model`
compiles it for a run, warms both up, then times one epoch of ``--examples`` training
examples (batch 128), the two models in turns, ``--repeats`` times, and prints the best
time of each and their ratio (XLA's time over the plain graph's: above 1, XLA is slower).
Threads follow the runs' execution rule (:func:`svdnet.experiments.execution.pin_threads`:
one per run). ``svdnet.experiments.RunConfig(jit_compile=True)`` is the default of every
run; Keras' own ``jit_compile="auto"`` turns XLA off on a machine with no GPU.
Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from svdnet.experiments.execution import pin_threads  # noqa: E402

DATASETS = {"mlp": "mnist", "cnn": "fashion_mnist", "vit": "mnist"}
"""Each architecture's dataset, as its runs use it."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--architectures", default="mlp,cnn,vit",
                        help="comma-separated, of mlp, cnn, vit (default: all three)")
    parser.add_argument("--examples", type=int, default=6144,
                        help="training examples per timed epoch (default: 6144)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed epochs per model, the best counted (default: 3)")
    args = parser.parse_args(argv)
    architectures = args.architectures.split(",")
    unknown = sorted(set(architectures) - set(DATASETS))
    if unknown or len(set(architectures)) != len(architectures):
        parser.error(f"--architectures takes distinct values of {', '.join(DATASETS)}; "
                     f"received {args.architectures!r}")
    if args.examples < 128 or args.repeats < 1:
        parser.error(f"--examples must be >= 128 and --repeats >= 1; received "
                     f"{args.examples} and {args.repeats}")
    pin_threads()

    from svdnet.experiments import RunConfig, load_dataset
    from svdnet.experiments.provenance import provenance
    from svdnet.experiments.training import dense_model

    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, one thread, commit {info['commit']}, "
          f"{args.examples} examples per epoch, best of {args.repeats}")
    print(f"{'model':>6} {'XLA s':>8} {'no XLA s':>9} {'XLA / no XLA':>13}")
    for architecture in architectures:
        data = load_dataset(DATASETS[architecture], train_size=args.examples)
        models = {jit: dense_model(data, RunConfig(architecture=architecture,
                                                   dataset=DATASETS[architecture],
                                                   method="dense", rank=None,
                                                   jit_compile=jit))
                  for jit in (True, False)}
        best = {jit: float("inf") for jit in models}
        for model in models.values():  # compile and warm up
            model.fit(data.x_train[:256], data.y_train[:256], batch_size=128, verbose=0)
        for _ in range(args.repeats):
            for jit, model in models.items():
                start = time.perf_counter()
                model.fit(data.x_train, data.y_train, batch_size=128, epochs=1, verbose=0)
                best[jit] = min(best[jit], time.perf_counter() - start)
        print(f"{architecture:>6} {best[True]:>8.2f} {best[False]:>9.2f} "
              f"{best[True] / best[False]:>12.2f}x", flush=True)


if __name__ == "__main__":
    main()
