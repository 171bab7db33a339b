"""One batch of paths inside a worker (local process pool, Dask worker or this process).

A worker gets the history's ratios, the plan and the path indices, and builds
each path itself: its generator comes from ``(seed, path index)`` alone
(`paths.path_rng`), never from the worker's state, so a run is the same
whatever the number of workers or the order in which batches finish.

Each path runs the full engine (`Simulation.run_to_end`: windows, dynamic
rebalancing, cash minimum, rebalancing policy) on its synthetic market, then
values the account with the array functions of `backtest.engine.result`
(`share_matrix`, `cash_series`, `run_twr_index`) instead of `tabulate`, which
would also build the trade, allocation and drift tables nobody reads here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from backtest.analytics.returns import DAYS_PER_YEAR, xirr
from backtest.engine.market import Market
from backtest.engine.result import run_twr_index, value_series
from backtest.engine.simulation import Simulation
from backtest.montecarlo.paths import History, path_rng, prices_from_ratios, resample_indices
from backtest.montecarlo.plan import SESSIONS_PER_YEAR, Plan

PAID_TOLERANCE = 0.005  # dollars: a withdrawal is paid in full within half a cent


@dataclass(frozen=True, eq=False)
class Payload:
    """Everything a worker needs apart from the path indices (picklable)."""

    history: History
    plan: Plan
    seed: int
    method: str
    block: int


@dataclass(frozen=True, eq=False)
class Batch:
    """Some paths of a run: the unit of work sent to a worker."""

    payload: Payload = field(repr=False)
    paths: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class PathResult:
    """One path's measures and its account value at every close."""

    path: int
    value: np.ndarray
    final_value: float
    twr: float
    cagr: float
    mwr: float
    max_drawdown: float
    withdrawals_paid: float
    success: bool
    first_failure_session: int | None
    rejected: int


def path_market(payload: Payload, path: int) -> tuple[Market, np.ndarray]:
    """Path `path`'s synthetic market and its historical day indices."""
    h, plan = payload.history, payload.plan
    n = len(plan.sessions)
    idx = resample_indices(h.days, n, path_rng(payload.seed, path), payload.method,
                           payload.block)
    open_, close, dividend = prices_from_ratios(h.start_close, h.close_ratio[idx],
                                                h.open_ratio[idx], h.dividend_yield[idx])
    market = Market(sessions=plan.sessions, tickers=h.tickers, open=open_, close=close,
                    dividend=dividend, has_open=h.has_open)
    return market, idx


def account_values(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """(value, net_flow) at every close of a finished simulation (as `tabulate`)."""
    return value_series(sim)


def path_xirr(dates: np.ndarray, amounts: np.ndarray) -> float:
    """`backtest.analytics.returns.xirr` of dated flows, faster for the usual case.

    With a single sign change in the flows (deposits, then withdrawals and the
    final value) the rate is unique (Descartes' rule), so one bracketed solve
    over xirr's own range finds the root xirr would find; any other pattern
    goes to `xirr` itself.
    """
    a = np.asarray(amounts, dtype=float)
    signs = np.sign(a[a != 0])
    if len(signs) < 2 or int((signs[1:] != signs[:-1]).sum()) != 1:
        return xirr(dates, a)
    days = np.asarray(dates, dtype="datetime64[D]").astype(np.int64)
    years = (days - days.min()).astype(float) / DAYS_PER_YEAR
    ymax = float(years.max())
    if ymax <= 0:
        return math.nan
    a = a / np.abs(a).max()

    def npv(x: float) -> float:
        return float(np.dot(a, np.exp(-x * years)))

    hi = min(60.0, 600.0 / ymax)
    lo_v, hi_v = npv(-hi), npv(hi)
    if lo_v == 0:
        return math.expm1(-hi)
    if hi_v == 0:
        return math.expm1(hi)
    if np.sign(lo_v) == np.sign(hi_v):
        return math.nan
    x = brentq(npv, -hi, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    r = math.expm1(x)
    return r if math.isfinite(r) else math.nan


def run_path(payload: Payload, path: int) -> PathResult:
    """Simulate one path and measure it."""
    plan = payload.plan
    market, _ = path_market(payload, path)
    sim = Simulation(plan.strategy, market)
    sim.run_to_end()
    value, net_flow = account_values(sim)
    n = len(value)
    index = run_twr_index(sim, value)
    end = float(index[-1]) if n else 1.0
    cagr = (end ** (SESSIONS_PER_YEAR / n) - 1.0) if n and end > 0 else -1.0
    peak = np.maximum.accumulate(index) if n else index  # as max_drawdown: no 1.0 base
    drawdown = float((index / peak - 1.0).min()) if n else 0.0
    flows = -net_flow
    if n:
        flows[-1] += value[-1]
    nz = np.flatnonzero(flows)
    rate = path_xirr(plan.sessions[nz], flows[nz]) if len(nz) >= 2 else math.nan
    rejected = sorted(e.session for e in sim.ledger.events
                      if e.kind == "rejected" and e.detail.startswith("withdrawal"))
    paid = float(sim.withdrawals.sum())
    success = not rejected and paid >= plan.scheduled_withdrawals - PAID_TOLERANCE
    first: int | None = None
    if rejected:
        first = int(rejected[0])
    elif not success:  # never rejected, yet not all paid: still waiting at the end
        first = n - 1
    return PathResult(path, value, float(value[-1]) if n else 0.0, end - 1.0, float(cagr),
                      float(rate), drawdown, paid, bool(success), first, len(rejected))


def run_batch(batch: Batch) -> list[PathResult]:
    """The worker's entry point: every path of the batch, in order."""
    return [run_path(batch.payload, p) for p in batch.paths]
