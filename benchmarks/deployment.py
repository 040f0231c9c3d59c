"""Deployment formats of the rank-k model: file size and test accuracy of each.

    python benchmarks/deployment.py [--rank 20] [--epochs 10] [--seed 0] [--out FILE]

Trains the reference MLP with rank-k SVD projection after every epoch (the reference
experiment's compressed model) on MNIST, then measures, in one run, the file size and the
test accuracy of:

- the model in Dense form (full kernels of rank k) as .keras and as TFLite float32 / int8;
- Keras 3's own ``quantize("int8")`` of the Dense form;
- the factorized model (svdnet.factorize) as .keras and as TFLite float32, dynamic-range
  and full-integer int8 (post-training quantization calibrated on 500 training images).

Sizes are compared with the Dense-form float32 TFLite file, which is exactly as large as
the uncompressed dense model's. Writes the figures, with provenance, to ``--out``
(default ``reports/results/deployment-mnist-r<rank>-seed<seed>.json``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import svdnet  # noqa
from svdnet import experiments  # noqa: E402
from svdnet.compression import keras_file_bytes  # noqa: E402
from svdnet.factorize import factorize  # noqa: E402
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.experiments.results import write_json_atomic  # noqa: E402
from svdnet.tflite import TFLiteModel, to_tflite  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = args.out or f"reports/results/deployment-mnist-r{args.rank}-seed{args.seed}.json"

    start = time.perf_counter()
    data = experiments.load_dataset("mnist", train_size=args.train_size)
    config = experiments.RunConfig(rank=args.rank, epochs=args.epochs, seed=args.seed,
                              train_size=args.train_size)
    run = experiments.train(data, config)
    projected = run.model
    factorized = factorize(projected, args.rank, verbose=0)
    calibration = data.x_train[:500]

    def keras_accuracy(model):
        return float(model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)[1])

    rows = {}
    rows["dense form, .keras"] = (keras_file_bytes(projected), keras_accuracy(projected))
    for label, model in (("dense form", projected), ("factorized", factorized)):
        for quantization in ("float32", "dynamic", "int8"):
            lite = TFLiteModel(to_tflite(model, quantization, representative_data=calibration))
            rows[f"{label}, TFLite {quantization}"] = (
                lite.size_bytes, lite.accuracy(data.x_test, data.y_test))
    lite = TFLiteModel(to_tflite(factorized, "int8", representative_data=calibration,
                                 per_channel=False))
    rows["factorized, TFLite int8 per-tensor"] = (
        lite.size_bytes, lite.accuracy(data.x_test, data.y_test))
    rows["factorized, .keras"] = (keras_file_bytes(factorized), keras_accuracy(factorized))
    quantized = keras.models.clone_model(projected)
    quantized.set_weights(projected.get_weights())
    quantized.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    quantized.quantize("int8")
    rows["dense form, Keras quantize('int8'), .keras"] = (
        keras_file_bytes(quantized), keras_accuracy(quantized))

    reference_bytes = rows["dense form, TFLite float32"][0]
    reference_accuracy = rows["factorized, TFLite float32"][1]
    print(f"rank {args.rank}, {args.epochs} epochs, seed {args.seed}: "
          f"{projected.count_params():,} parameters in Dense form, "
          f"{factorized.count_params():,} factorized "
          f"({projected.count_params() / factorized.count_params():.1f}x fewer)")
    print(f"{'format':<45} {'bytes':>11} {'smaller':>8} {'accuracy':>9} {'vs fact. f32':>13}")
    for label, (size, accuracy) in rows.items():
        print(f"{label:<45} {size:>11,} {reference_bytes / size:>7.1f}x {accuracy:>9.4f} "
              f"{100 * (accuracy - reference_accuracy):>+12.2f}pp")
    write_json_atomic(out, {
        "config": {"rank": args.rank, "epochs": args.epochs, "seed": args.seed,
                   "train_size": args.train_size, "dataset": "mnist"},
        "parameters": {"dense_form": projected.count_params(),
                       "factorized": factorized.count_params()},
        "formats": {label: {"bytes": size, "test_accuracy": accuracy}
                    for label, (size, accuracy) in rows.items()},
        "wall_seconds": time.perf_counter() - start,
        "provenance": provenance(),
    })
    print(f"written to {out}")


if __name__ == "__main__":
    main()
