"""`python -m bench.batch`: the batch engine at scale (Monte Carlo paths per second).

Runs `bench/mc.yaml` (10-ticker nested pie, 30-year paths) through
`backtest.montecarlo.simulate` on the local cores, once with its monthly
deposits and once as a retirement plan ($1,000,000 to start, $4,000 withdrawn
every month), and writes paths per second and the peak memory of the run to
bench/batch_results.json.

    python -m bench.batch                # 10,000 paths each
    python -m bench.batch --paths 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plans():
    from backtest.domain.strategy import Cashflow
    from backtest.io.inputs import read_strategy

    base = read_strategy(HERE / "mc.yaml")
    first = base.cashflows[0].date
    withdrawals = replace(base, name="MC withdrawals", cashflows=(
        Cashflow("deposit", 1_000_000, date=first),
        Cashflow("withdrawal", 4_000, every="month", start=dt.date(1990, 2, 1))))
    return {"deposits": base, "withdrawals": withdrawals}


def main() -> None:
    from backtest.montecarlo import simulate
    from backtest.sweep import LocalExecutor

    ap = argparse.ArgumentParser(prog="python -m bench.batch")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", nargs="*", default=["deposits", "withdrawals"])
    args = ap.parse_args()
    rows = []
    for name, strategy in plans().items():
        if name not in args.only:
            continue
        with LocalExecutor(args.workers) as pool:
            t = time.perf_counter()
            result = simulate(strategy, years=30, paths=args.paths, seed=1, executor=pool)
            seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows.append({"workload": f"MC {name}", "paths": len(result.paths),
                     "seconds": round(seconds, 2),
                     "paths_per_second": round(len(result.paths) / seconds, 1),
                     "workers": args.workers, "peak_worker_mb": round(peak)})
        print(f"MC {name:12} {args.paths} paths {seconds:7.2f} s "
              f"{len(result.paths) / seconds:8.1f} paths/s  worker peak {peak:.0f} MB")
    (HERE / "batch_results.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
