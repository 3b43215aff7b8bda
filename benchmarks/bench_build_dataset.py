"""Benchmark: build a simulated dataset version; rows per second and peak memory.

    .venv/bin/python benchmarks/bench_build_dataset.py --preset medium

Each measurement runs in a fresh child process so its peak resident memory is
its own. The baseline in the same run is the market simulator alone streaming
the same eras (features and returns made, nothing binned, targeted, trained or
written): the build's cost is reported relative to it, and its peak memory
relative to the size of the int8 feature matrix it publishes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _simulate_only(preset: str, seed: int, queue: mp.Queue) -> None:
    from crowdalpha.data.builder import _simulator_plan
    from crowdalpha.data.market import MarketSimulator
    from crowdalpha.data.presets import get_preset

    chosen = get_preset(preset)
    start = time.perf_counter()
    plan = _simulator_plan(MarketSimulator(chosen.market, seed=seed), chosen, seed)
    rows = sum(data.n for data in plan.eras)
    queue.put({"seconds": time.perf_counter() - start, "rows": rows})


def _build(preset: str, seed: int, out: str, queue: mp.Queue) -> None:
    import pyarrow.parquet as pq

    from crowdalpha.data import build_dataset, layout

    start = time.perf_counter()
    version = build_dataset(Path(out), preset, seed)
    seconds = time.perf_counter() - start
    features = len(layout.read_features_json(version)["feature_sets"]["all"])
    rows = sum(pq.ParquetFile(version / layout.SPLIT_FILES[s]).metadata.num_rows
               for s in layout.SPLIT_FILES)
    disk = sum(p.stat().st_size for p in version.iterdir() if p.is_file())
    queue.put({"seconds": seconds, "rows": rows, "features": features, "disk_bytes": disk})


def _in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {process.exitcode}")
    # ru_maxrss of RUSAGE_CHILDREN: the largest child so far (KiB on Linux).
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/build_dataset.json"))
    args = parser.parse_args()
    baseline = _in_child(_simulate_only, args.preset, args.seed)
    out = tempfile.mkdtemp(prefix="crowdalpha-bench-")
    try:
        build = _in_child(_build, args.preset, args.seed, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    int8_bytes = build["rows"] * build["features"]
    report = {
        "preset": args.preset,
        "rows": build["rows"],
        "features": build["features"],
        "build_seconds": round(build["seconds"], 1),
        "build_rows_per_second": round(build["rows"] / build["seconds"]),
        "baseline_simulate_only_seconds": round(baseline["seconds"], 1),
        "baseline_rows_per_second": round(baseline["rows"] / baseline["seconds"]),
        "build_time_vs_baseline": round(build["seconds"] / baseline["seconds"], 2),
        "int8_feature_bytes": int8_bytes,
        "peak_rss_bytes": build["peak_rss_bytes"],
        "peak_rss_vs_int8_output": round(build["peak_rss_bytes"] / int8_bytes, 2),
        "files_on_disk_bytes": build["disk_bytes"],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    for key, value in report.items():
        print(f"{key:32s} {value}")


if __name__ == "__main__":
    main()
