"""`python -m bench.scaling`: how the engine's time grows (issue "Speed": linear
growth in accounts, sessions and securities, shown as curves).

Three series, each point the median CPU time (`time.process_time`, so other
work on a shared machine inflates it little) of a few runs in this process:

- accounts: one engine batch of 1, 10, 100, 1000 accounts of W1 (the nested
  20-stock pie, 1990-2022, monthly deposits and full rebalances), each with
  its own monthly deposit; building the simulations, the batch and the daily
  values, no per-account tables (as Monte Carlo and `compare` run them);
- sessions: one W2 run (500 synthetic securities, opens, dividends, halts,
  quarterly rebalances) over 5, 10, 20 and 30 years, engine and every table;
- securities: W2 over 30 years at 125, 250, 500 and 1000 securities, its
  monthly deposit $2 a security (W2's $1,000 at 500), so every slice gets the
  same dollars (a fixed $1,000 spread over 1,000 slices falls under
  `min_trade`, waits, and doubles the number of windows: another workload).

Writes bench/scaling.json (every point; the fitted line fixed + per_unit x
size; the exponent between the two largest points, 1.0 where time grows in
proportion) and bench/scaling.png (three log-log panels with the fitted
line). About two minutes on 2 cores.

    python -m bench.scaling
    python -m bench.scaling --repeat 1   # quicker, noisier
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import workloads

HERE = Path(__file__).resolve().parent
ACCOUNTS = (1, 10, 100, 1000)
YEARS = (5, 10, 20, 30)
SECURITIES = (125, 250, 500, 1000)


def _cpu(go: Callable[[], object], repeat: int, warm_up: bool = True) -> float:
    """Median CPU seconds of `go` over `repeat` runs (after a warm-up run)."""
    if warm_up:
        go()
    times = []
    for _ in range(repeat):
        t = time.process_time()
        go()
        times.append(time.process_time() - t)
    return statistics.median(times)


def accounts_run(w: workloads.Workload, k: int) -> Callable[[], object]:
    """A batch of `k` W1 accounts, deposits $250 to $750 a month, compact results."""
    from backtest.engine.batch import Batch, batch_values
    from backtest.engine.simulation import Simulation

    base = w.strategy
    strategies = [replace(base, cashflows=(base.cashflows[0], replace(
        base.cashflows[1], amount=250 + 500 * j / max(k - 1, 1)))) for j in range(k)]

    def go() -> object:
        sims = [Simulation(s, w.market) for s in strategies]
        state = Batch(sims, tables=False).run()
        ffill = np.broadcast_to(sims[0]._close_ffill, (k, *sims[0]._close_ffill.shape))
        return batch_values(sims, state, ffill)

    return go


def single_run(w: workloads.Workload) -> Callable[[], object]:
    from backtest.app import simulate

    return lambda: simulate(w.strategy, w.market)


def fit(sizes: list[float], seconds: list[float]) -> dict[str, float]:
    """seconds ~ fixed + per_unit * size (least squares on relative errors), and the
    exponent of the two largest points (1.0: doubling the size doubles the time)."""
    x, y = np.asarray(sizes, dtype=float), np.asarray(seconds)
    per_unit, fixed = np.polyfit(x, y, 1, w=1 / y)
    exponent = np.log(y[-1] / y[-2]) / np.log(x[-1] / x[-2])
    return {"fixed": float(fixed), "per_unit": float(per_unit),
            "exponent_top": float(exponent)}


def measure(repeat: int) -> dict:
    series = {}
    w1 = workloads.w1_nested()
    rows = [{"accounts": k, "seconds": _cpu(accounts_run(w1, k), 1 if k >= 1000 else repeat,
                                            warm_up=k < 1000)}
            for k in ACCOUNTS]
    series["accounts"] = rows
    rows = []
    for years in YEARS:
        w = workloads.w2_scale(years=years)
        rows.append({"years": years, "sessions": len(w.market.sessions),
                     "seconds": _cpu(single_run(w), repeat)})
    series["sessions"] = rows
    rows = []
    for n in SECURITIES:
        w = workloads.w2_scale(n_tickers=n)
        flow = replace(w.strategy.cashflows[0], amount=2.0 * n)
        w = replace(w, strategy=replace(w.strategy, cashflows=(flow,)))
        rows.append({"securities": n, "seconds": _cpu(single_run(w), repeat)})
    series["securities"] = rows
    fits = {name: fit([r[name] for r in rows], [r["seconds"] for r in rows])
            for name, rows in series.items()}
    return {"machine": f"{platform.platform()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"), "clock": "process_time, median",
            "series": series, "fits": fits}


def chart(report: dict, path: Path) -> None:
    """Three log-log panels: the points and the fitted line (fixed + per unit)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    fig = Figure(figsize=(11, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    panels = (("accounts", "accounts in one batch (W1, 33 years)"),
              ("sessions", "sessions (W2, 500 securities)"),
              ("securities", "securities (W2, 30 years)"))
    for k, (name, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        rows = report["series"][name]
        x = np.array([r[name] for r in rows], dtype=float)
        y = np.array([r["seconds"] for r in rows])
        f = report["fits"][name]
        xs = np.geomspace(x.min(), x.max(), 50)
        ax.plot(xs, f["fixed"] + f["per_unit"] * xs, color="#9aa5b1", lw=1.5,
                label=f"{f['fixed']:.3f} s + {f['per_unit'] * 1000:.3g} ms x {name}")
        ax.plot(x, y, "o", color="#1f6feb")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(x))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(name, fontsize=8)
        if k == 0:
            ax.set_ylabel("CPU seconds", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scaling")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    report = measure(args.repeat)
    (HERE / "scaling.json").write_text(json.dumps(report, indent=1) + "\n")
    chart(report, HERE / "scaling.png")
    for name, rows in report["series"].items():
        points = ", ".join(f"{r[name]}: {r['seconds']:.3f} s"
                           for r in rows)
        f = report["fits"][name]
        print(f"{name:10} {f['fixed']:.3f} s + {f['per_unit'] * 1000:.3g} ms each; "
              f"top doubling exponent {f['exponent_top']:.2f}  ({points})")


if __name__ == "__main__":
    main()
