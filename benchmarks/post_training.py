"""Compressing a trained network without any gradient step: weight SVD against data-aware
SVD (one pass and sequential), side by side on the same trained model.

    python benchmarks/post_training.py [--model mlp] [--dataset mnist] [--epochs 10]
        [--seeds 0] [--ratios 3,10,25,50] [--calibration 2048] [--out FILE]
    python benchmarks/post_training.py --summary FILE [FILE ...]

For each seed: trains the model (``mlp``: the reference 5x1024 MLP; ``cnn`` and ``vit``:
the harness's CNN and vision transformer) on the first 55,000 training images for
``--epochs`` epochs, keeping the last 5,000 as a validation split (the split, the models
and the compressors are those of :mod:`svdnet.experiments.post_training`, whose study adds
fine-tuning and the small baselines); then, at each
compression ratio, factorizes it with one parameter budget (dense parameters / ratio)
three ways, with no training at all:

- ``plain``: ``factorize(model, budget=...)``, the SVD of the weights alone;
- ``one pass``: ``factorize(..., data=calibration)``, each layer's output kept on
  ``--calibration`` training images (budget allocated by output energy);
- ``sequential``: the same with ``sequential=True``, each layer fitted to its original
  output from the inputs of the already truncated layers before it.

Prints validation and test accuracy and the seconds each compression took (calibration
pass and SVDs), and writes them with provenance to ``--out`` (default
``reports/post_training/<model>-<dataset>.json``) after each one. A ratio whose budget is
below the model's smallest factorization (rank 1 everywhere) is skipped, saying so. No choice is made on these numbers:
every configuration is reported.

``--summary`` reads result files and prints, per model and ratio, each mode's test
accuracy (mean and standard deviation over seeds) and each data-aware mode against
``plain`` on the same trained models: the paired t-test over seeds
(``scipy.stats.ttest_rel``), Benjamini-Hochberg-corrected over every comparison printed
(``scipy.stats.false_discovery_control``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from svdnet import factorize, parameter_counts  # noqa: E402
from svdnet.experiments.data import training_dataset  # noqa: E402
from svdnet.experiments.execution import execution_record, pin_threads  # noqa: E402
from svdnet.experiments.post_training import (  # noqa: E402
    COMPRESSORS,
    VALIDATION,
    build_model,
    splits,
)
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.experiments.results import write_json_atomic  # noqa: E402

MODES = {name: COMPRESSORS[name] for name in ("plain", "one pass", "sequential")}
"""The compressors measured here: those of the post-training study that take no labels."""


def _numbers(text: str, kind):
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s; "
                                         f"received {text!r}") from None
    if not values or len(set(values)) != len(values) or min(values) <= 0 and kind is float:
        raise argparse.ArgumentTypeError(f"expected distinct positive values; received {text!r}")
    return values


def print_summary(paths) -> None:
    """Prints the side-by-side table of result files, with paired tests against plain."""
    import json

    import pandas as pd
    from scipy import stats

    frame = pd.DataFrame([row for path in paths
                          for row in json.load(open(path, encoding="utf-8"))["rows"]])
    tests = []
    for (model, dataset, ratio), part in frame.groupby(["model", "dataset", "ratio_asked"]):
        plain = part[part["mode"] == "plain"].set_index("seed")["test"]
        for mode in ("one pass", "sequential"):
            other = part[part["mode"] == mode].set_index("seed")["test"].reindex(plain.index)
            p = (stats.ttest_rel(other, plain).pvalue if len(plain) >= 2 else float("nan"))
            tests.append({"model": model, "dataset": dataset, "ratio": ratio, "mode": mode,
                          "p": p})
    tests = pd.DataFrame(tests)
    tested = tests["p"].notna()
    tests.loc[tested, "adjusted p"] = stats.false_discovery_control(tests.loc[tested, "p"])
    print("| model | ratio | mode | seeds | test accuracy | vs dense | vs plain (adjusted p) | "
          "seconds |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for (model, dataset, ratio, mode), part in frame.groupby(
            ["model", "dataset", "ratio_asked", "mode"], sort=False):
        drop = 100 * (part["test"] - part["dense_test"])
        test = tests[(tests["model"] == model) & (tests["ratio"] == ratio)
                     & (tests["mode"] == mode)]
        versus = ("" if test.empty or pd.isna(test["adjusted p"].iloc[0])
                  else f"{test['adjusted p'].iloc[0]:.3f}")
        print(f"| {model} {dataset} | {ratio:g}x ({part['compression'].mean():.1f}x) | {mode} | "
              f"{len(part)} | {100 * part['test'].mean():.2f}"
              + (f" ± {100 * part['test'].std(ddof=1):.2f}" if len(part) > 1 else "")
              + "% | "
              f"{drop.mean():+.2f} | {versus} | {part['seconds'].mean():.1f} |")


def main(argv=None):
    if argv is None:
        import sys

        argv = sys.argv[1:]
    if argv[:1] == ["--summary"]:
        print_summary(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model", choices=("mlp", "cnn", "vit"), default="mlp")
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=lambda text: _numbers(text, int), default=[0])
    parser.add_argument("--ratios", type=lambda text: _numbers(text, float),
                        default=[3.0, 10.0, 25.0, 50.0])
    parser.add_argument("--calibration", type=int, default=2048)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.calibration < 1:
        parser.error(f"--epochs and --calibration must be >= 1; received {args.epochs} and "
                     f"{args.calibration}.")
    out = args.out or f"reports/post_training/{args.model}-{args.dataset}.json"
    pin_threads()  # the one execution rule of every result, before TensorFlow's first operation
    data, (train_x, train_y), (val_x, val_y) = splits(args.dataset)
    calibration = train_x[:args.calibration]
    rows = []
    for seed in args.seeds:
        keras.utils.set_random_seed(seed)
        model = build_model(args.model, data.num_classes, data.input_dim)
        start = time.perf_counter()
        model.fit(training_dataset(train_x, train_y, 128, seed), epochs=args.epochs, verbose=0)
        train_seconds = time.perf_counter() - start

        def accuracy(candidate, x, y):
            return float(candidate.evaluate(x, y, batch_size=1024, verbose=0)[1])

        dense = {"val": accuracy(model, val_x, val_y), "test": accuracy(model, data.x_test,
                                                                          data.y_test)}
        total = int(model.count_params())
        print(f"seed {seed}: dense {args.model} on {args.dataset}, {args.epochs} epochs "
              f"({train_seconds:.0f} s): val {100 * dense['val']:.2f}%, test "
              f"{100 * dense['test']:.2f}%, {total:,} parameters", flush=True)
        for ratio in args.ratios:
            budget = int(total / ratio)
            try:
                parameter_counts(model, budget=budget)
            except ValueError as error:  # a budget below the model's smallest factorization
                print(f"  {ratio:>4g}x: skipped, {error}", flush=True)
                continue
            for mode, options in MODES.items():
                kwargs = {} if mode == "plain" else {"data": calibration, **options}
                start = time.perf_counter()
                compressed = factorize(model, budget=budget, verbose=0, **kwargs)
                seconds = time.perf_counter() - start
                counts = parameter_counts(model, budget=budget,
                                          data=kwargs.get("data"))["factorized"]
                row = {"model": args.model, "dataset": args.dataset, "seed": seed,
                       "epochs": args.epochs, "ratio_asked": ratio, "budget": budget,
                       "parameters": int(compressed.count_params()),
                       "compression": total / compressed.count_params(), "mode": mode,
                       "calibration_examples": 0 if mode == "plain" else len(calibration),
                       "seconds": seconds, "dense_val": dense["val"],
                       "dense_test": dense["test"],
                       "val": accuracy(compressed, val_x, val_y),
                       "test": accuracy(compressed, data.x_test, data.y_test)}
                assert row["parameters"] == counts, (row["parameters"], counts)
                rows.append(row)
                write_json_atomic(out, {"rows": rows, "validation_examples": VALIDATION,
                                        "train_examples": len(train_x),
                                        "execution": execution_record(),
                                        "provenance": provenance()})
                print(f"  {ratio:>4g}x ({row['compression']:.1f}x) {mode:>10}: val "
                      f"{100 * row['val']:.2f}%, test {100 * row['test']:.2f}% "
                      f"({100 * (row['test'] - dense['test']):+.2f}), {seconds:.1f} s",
                      flush=True)
    print(f"wrote {out}")
    means = {}
    for row in rows:
        means.setdefault((row["ratio_asked"], row["mode"]), []).append(row["test"] - row["dense_test"])
    for (ratio, mode), drops in means.items():
        print(f"{ratio:>4g}x {mode:>10}: test - dense {100 * np.mean(drops):+.2f} points "
              f"(seeds {len(drops)})")


if __name__ == "__main__":
    main()
