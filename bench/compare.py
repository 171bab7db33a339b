"""`python -m bench.compare`: W1 over the 256-variant grid, table and charts, end to end.

The grid (issue 15): window x cash_minimum x rebalance.every x allocation x
deposit amount = 2 x 4 x 4 x 2 x 4 = 256 variants of bench/w1.yaml (20
stocks, 33 years, nested pie, monthly deposits). Times `backtest.sweep.compare`
on the local cores (workers = cores unless --workers) into a fresh folder,
with the comparison page and charts, and adds up the CPU seconds each
variant's worker spent (variant.json `cpu_seconds`: engine, measures, writing
its files) and the largest worker's peak memory. Results go to
bench/compare_results.json; `python -m bench --only W4` runs the same.

    python -m bench.compare                 # the 256-variant grid, every core
    python -m bench.compare --variants 32   # the first 32 of the grid (a quick look)
    python -m bench.compare --workers 1 --keep-runs
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRID = {
    "account.window": ["morning", "afternoon"],
    "account.cash_minimum": [0, 100, 500, 1000],
    "rebalance.every": ["never", "month", "quarter", "year"],
    "account.allocation": ["waterfill", "proportional"],
    "cashflows.1.deposit": [250, 500, 750, 1000],
}


def subgrid(count: int) -> dict[str, list]:
    """The grid cut to at most `count` variants (the last keys keep fewer values)."""
    grid = {k: list(v) for k, v in GRID.items()}
    for key in reversed(list(grid)):
        while len(list(itertools.product(*grid.values()))) > count and len(grid[key]) > 1:
            grid[key].pop()
    return grid


def run(variants: int = 256, workers: int | None = None, keep_runs: bool = False,
        report: bool = True, keep: Path | None = None) -> dict:
    from backtest.sweep import LocalExecutor, SerialExecutor, compare

    workers = workers or os.cpu_count() or 1
    grid = subgrid(variants)
    options = {"keep_runs": True} if keep_runs else {}
    with tempfile.TemporaryDirectory() as tmp:
        out = keep if keep is not None else Path(tmp) / "cmp"
        ex = SerialExecutor() if workers == 1 else LocalExecutor(workers)
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            table = compare(HERE / "w1.yaml", grid, out=out, executor=ex, report=report,
                            **options)
            seconds, parent_cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            ex.close()
        peak = 0.0
        cpu: dict[str, float] = {}
        for path in (out / "variants").glob("*/variant.json"):
            meta = json.loads(path.read_text())
            for k, v in meta.get("cpu_seconds", {}).items():
                cpu[k] = cpu.get(k, 0.0) + v
            peak = max(peak, float(meta.get("worker_peak_mb") or 0.0))
    n = len(table)
    failed = int(table["error"].notna().sum())
    return {"workload": "compare W1 grid", "variants": n, "failed": failed,
            "workers": workers, "keep_runs": keep_runs, "report": report,
            "seconds": round(seconds, 3), "variants_per_second": round(n / seconds, 2),
            "parent_cpu_seconds": round(parent_cpu, 3),
            "worker_peak_mb": round(peak, 1),  # the largest a worker's memory grew
            "cpu_per_variant_ms": {k: round(1000 * v / n, 2) for k, v in cpu.items()},
            "grid": grid}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.compare")
    ap.add_argument("--variants", type=int, default=256)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep-runs", action="store_true")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--out", type=Path, default=None,
                    help="keep the sweep's folder here (a fresh folder: timed from scratch)")
    args = ap.parse_args()
    if args.out is not None and args.out.exists():
        ap.error(f"--out {args.out} exists: the benchmark times a sweep from scratch")
    row = run(args.variants, args.workers, args.keep_runs, not args.no_report, args.out)
    row.update(machine=f"{platform.platform()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}", date=time.strftime("%Y-%m-%d"))
    (HERE / "compare_results.json").write_text(json.dumps(row, indent=1) + "\n")
    per = ", ".join(f"{k} {v:.1f} ms" for k, v in row["cpu_per_variant_ms"].items())
    print(f"{row['variants']} variants ({row['failed']} failed) in {row['seconds']:.2f} s on "
          f"{row['workers']} workers: {row['variants_per_second']:.1f} variants/s; "
          f"worker CPU per variant: {per}")


if __name__ == "__main__":
    main()
