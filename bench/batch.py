"""`python -m bench.batch`: the batch engine at scale (Monte Carlo paths per second).

Runs `bench/mc.yaml` (10-ticker nested pie, 30-year paths) through
`backtest.montecarlo.simulate` on the local cores, once with its monthly
deposits and once as a retirement plan ($1,000,000 to start, $4,000 withdrawn
every month), and writes paths per second and the peak memory of the run to
bench/batch_results.json, with the peak memory of one worker's job (a fresh
process) against the budget of 1 GB per worker, the parent's CPU time (result
building) and the CPU per path of one job run serially in this process
(`--cpu-paths`; the engine's own cost, whatever else the machine runs), split
by stage (prices, simulations, batch set-up, engine loop, valuation, measures).

    python -m bench.batch                # 10,000 paths each
    python -m bench.batch --paths 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
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


WORKER = """
import pickle, sys
from backtest.montecarlo.runner import Batch, engine_batches, run_batch
def hwm():  # this process's peak resident memory, MB (ru_maxrss survives exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
with open(sys.argv[1], "rb") as f:
    payload = pickle.load(f)
base = hwm()
run_batch(Batch(payload, tuple(range(int(sys.argv[2])))))
print(base, hwm(), max(engine_batches(payload, int(sys.argv[2]))))
"""


def worker_peak(strategy, total: int, workers: int) -> dict:
    """Peak memory of one worker running the largest job of a run of `total` paths
    (a fresh process that gets the payload, as a pool worker does)."""
    import pickle
    import tempfile

    from backtest.montecarlo.api import job_sizes, prepare
    from backtest.montecarlo.runner import Payload, capacity

    setup = prepare(strategy, 30)
    payload = Payload(setup.history, setup.plan, 1, "block-bootstrap", 21)
    paths = max(job_sizes(total, workers, capacity(payload)))  # as montecarlo.api cuts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "payload.pickle"
        path.write_bytes(pickle.dumps(payload))
        out = subprocess.run([sys.executable, "-c", WORKER, str(path), str(paths)],
                             cwd=HERE.parent, capture_output=True, text=True, check=True)
    base, peak, per_batch = out.stdout.split()
    return {"job_paths": paths, "engine_batch_paths": int(per_batch),
            "worker_mb_before": round(float(base)), "worker_peak_mb": round(float(peak))}


def cpu_per_path(strategy, paths: int) -> float:
    """CPU ms per path of one job in this process (no rate search, no result
    building), after a warm-up job: the engine's cost, free of the pool and of the
    other processes sharing the machine."""
    from backtest.montecarlo.api import prepare
    from backtest.montecarlo.runner import Batch, Payload, run_batch

    setup = prepare(strategy, 30)
    payload = Payload(setup.history, setup.plan, 1, "block-bootstrap", 21)
    run_batch(Batch(payload, tuple(range(paths))))
    t = time.process_time()
    run_batch(Batch(payload, tuple(range(paths))))
    return 1000 * (time.process_time() - t) / paths


def stage_costs(strategy, paths: int) -> dict[str, float]:
    """CPU ms per path of each stage of one engine batch of `paths` paths (as
    `runner.simulate_paths` runs them), after a warm-up batch: where the time goes."""
    import numpy as np

    from backtest.engine.batch import Batch as EngineBatch
    from backtest.engine.batch import batch_values
    from backtest.engine.market import Market
    from backtest.engine.simulation import Simulation
    from backtest.montecarlo import runner as R
    from backtest.montecarlo.api import prepare

    setup = prepare(strategy, 30)
    h, plan = setup.history, setup.plan
    n, t = len(plan.sessions), len(h.tickers)
    morning = plan.strategy.account.window != "afternoon"
    dividends = bool(h.dividend_yield.any())

    def once() -> dict[str, float]:
        clock, marks = time.process_time, [time.process_time()]
        open_, close, dividend = R._buffers(paths, n, t, morning, dividends)
        for k in range(paths):
            idx = R.resample_indices(h.days, n, R.path_rng(1, k), "block-bootstrap", 21)
            R.prices_into(h, idx, open_[k] if morning else None, close[k],
                          dividend[k] if dividends else None)
        marks.append(clock())
        sims: list[Simulation] = []
        for k in range(paths):
            market = Market(sessions=plan.sessions, tickers=h.tickers, open=open_[k],
                            close=close[k], dividend=dividend[k], has_open=h.has_open)
            sims.append(Simulation(plan.strategy, market, like=sims[0] if sims else None))
        marks.append(clock())
        batch = EngineBatch(sims, tables=False, close=close, open_=open_, dividend=dividend)
        marks.append(clock())
        state = batch.run()
        marks.append(clock())
        ffill = close if not np.isnan(close).any() else np.stack([s._close_ffill for s in sims])
        values, _ = batch_values(sims, state, ffill)
        marks.append(clock())
        for k in range(paths):
            R._measure(k, values[k], sims[k], plan)
        marks.append(clock())
        names = ("prices", "simulations", "batch_setup", "engine_loop", "valuation", "measures")
        return {name: round(1000 * (b - a) / paths, 3)
                for name, a, b in zip(names, marks[:-1], marks[1:], strict=True)}

    once()
    return once()


def main() -> None:
    from backtest.montecarlo import simulate
    from backtest.sweep import LocalExecutor

    ap = argparse.ArgumentParser(prog="python -m bench.batch")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", nargs="*", default=["deposits", "withdrawals"])
    ap.add_argument("--cpu-paths", type=int, default=400,
                    help="paths of the serial CPU-per-path measurement (0: none)")
    args = ap.parse_args()
    rows = []
    for name, strategy in plans().items():
        if name not in args.only:
            continue
        with LocalExecutor(args.workers) as pool:
            t, cpu = time.perf_counter(), time.process_time()
            result = simulate(strategy, years=30, paths=args.paths, seed=1, executor=pool)
            seconds, parent = time.perf_counter() - t, time.process_time() - cpu
        mem = worker_peak(strategy, args.paths, args.workers)
        job = mem["job_paths"]
        rows.append({"workload": f"MC {name}", "paths": len(result.paths),
                     "seconds": round(seconds, 2),
                     "paths_per_second": round(len(result.paths) / seconds, 1),
                     "workers": args.workers, "parent_cpu_seconds": round(parent, 2),
                     "rate_evaluations": result.settings.get("rate_evaluations"), **mem})
        if args.cpu_paths:
            rows[-1]["serial_cpu_ms_per_path"] = round(cpu_per_path(strategy, args.cpu_paths), 2)
            rows[-1]["serial_cpu_ms_per_path_by_stage"] = stage_costs(strategy, args.cpu_paths)
        print(f"MC {name:12} {args.paths} paths {seconds:7.2f} s "
              f"{len(result.paths) / seconds:8.1f} paths/s (parent CPU {parent:.1f} s, "
              f"{rows[-1]['rate_evaluations']} rates tried)  one worker's job of {job} paths: "
              f"{mem['worker_mb_before']} MB -> peak {mem['worker_peak_mb']} MB"
              + (f"; serial {rows[-1]['serial_cpu_ms_per_path']} ms CPU/path "
                 f"{rows[-1]['serial_cpu_ms_per_path_by_stage']}" if args.cpu_paths else ""))
    (HERE / "batch_results.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
