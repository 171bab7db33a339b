"""Safe and perpetual withdrawal rates, by bisection over the same paths (pure: no I/O).

A rate `r` is a plan withdrawing `r` x the starting balance in its first
year (split over the year's occurrences of the plan's withdrawal
frequency, monthly by default), from the first session to the end of the
path, raised by the inflation rate on every anniversary (`plan.rate_plan`).

* The **safe withdrawal rate** (SWR) is the largest rate at which at least
  `confidence` (95%) of the paths pay every withdrawal in full.
* The **perpetual withdrawal rate** (PWR) is the largest rate at which the
  median path ends with at least the starting balance in today's dollars
  (the final value deflated by the inflation rate).

Both are found by bisection on [0, `high`]: `steps` halvings give a
resolution of `high / 2**steps`. Every rate runs the same paths (the same
seeds, so the same markets): success and the median fall as the rate rises,
so the bisection is sound. A rate that still passes at `high` is reported as
"at least `high`".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from backtest.montecarlo.runner import PathResult

DEFAULT_STEPS = 7
DEFAULT_HIGH = 0.15
DEFAULT_PATHS = 100


@dataclass(frozen=True)
class RateStats:
    """What the paths did at one rate."""

    success: float  # share of paths that paid every withdrawal
    median_real_final: float


@dataclass(frozen=True)
class Rates:
    """The rates found, and how they were found."""

    safe: float | None
    safe_at_least: bool  # it passed at `high`: the rate is at least that
    perpetual: float | None  # None: even withdrawing nothing, the median loses real value
    perpetual_at_least: bool
    confidence: float
    paths: int
    steps: int
    high: float
    every: str
    evaluations: int

    def as_dict(self) -> dict:
        return {"safe_withdrawal_rate": self.safe, "safe_at_least": self.safe_at_least,
                "perpetual_withdrawal_rate": self.perpetual,
                "perpetual_at_least": self.perpetual_at_least,
                "rate_confidence": self.confidence, "rate_paths": self.paths,
                "rate_steps": self.steps, "rate_high": self.high, "rate_every": self.every,
                "rate_resolution": self.high / 2**self.steps,
                "rate_evaluations": self.evaluations}


def stats_of(results: Sequence[PathResult], real_factor: float) -> RateStats:
    """Success share and median real final value of the paths run at one rate."""
    if not results:
        return RateStats(math.nan, math.nan)
    ok = np.array([r.success for r in results], dtype=bool)
    finals = np.array([r.final_value for r in results], dtype=float) / real_factor
    return RateStats(float(ok.mean()), float(np.median(finals)))


def largest(ok: Callable[[float], bool], high: float, steps: int) -> tuple[float, bool]:
    """The largest rate in [0, high] for which `ok` holds (ok(0) assumed), to
    high / 2**steps, and whether it holds at `high` itself."""
    if ok(high):
        return high, True
    lo, hi = 0.0, high
    for _ in range(steps):
        mid = (lo + hi) / 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo, False


def find_rates(evaluate: Callable[[float], RateStats], *, start: float, confidence: float,
               paths: int, steps: int, high: float, every: str) -> Rates:
    """SWR and PWR of `evaluate` (rate -> RateStats over the same paths)."""
    cache: dict[float, RateStats] = {}

    def at(rate: float) -> RateStats:
        if rate not in cache:
            cache[rate] = evaluate(rate)
        return cache[rate]

    # Compare with a hair of tolerance: 95 of 100 paths is 0.95 exactly.
    safe, safe_top = largest(lambda r: at(r).success >= confidence - 1e-12, high, steps)
    if at(0.0).median_real_final >= start:
        perpetual: float | None
        perpetual, perp_top = largest(lambda r: at(r).median_real_final >= start, high, steps)
    else:
        perpetual, perp_top = None, False
    return Rates(safe, safe_top, perpetual, perp_top, confidence, paths, steps, high, every,
                 len(cache))
