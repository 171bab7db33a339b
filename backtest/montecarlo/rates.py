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
DEFAULT_DEPTH = 2  # halvings a round of the rate search runs ahead


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


def midpoints(lo: float, hi: float, depth: int) -> list[float]:
    """Every rate the next `depth` halvings of [lo, hi] may try, computed as the
    bisection computes them (``(lo + hi) / 2`` of its own bounds), so each is
    the same float the search then asks for."""
    if depth <= 0:
        return []
    mid = (lo + hi) / 2
    return [mid, *midpoints(lo, mid, depth - 1), *midpoints(mid, hi, depth - 1)]


class _Search:
    """One bisection of `largest`, advanced as far as the rates already run allow."""

    def __init__(self, ok: Callable[[float], bool], high: float, steps: int) -> None:
        self.ok, self.high, self.left = ok, high, steps
        self.lo, self.hi = 0.0, high
        self.started = False
        self.result: tuple[float, bool] | None = None

    def wanted(self, depth: int) -> list[float]:
        """The rates the next `depth` decisions may need."""
        if self.result is not None:
            return []
        if not self.started:
            return [self.high]
        return midpoints(self.lo, self.hi, min(depth, self.left))

    def advance(self, have: dict[float, RateStats]) -> None:
        if not self.started and self.high in have:
            self.started = True
            if self.ok(self.high):
                self.result = (self.high, True)
                return
        while self.started and self.result is None:
            if self.left == 0:
                self.result = (self.lo, False)
                return
            mid = (self.lo + self.hi) / 2
            if mid not in have:
                return
            if self.ok(mid):
                self.lo = mid
            else:
                self.hi = mid
            self.left -= 1


def find_rates(evaluate: Callable[[Sequence[float]], Sequence[RateStats]], *, start: float,
               confidence: float, paths: int, steps: int, high: float, every: str,
               depth: int = DEFAULT_DEPTH) -> Rates:
    """SWR and PWR of `evaluate` (rates -> their RateStats over the same paths).

    The same bisections as `largest`, with the same answers, but run in rounds:
    each round runs, in one call of `evaluate` (one set of engine batches),
    every rate either search may need in its next `depth` halvings (some of
    them are not needed after all), since an engine batch costs about the same
    per session whatever the number of accounts in it. The first round is the
    top of the range and 0 (the perpetual rate's precondition).
    """
    cache: dict[float, RateStats] = {}

    def run(rates: Sequence[float]) -> None:
        need = sorted(set(r for r in rates if r not in cache))
        if need:
            cache.update(zip(need, evaluate(need), strict=True))

    # Compare with a hair of tolerance: 95 of 100 paths is 0.95 exactly.
    safe = _Search(lambda r: cache[r].success >= confidence - 1e-12, high, steps)
    perpetual = _Search(lambda r: cache[r].median_real_final >= start, high, steps)
    run([0.0, high])
    searches = [safe]
    if cache[0.0].median_real_final >= start:
        searches.append(perpetual)
    for s in searches:
        s.advance(cache)
    while any(s.result is None for s in searches):
        run([r for s in searches for r in s.wanted(depth)])
        for s in searches:
            s.advance(cache)
    assert safe.result is not None
    p_rate, p_top = perpetual.result if perpetual.result is not None else (None, False)
    return Rates(safe.result[0], safe.result[1], p_rate, p_top, confidence, paths, steps,
                 high, every, len(cache))
