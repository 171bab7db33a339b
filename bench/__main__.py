"""`python -m bench`: the benchmark suite (issue "Performance").

Each workload runs in a fresh process (so peak memory is its own), once to
warm up and then several times; the table gives our median seconds, peak
memory, the peer's (bt) median on the same work, and the ratio peer/ours.
Results also go to bench/results.json.

    python -m bench                 # everything (bt runs take minutes)
    python -m bench --quick         # ours only, fewer repeats
    python -m bench --only W1 --peer
    python -m bench --only STARTUP  # `backtest --help` against `python -c pass`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one(workload: str, *extra: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.one", workload, *extra],
                         cwd=HERE.parent, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sweep(workers: int) -> dict:
    """W4: `compare` of W1 over the 256-variant grid (window x cash_minimum x
    rebalance.every x allocation x deposit), table and charts, on the local cores
    (`bench.compare.run`; `python -m bench.compare` runs it alone)."""
    from bench.compare import run

    row = run(256, workers, report=True)
    return {**row, "workload": "W4"}


def montecarlo(workers: int, paths: int = 1000) -> dict:
    """Monte Carlo: `paths` 30-year futures of a 10-ticker nested pie, monthly deposits."""
    from backtest.montecarlo import simulate
    from backtest.sweep import LocalExecutor

    t = time.perf_counter()
    result = simulate(HERE / "mc.yaml", years=30, paths=paths, seed=1,
                      executor=LocalExecutor(workers))
    seconds = time.perf_counter() - t
    return {"workload": "MC", "paths": len(result.paths), "seconds": seconds,
            "paths_per_second": len(result.paths) / seconds, "workers": workers}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--only", nargs="*", default=["W1", "W2", "W3", "W4", "MC", "STARTUP"])
    ap.add_argument("--peer", action="store_true", help="also time bt (minutes)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scaling", action="store_true",
                    help="W2 at 125/250/500/1000 securities and 7.5/15/30 years")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeat = ["--repeat", str(2 if args.quick else args.repeat)]
    rows: list[dict] = []
    for w in args.only:
        if w == "W4":
            rows.append(sweep(os.cpu_count() or 2))
            continue
        if w == "MC":
            rows.append(montecarlo(os.cpu_count() or 2, 200 if args.quick else 1000))
            continue
        if w == "STARTUP":
            from bench.startup import startup

            rows.append(startup(3 if args.quick else 7))
            continue
        row = one(w, *repeat)
        if args.peer and w == "W1":
            peer = one(w, "--peer", "--repeat", "1", "--warmup", "0")
            row["peer_median"] = peer["median"]
            row["peer_final_value"] = peer["final_value"]
            row["agreement"] = row["final_value"] / peer["final_value"] - 1
        if args.peer and w == "W2":
            # bt needs ~minutes per simulated year at 500 securities: time it on
            # 3 years and scale linearly in sessions (bt's cost is per session).
            peer = one(w, "--peer", "--repeat", "1", "--warmup", "0", "--years", "3")
            row["peer_median"] = peer["median"] * row["sessions"] / peer["sessions"]
            row["peer_note"] = f"bt timed on {peer['sessions']} sessions, scaled linearly"
        if "peer_median" in row:
            row["ratio"] = row["peer_median"] / row["median"]
        rows.append(row)
    if args.scaling:
        for n in (125, 250, 500, 1000):
            r = one("W2", "--securities", str(n), *repeat)
            rows.append({**r, "workload": f"W2 {n} securities"})
        for years in (7.5, 15, 30):
            r = one("W2", "--years", str(years), *repeat)
            rows.append({**r, "workload": f"W2 {years} years"})
    # Keep the earlier rows of workloads this run did not measure.
    path = HERE / "results.json"
    earlier = json.loads(path.read_text())["rows"] if path.exists() else []
    fresh = {r["workload"] for r in rows}
    report = {"machine": f"{platform.platform()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d"),
              "rows": [r for r in earlier if r["workload"] not in fresh] + rows}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'workload':22} {'ours s':>8} {'peak MB':>8} {'bt s':>9} {'bt/ours':>8}")
    for r in rows:
        if r["workload"] == "STARTUP":
            print(f"{'startup --help':22} {r['medians']['backtest --help']:8.3f} {'':>8} "
                  f"{'':>9} {'':>8}  {r['help_over_python']:+.3f} s over python -c pass "
                  f"(target {r['target_over_python']} s)")
            continue
        if r["workload"] == "MC":
            print(f"{'MC 30-year paths':22} {r['seconds']:8.2f} {'':>8} {'':>9} {'':>8}  "
                  f"{r['paths_per_second']:.1f} paths/s on {r['workers']} workers")
            continue
        if r["workload"] == "W4":
            print(f"{'W4 sweep':22} {r['seconds']:8.2f} {'':>8} {'':>9} {'':>8}  "
                  f"{r['variants_per_second']:.1f} variants/s on {r['workers']} workers")
            continue
        peer = f"{r['peer_median']:9.2f}" if "peer_median" in r else f"{'-':>9}"
        ratio = f"{r['ratio']:8.0f}x" if "ratio" in r else f"{'-':>9}"
        print(f"{r['workload']:22} {r['median']:8.3f} {r['peak_mb']:8.0f} {peer} {ratio}")
        if "agreement" in r:
            print(f"{'':22} final value ours {r['final_value']:,.2f} vs bt "
                  f"{r['peer_final_value']:,.2f} ({r['agreement']:+.4%})")


if __name__ == "__main__":
    main()
