"""Percentiles and per-path measures of a Monte Carlo run (pure: no I/O)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtest.montecarlo.plan import SESSIONS_PER_YEAR
from backtest.montecarlo.runner import PathResult

PERCENTILES = (5, 25, 50, 75, 95)
PARALLEL_CELLS = 1 << 22  # paths x sessions above which percentiles use threads
PATH_COLUMNS = ("path", "seed", "final_value", "real_final_value", "twr", "cagr", "mwr",
                "max_drawdown", "withdrawals_paid", "success", "first_failure_year")


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """A finished Monte Carlo run.

    paths:        one row per path (`PATH_COLUMNS`), sorted by path index.
    percentiles:  one row per synthetic session: session, date, years, p5..p95 of the
                  account value and real_p5..real_p95 of its inflation-free value.
    values:       (paths x sessions) account value at every close.
    success_rate: share of paths that paid every scheduled withdrawal in full
                  (NaN when the plan withdraws nothing).
    """

    name: str
    paths: pd.DataFrame
    percentiles: pd.DataFrame
    values: np.ndarray = field(repr=False)
    success_rate: float
    scheduled_withdrawals: float
    settings: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def has_withdrawals(self) -> bool:
        # a percent-of-the-account plan schedules no dollars, yet withdraws
        return self.scheduled_withdrawals > 0 or bool(self.settings.get("withdraws"))

    @property
    def median_final_value(self) -> float:
        return float(self.paths["final_value"].median()) if len(self.paths) else math.nan

    @property
    def failure_years(self) -> pd.Series:
        """How many paths first failed in each year (1 = the first 252 sessions)."""
        years = self.paths["first_failure_year"].dropna().astype(int)
        return years.value_counts().sort_index().rename("paths").rename_axis("year")

    @property
    def depleted_paths(self) -> int:
        """Paths on which a withdrawal could not be paid in full."""
        return int((~self.paths["success"]).sum()) if self.has_withdrawals else 0

    def depletion(self) -> dict[str, Any]:
        """When the money ran out on the failed paths, in years (1 = the first 252 sessions),
        and the median final value of the paths that lasted (a failed path's final value
        is what a rejected withdrawal left, not an outcome)."""
        p = self.paths
        lasted = p.loc[p["success"], "final_value"] if self.has_withdrawals else p["final_value"]
        years = p["first_failure_year"].dropna().astype(int)
        return {
            "depleted_paths": self.depleted_paths,
            # whole years: the year of the path at that rank, never 2.5
            "depletion_year_median": _year_at(years, 50),
            "depletion_year_earliest": int(years.min()) if len(years) else None,
            "depletion_year_percentiles": {f"p{k}": _year_at(years, k)
                                           for k in (5, 25, 50)} if len(years) else {},
            "median_final_value_lasting": _json(float(lasted.median())) if len(lasted)
            else None,
        }

    def headline(self) -> dict[str, Any]:
        """The numbers a reader wants first (JSON-ready)."""
        p = self.paths

        def q(col: str, pct: float) -> float | None:
            x = p[col].dropna()
            return _json(float(np.percentile(x, pct))) if len(x) else None

        return {
            "name": self.name,
            "paths": int(len(p)),
            "median_final_value": _json(self.median_final_value),
            "median_real_final_value": q("real_final_value", 50),
            "final_value_percentiles": {f"p{k}": q("final_value", k) for k in PERCENTILES},
            "real_final_value_percentiles": {f"p{k}": q("real_final_value", k)
                                             for k in PERCENTILES},
            "median_cagr": q("cagr", 50),
            "median_mwr": q("mwr", 50),
            "median_max_drawdown": q("max_drawdown", 50),
            "scheduled_withdrawals": _json(self.scheduled_withdrawals),
            "success_rate": _json(self.success_rate),
            "failure_years": {str(k): int(v) for k, v in self.failure_years.items()},
            **self.depletion(),
            **{k: _json(v) if isinstance(v, float) else v for k, v in self.settings.items()},
        }


def _year_at(years: pd.Series, pct: float) -> int | None:
    return int(np.percentile(years, pct, method="nearest")) if len(years) else None


def _json(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def deflator(n: int, inflation: float) -> np.ndarray:
    """(1 + inflation) ** (t / 252) for sessions t = 0..n-1 (today's dollars at t = 0)."""
    return (1.0 + inflation) ** (np.arange(n) / SESSIONS_PER_YEAR)


def percentile_table(values: np.ndarray, dates: np.ndarray, inflation: float) -> pd.DataFrame:
    """p5..p95 of the value and of the real value at every session."""
    n = values.shape[1] if values.ndim == 2 else 0
    cols: dict[str, Any] = {
        "session": np.arange(n, dtype=np.int64),
        "date": np.asarray(dates, dtype="datetime64[D]").astype("datetime64[ns]"),
        "years": (np.arange(n) + 1) / SESSIONS_PER_YEAR,
    }
    if len(values):
        nominal, real = session_percentiles(values, deflator(n, inflation))
    else:
        nominal = real = np.full((len(PERCENTILES), n), np.nan)
    for k, pct in enumerate(PERCENTILES):
        cols[f"p{pct}"] = nominal[k]
    for k, pct in enumerate(PERCENTILES):
        cols[f"real_p{pct}"] = real[k]
    return pd.DataFrame(cols)


def session_percentiles(values: np.ndarray, deflate: np.ndarray,
                        chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(`PERCENTILES` x sessions) percentiles of `values` (paths x sessions) and of
    `values / deflate`, by linear interpolation between the closest ranks (numpy's
    default method).

    Only the ranks the percentiles read are found (one partial sort of each
    session's values, a few sessions at a time, contiguous); the real values'
    ranks are the nominal ones divided by the session's deflator (division by a
    positive number keeps the order), so they need no second sort. Blocks of
    sessions are independent: a large run's are shared among threads (numpy's
    partial sort lets other threads run), the same numbers as one thread.
    """
    paths, n = values.shape
    h = (paths - 1) * np.asarray(PERCENTILES, dtype=float) / 100.0
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, paths - 1)
    frac = (h - lo)[:, None]
    kth = np.unique(lo)
    # rank kth[j] + 1 is the least value between two partition points
    stops = [*(int(k) + 1 for k in kth[1:]), paths]
    nominal = np.empty((len(PERCENTILES), n))
    real = np.empty((len(PERCENTILES), n))

    def block_of(a: int) -> None:
        block = np.ascontiguousarray(values[:, a:a + chunk].T)  # sessions x paths
        block.partition(kth, axis=1)
        if np.isnan(block).any():  # as np.percentile: a NaN makes the session's NaN
            block[np.isnan(block).any(axis=1)] = np.nan
        rank = {int(k): block[:, k] for k in kth}
        for k, stop in zip(kth, stops, strict=True):
            if k + 1 < paths and k + 1 not in rank:
                rank[int(k) + 1] = block[:, k + 1:stop].min(axis=1)
        low = np.stack([rank[int(k)] for k in lo])
        high = np.stack([rank[int(k)] for k in hi])
        d = deflate[a:a + chunk][None, :]
        nominal[:, a:a + chunk] = low + (high - low) * frac
        low, high = low / d, high / d
        real[:, a:a + chunk] = low + (high - low) * frac

    starts = range(0, n, chunk)
    threads = min(os.cpu_count() or 1, len(starts)) if paths * n >= PARALLEL_CELLS else 1
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(block_of, starts))
    else:
        for a in starts:
            block_of(a)
    return nominal, real


def path_table(results: Sequence[PathResult], seed: int, inflation: float) -> pd.DataFrame:
    """One row per path, sorted by path index."""
    rs = sorted(results, key=lambda r: r.path)
    n = len(rs[0].value) if rs else 0
    real_factor = float(deflator(n, inflation)[-1]) if n else 1.0
    first = [None if r.first_failure_session is None
             else r.first_failure_session // SESSIONS_PER_YEAR + 1 for r in rs]
    return pd.DataFrame({
        "path": np.array([r.path for r in rs], dtype=np.int64),
        "seed": np.full(len(rs), seed, dtype=np.int64),
        "final_value": np.array([r.final_value for r in rs], dtype=float),
        "real_final_value": np.array([r.final_value / real_factor for r in rs], dtype=float),
        "twr": np.array([r.twr for r in rs], dtype=float),
        "cagr": np.array([r.cagr for r in rs], dtype=float),
        "mwr": np.array([r.mwr for r in rs], dtype=float),
        "max_drawdown": np.array([r.max_drawdown for r in rs], dtype=float),
        "withdrawals_paid": np.array([r.withdrawals_paid for r in rs], dtype=float),
        "success": np.array([r.success for r in rs], dtype=bool),
        "first_failure_year": pd.array(first, dtype="Int64"),
    }, columns=list(PATH_COLUMNS))


def build_result(name: str, results: Sequence[PathResult], dates: np.ndarray, *, seed: int,
                 inflation: float, scheduled_withdrawals: float, settings: dict[str, Any],
                 warnings: Sequence[str] = (), values: np.ndarray | None = None
                 ) -> MonteCarloResult:
    """The run's tables. values: the paths' daily values already in one array, in
    path order (else they are stacked from the results)."""
    rs = sorted(results, key=lambda r: r.path)
    if values is None or len(values) != len(rs):
        values = np.stack([r.value for r in rs]) if rs else np.zeros((0, len(dates)))
    table = path_table(rs, seed, inflation)
    withdraws = scheduled_withdrawals > 0 or bool(settings.get("withdraws"))
    success = float(table["success"].mean()) if withdraws and len(table) else math.nan
    return MonteCarloResult(name, table, percentile_table(values, dates, inflation), values,
                            success, scheduled_withdrawals, dict(settings), tuple(warnings))
