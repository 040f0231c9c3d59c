"""Inference speed: dense reference MLP against its rank-k factorizations, side by side.

    python benchmarks/inference.py [--ranks 10 20 50] [--rounds 5] [--min-seconds 0.5]

For the dense 5x1024 MLP and its factorizations (svdnet.factorize) at each rank, measures
in one process, one after another:

- batch-1 latency (median of rounds, microseconds per call);
- batch-256 throughput (examples per second, median of rounds);

for two runtimes: Keras (``predict_on_batch``, the compiled predict function) and the
TFLite float32 interpreter (LiteRT). Prints a table and each model's ratio against the
dense model in the same runtime. Timings do not depend on the weights' values, so the
models are not trained. Nothing is asserted: this is a measurement.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from svdnet.experiments import build_mlp  # noqa: E402
from svdnet.factorize import factorize  # noqa: E402
from svdnet.experiments.provenance import provenance  # noqa: E402
from svdnet.tflite import TFLiteModel, to_tflite  # noqa: E402


def measure(call, rounds: int, min_seconds: float) -> float:
    """Median seconds per call over ``rounds`` rounds of at least ``min_seconds`` each."""
    call()  # warm up: compile, allocate
    per_call = []
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while True:
            call()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        per_call.append(elapsed / count)
    return statistics.median(per_call)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    one = rng.random((1, 784), dtype=np.float32)
    batch = rng.random((256, 784), dtype=np.float32)
    dense = build_mlp()
    models = {"dense": dense}
    for rank in args.ranks:
        models[f"rank {rank}"] = factorize(dense, rank, verbose=0)

    rows = []
    for name, model in models.items():
        lite = TFLiteModel(to_tflite(model))
        for runtime, single, many in (
            ("keras", lambda m=model: m.predict_on_batch(one),
             lambda m=model: m.predict_on_batch(batch)),
            ("tflite", lambda l=lite: l.predict(one, batch_size=1),
             lambda l=lite: l.predict(batch, batch_size=256)),
        ):
            latency = measure(single, args.rounds, args.min_seconds)
            throughput = 256 / measure(many, args.rounds, args.min_seconds)
            rows.append((name, runtime, model.count_params(), latency, throughput))

    info = provenance()
    print(f"# {time.strftime('%Y-%m-%d')}, {info['machine']['cpu']}, "
          f"{info['machine']['cpu_count']} cores, keras {info['versions'].get('keras')}, "
          f"tensorflow {info['versions'].get('tensorflow-cpu', info['versions'].get('tensorflow'))}, "
          f"python {platform.python_version()}, commit {info['commit']}")
    print(f"{'model':<9} {'runtime':<7} {'params':>10} {'batch-1 us':>11} {'speedup':>8} "
          f"{'batch-256 ex/s':>15} {'speedup':>8}")
    base = {runtime: (lat, thr) for name, runtime, _, lat, thr in rows if name == "dense"}
    for name, runtime, params, latency, throughput in rows:
        print(f"{name:<9} {runtime:<7} {params:>10,} {latency * 1e6:>11.1f} "
              f"{base[runtime][0] / latency:>7.2f}x {throughput:>15,.0f} "
              f"{throughput / base[runtime][1]:>7.2f}x")


if __name__ == "__main__":
    main()
