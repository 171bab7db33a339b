"""Time one workload in this process: `python -m bench.one W1 [--peer] [--repeat N]`.

Prints one JSON line: the median and every time in seconds, and the peak
resident memory of the process (so each workload runs in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable

from bench import workloads


def _ours(w: workloads.Workload) -> Callable[[], float]:
    from backtest.app import simulate

    def go() -> float:
        return float(simulate(w.strategy, w.market).daily["value"].iloc[-1])

    return go


def _peer(w: workloads.Workload, monthly: float, initial: float,
          rebalance: str) -> Callable[[], float]:
    from bench.peers import bt_backtest, run_bt

    def go() -> float:
        return run_bt(bt_backtest(w.strategy.portfolio, w.prices, initial=initial,
                                  monthly=monthly, rebalance=rebalance))

    return go


BUILD = {
    "W1": (workloads.w1_nested, dict(monthly=500, initial=10_000, rebalance="month")),
    "W2": (workloads.w2_scale, dict(monthly=1_000, initial=1_000, rebalance="quarter")),
    "W3": (workloads.w3_deep, None),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--peer", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--securities", type=int, default=None)
    ap.add_argument("--years", type=float, default=None)
    args = ap.parse_args()
    build, peer = BUILD[args.workload]
    kwargs = {}
    if args.securities is not None:
        kwargs["n_tickers"] = args.securities
    if args.years is not None:
        kwargs["years"] = args.years
    w = build(**kwargs)
    go = _peer(w, **peer) if args.peer else _ours(w)
    for _ in range(args.warmup):
        go()
    times, final = [], 0.0
    for _ in range(args.repeat):
        t = time.perf_counter()
        final = go()
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"workload": args.workload, "peer": args.peer,
                      "median": statistics.median(times), "times": times, "peak_mb": peak,
                      "final_value": final,
                      "sessions": int(len(w.market.sessions)),
                      "securities": int(len(w.market.tickers))}))


if __name__ == "__main__":
    main()
