"""Scoring engine speed and memory, each against a baseline measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_scoring.py [--quick]``

1. CORR + MMC of 1,000 models x 5,000 ids (one era): crowdalpha's batch
   engine vs numerai-tools computing the same, and vs a floor: one
   ``numpy.sort`` of the same matrix.
2. FNC of 1,000 models x 5,000 ids against 500 features vs numerai-tools.
3. 100 models over 200 eras of 5,000 ids, all metrics (50 int8 features):
   time, and peak traced memory relative to the prediction matrix.
4. The drop-in functions as a numerai-tools user calls them, on the same
   pandas inputs (1,000 columns x 5,000 ids): ``numerai_corr``,
   ``correlation_contribution`` and ``feature_neutral_corr`` (500 features),
   each against numerai-tools' function of the same name.

Timings are the best of ``--repeat`` runs (default 3; numerai-tools once, it is slow).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd
from numerai_tools import scoring as numerai_tools

from crowdalpha import scoring as crowdalpha
from crowdalpha.scoring import score_eras


def best_time(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def tournament_like(rng: np.random.Generator, n: int, k: int) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Continuous predictions loosely tied to a binned target, and a meta-model."""
    target = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=n, p=[0.05, 0.2, 0.5, 0.2, 0.05])
    ids = [f"id{i:06d}" for i in range(n)]
    values = rng.random((k, n)) * 0.9 + 0.1 * target
    predictions = pd.DataFrame(values.T, index=ids, columns=[f"model_{j}" for j in range(k)])
    return predictions, pd.Series(target, index=ids, name="target"), pd.Series(values.mean(axis=0), index=ids)


def bench_corr_mmc(k: int, n: int, repeat: int) -> dict:
    predictions, target, meta = tournament_like(np.random.default_rng(0), n, k)
    ours = best_time(lambda: score_eras(predictions, target, meta_model=meta, metrics=["corr", "mmc"]), repeat)
    baseline = best_time(lambda: (numerai_tools.numerai_corr(predictions, target),
                                  numerai_tools.correlation_contribution(predictions, meta, target)), 1)
    matrix = predictions.to_numpy().T.copy()
    floor = best_time(lambda: np.sort(matrix, axis=1), repeat)
    return {"benchmark": f"CORR+MMC {k} models x {n} ids", "crowdalpha_s": ours, "numerai_tools_s": baseline,
            "speedup_vs_numerai_tools": baseline / ours, "numpy_sort_s": floor, "ratio_to_sort_floor": ours / floor}


def bench_fnc(k: int, n: int, f: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    predictions, target, _ = tournament_like(rng, n, k)
    features = pd.DataFrame(rng.integers(0, 5, size=(n, f)).astype(np.int8), index=predictions.index,
                            columns=[f"feature_{i}" for i in range(f)])
    ours = best_time(lambda: score_eras(predictions, target, features=features, metrics=["fnc"]), repeat)
    float_features = features.astype(float)
    baseline = best_time(lambda: numerai_tools.feature_neutral_corr(predictions, float_features, target), 1)
    return {"benchmark": f"FNC {k} models x {n} ids x {f} features", "crowdalpha_s": ours,
            "numerai_tools_s": baseline, "speedup_vs_numerai_tools": baseline / ours}


def bench_dropin(k: int, n: int, f: int, repeat: int) -> list[dict]:
    """Each drop-in function against numerai-tools', same inputs, same run."""
    rng = np.random.default_rng(3)
    predictions, target, meta = tournament_like(rng, n, k)
    features = pd.DataFrame(rng.integers(0, 5, size=(n, f)).astype(float), index=predictions.index,
                            columns=[f"feature_{i}" for i in range(f)])
    calls = {
        "numerai_corr": lambda tools: tools.numerai_corr(predictions, target),
        "correlation_contribution": lambda tools: tools.correlation_contribution(predictions, meta, target),
        "feature_neutral_corr": lambda tools: tools.feature_neutral_corr(predictions, features, target),
    }
    results = []
    for name, call in calls.items():
        ours = best_time(lambda call=call: call(crowdalpha), repeat)
        baseline = best_time(lambda call=call: call(numerai_tools), 1)
        size = f"{k} columns x {n} ids" + (f" x {f} features" if name == "feature_neutral_corr" else "")
        results.append({"benchmark": f"drop-in {name}, {size}", "crowdalpha_s": ours,
                        "numerai_tools_s": baseline, "speedup_vs_numerai_tools": baseline / ours})
    return results


def bench_many_eras(k: int, eras: int, per_era: int, f: int) -> dict:
    rng = np.random.default_rng(2)
    n = eras * per_era
    predictions = pd.DataFrame(rng.random((k, n)).T, columns=[f"model_{j}" for j in range(k)])
    target = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=n, p=[0.05, 0.2, 0.5, 0.2, 0.05])
    era = np.repeat(np.arange(eras), per_era)
    meta = rng.random(n)
    benchmark = rng.random(n)
    features = rng.integers(0, 5, size=(n, f)).astype(np.int8)
    tracemalloc.start()
    start = time.perf_counter()
    scores = score_eras(predictions, target, era, meta_model=meta, benchmark=benchmark, features=features)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix_bytes = predictions.to_numpy().nbytes
    return {"benchmark": f"all metrics, {k} models x {eras} eras x {per_era} ids ({f} features)",
            "crowdalpha_s": elapsed, "scores": len(scores), "prediction_matrix_mb": matrix_bytes / 2**20,
            "peak_extra_memory_mb": peak / 2**20, "peak_memory_ratio": peak / matrix_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, to check the script")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--dropin-only", action="store_true", help="only the drop-in functions (4.)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    dropin = bench_dropin(1000 // scale, 5000, 500 // scale, args.repeat)
    results = dropin if args.dropin_only else [
        *dropin,
        bench_corr_mmc(1000 // scale, 5000, args.repeat),
        bench_fnc(1000 // scale, 5000, 500 // scale, args.repeat),
        bench_many_eras(100 // scale, 200 // scale, 5000, 50),
    ]
    for result in results:
        print(result.pop("benchmark"))
        for key, value in result.items():
            print(f"  {key:28s} {value:10.3f}" if isinstance(value, float) else f"  {key:28s} {value}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
