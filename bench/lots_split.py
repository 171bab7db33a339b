"""`python -m bench.lots_split`: where a compare variant's CPU goes after the engine.

Runs the first `--variants` of bench.compare's W1 grid serially through the
worker (`backtest.sweep.runner.run_job`, one job) and adds up the process CPU
time of each step of a variant's measures: the result tables in memory
(`tabulate`), the tax lots (`run_tax_tables`), the summary (`summarize`) and
within it performance_summary (TWR, MWR, CAGR, ...) and the tax summary.
Prints ms per variant.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - t0
    return wrapper


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.lots_split")
    ap.add_argument("--variants", type=int, default=32)
    args = ap.parse_args(argv)
    from backtest.analytics import tax
    from backtest.engine import result, summary
    from backtest.sweep import runner
    from bench.compare import subgrid

    result.tabulate = timed("tabulate", result.tabulate)
    tax.run_tax_tables = timed("tax lots", tax.run_tax_tables)
    summary.performance_summary = timed("  performance", summary.performance_summary)
    summary.run_tax_summary = timed("  tax summary", summary.run_tax_summary)
    summary.max_abs_drift = timed("  max_abs_drift", summary.max_abs_drift)
    summary.summarize = timed("summarize", summary.summarize)
    runner.mean_abs_drift = timed("mean_abs_drift", runner.mean_abs_drift)
    runner._run_files = timed("writing", runner._run_files)
    tasks = _tasks(subgrid(args.variants))
    runner.run_job(runner.Job(tuple(tasks)))  # warm: imports, prices, markets
    SPENT.clear()
    t0 = time.process_time()
    out = runner.run_job(runner.Job(tuple(tasks)))
    total = time.process_time() - t0
    n = len(out)
    engine = sum(o.cpu.get("engine", 0.0) for _, o in out if hasattr(o, "cpu"))
    print(f"{n} variants, serial, CPU ms per variant: all {1e3 * total / n:.1f}, "
          f"engine {1e3 * engine / n:.1f}")
    for k, v in SPENT.items():
        print(f"  {k:<18} {1e3 * v / n:7.1f}")


def _tasks(grid: dict) -> list:
    from backtest.sweep import runner
    from backtest.sweep.variants import build_variants

    return [runner.Task(hash=v.hash, name=v.name, document=v.document, source=str(v.source),
                        values=v.values) for v in build_variants([HERE / "w1.yaml"], grid)]


if __name__ == "__main__":
    main()
