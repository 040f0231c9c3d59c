"""Seconds to compress a trained network, split into the calibration pass and the SVDs.

    python benchmarks/compression_cost.py [--model mlp] [--dataset mnist] [--seed 0]
        [--epochs 10] [--ratio 10] [--repeats 3] [--out FILE]

Loads the dense model the post-training study trained and cached
(:func:`svdnet.experiments.post_training.dense_weights_path`; run
``python -m svdnet.experiments.post_training`` with the same model, dataset, seed and
epochs first) and, in one process under the execution rule, times side by side at one
parameter budget (dense parameters / ``--ratio``), each ``--repeats`` times:

- ``calibration pass``: :func:`svdnet.calibration.input_covariances` alone, the one
  forward pass over the study's calibration images (2,048 by default) that accumulates every
  compressed layer's input covariance;
- each compressor of the study (:data:`svdnet.experiments.post_training.COMPRESSORS`):
  ``plain`` (the SVDs of the weights and the rebuilt model, no data), ``one pass`` (the
  calibration pass, then the whitened SVDs), ``sequential`` (a pass per layer, on the
  inputs of the layers already truncated) and ``loss budget`` (sequential, with the
  ranks judged by the loss on the labelled sample).

Prints the median seconds of each and its ratio to ``plain``, and ``one pass`` less the
calibration pass (the whitened SVDs and the rebuild); writes them with the execution
record and provenance to ``--out`` (default
``reports/post_training/costs/<model>-<dataset>-seed<seed>.json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from svdnet import factorize  # noqa: E402
from svdnet.calibration import input_covariances  # noqa: E402
from svdnet.experiments.execution import execution_record, pin_threads  # noqa: E402
from svdnet.experiments.post_training import (  # noqa: E402
    CACHE,
    CALIBRATION_PASS,
    COMPRESSORS,
    COSTS,
    MODELS,
    StudySettings,
    build_model,
    cached_dense_weights,
    splits,
)
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.experiments.results import write_json_atomic  # noqa: E402
from svdnet.layers import select_layers  # noqa: E402



def _median_seconds(work, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def measure(settings: StudySettings, ratio: float, repeats: int, cache: str = CACHE) -> dict:
    """The median seconds of the calibration pass and of each compressor, on the cached
    dense model of ``settings``."""
    try:
        weights = cached_dense_weights(settings, cache)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None
    data, (train_x, train_y), _ = splits(settings.dataset)
    model = build_model(settings.model, data.num_classes, data.input_dim)
    model.load_weights(weights)
    calibration = (train_x[:settings.calibration], train_y[:settings.calibration])
    budget = int(model.count_params() / ratio)
    layers = select_layers(model, None, factorizing=True)[0]
    seconds = {CALIBRATION_PASS: _median_seconds(
        lambda: input_covariances(model, layers, calibration[0]), repeats)}
    for name, options in COMPRESSORS.items():
        data_options = {"data": calibration, **options} if options else {}
        keras.utils.set_random_seed(settings.seed)
        seconds[name] = _median_seconds(
            lambda: factorize(model, budget=budget, verbose=0, **data_options), repeats)
    return {"model": settings.model, "dataset": settings.dataset, "seed": settings.seed,
            "epochs": settings.epochs, "ratio": ratio, "budget": budget,
            "calibration_examples": settings.calibration, "layers": len(layers),
            "repeats": repeats, "seconds": seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    defaults = StudySettings()
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--dataset", default=defaults.dataset)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--ratio", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=CACHE)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    try:
        settings = StudySettings(model=args.model, dataset=args.dataset, seed=args.seed,
                                 epochs=args.epochs, ratios=(args.ratio,),
                                 fine_tune_ratios=(args.ratio,))
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1; received {args.repeats}.")
    out = args.out or os.path.join(COSTS, f"{settings.name}.json")
    pin_threads()  # the one execution rule of every result, before TensorFlow's first operation
    result = measure(settings, args.ratio, args.repeats, args.cache)
    seconds = result["seconds"]
    print(f"{settings.name} at {args.ratio:g}x ({result['layers']} layers, "
          f"{settings.calibration:,} calibration images, median of {args.repeats}):")
    print("| step | seconds | / plain |")
    print("| --- | ---: | ---: |")
    for name, value in seconds.items():
        print(f"| {name} | {value:.2f} | {value / seconds['plain']:.1f}x |")
    svds = seconds["one pass"] - seconds[CALIBRATION_PASS]
    print(f"| one pass less the calibration pass | {svds:.2f} | "
          f"{svds / seconds['plain']:.1f}x |")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    write_json_atomic(out, {**result, "execution": execution_record(),
                            "provenance": provenance()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
