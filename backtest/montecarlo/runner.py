"""One batch of paths inside a worker (local process pool, Dask worker or this process).

A worker gets the history's ratios, the plan and the path indices, and builds
each path itself: its generator comes from ``(seed, path index)`` alone
(`paths.path_rng`), never from the worker's state, so a run is the same
whatever the number of workers or the order in which batches finish.

The paths of a batch run together through the engine's batch driver
(`backtest.engine.batch`: windows, dynamic rebalancing, cash minimum,
rebalancing policy, exactly as each path's own run), in engine batches cut to
a memory budget (`Payload.memory`), then are valued from the batch's compact
arrays (`batch_values`) instead of `tabulate`, which would also build the
trade, allocation and drift tables nobody reads here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from backtest.analytics.drawdowns import max_drawdown_depth
from backtest.analytics.returns import annual_growth, twr_index, xirr
from backtest.engine.batch import Batch as EngineBatch
from backtest.engine.batch import batch_values
from backtest.engine.ledger import EventKind
from backtest.engine.market import Market
from backtest.engine.result import value_series
from backtest.engine.simulation import Simulation
from backtest.montecarlo.paths import History, path_rng, prices_from_ratios, resample_indices
from backtest.montecarlo.plan import SESSIONS_PER_YEAR, Plan

MEMORY = 1 << 30  # default memory budget per worker (bytes)
PAID_TOLERANCE = 0.005  # dollars: a withdrawal is paid in full within half a cent


@dataclass(frozen=True, eq=False)
class Payload:
    """Everything a worker needs apart from the path indices (picklable)."""

    history: History
    plan: Plan
    seed: int
    method: str
    block: int
    memory: int = MEMORY  # bytes one worker's engine batch may hold


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


def run_path(payload: Payload, path: int) -> PathResult:
    """Simulate one path and measure it (a batch of one)."""
    return simulate_paths(payload, [path])[0]


def path_bytes(payload: Payload) -> int:
    """Memory one path of a batch holds while it runs: its open, close, dividend and
    last-close arrays (sessions x tickers) and a few per-session histories."""
    n, t = len(payload.plan.sessions), len(payload.history.tickers)
    arrays = 5 if payload.plan.strategy.account.window != "afternoon" else 4
    return 8 * n * (arrays * t + 12)


def simulate_paths(payload: Payload, paths: Sequence[int]) -> list[PathResult]:
    """Simulate the given paths together, one batch of the engine
    (`backtest.engine.batch`), and measure each; in the order given."""
    h, plan = payload.history, payload.plan
    n, t, count = len(plan.sessions), len(h.tickers), len(paths)
    morning = plan.strategy.account.window != "afternoon"
    open_, close, dividend = _buffers(count, n, t, morning)
    for k, path in enumerate(paths):
        idx = resample_indices(h.days, n, path_rng(payload.seed, path), payload.method,
                               payload.block)
        prices_into(h, idx, open_[k] if morning else None, close[k], dividend[k])
    sims: list[Simulation] = []
    for k in range(count):
        market = Market(sessions=plan.sessions, tickers=h.tickers, open=open_[k],
                        close=close[k], dividend=dividend[k], has_open=h.has_open)
        sims.append(Simulation(plan.strategy, market, like=sims[0] if sims else None))
    state = EngineBatch(sims, tables=False, close=close, open_=open_, dividend=dividend).run()
    ffill = close if not np.isnan(close).any() else np.stack([s._close_ffill for s in sims])
    values, _ = batch_values(sims, state, ffill)
    return [_measure(path, values[k], sims[k], plan) for k, path in enumerate(paths)]


_BUFFERS: dict[tuple[int, int, int, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _buffers(count: int, n: int, t: int,
             morning: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open, close, dividend) arrays for `count` paths, reused from batch to batch
    in this process (fresh memory costs a page fault per 4 kB on first touch).
    Without a morning window nothing reads the opens: they are the closes."""
    key = (count, n, t, morning)
    if key not in _BUFFERS:
        _BUFFERS.clear()
        shape = (count, n, t)
        close = np.empty(shape)
        _BUFFERS[key] = (np.empty(shape) if morning else close, close, np.empty(shape))
    return _BUFFERS[key]


def prices_into(h: History, idx: np.ndarray, open_: np.ndarray | None, close: np.ndarray,
                dividend: np.ndarray) -> None:
    """`paths.prices_from_ratios` written into the given (sessions x tickers) arrays:
    the same operations, so the same prices as `path_market`."""
    np.cumprod(h.close_ratio[idx], axis=0, out=close)
    close *= h.start_close[None, :]
    if len(close):
        if open_ is not None:
            np.multiply(h.open_ratio[idx[0]], h.start_close, out=open_[0])
            np.multiply(h.open_ratio[idx[1:]], close[:-1], out=open_[1:])
        np.multiply(h.dividend_yield[idx[0]], h.start_close, out=dividend[0])
        np.multiply(h.dividend_yield[idx[1:]], close[:-1], out=dividend[1:])


def _measure(path: int, value: np.ndarray, sim: Simulation, plan: Plan) -> PathResult:
    """One path's measures from its daily values and its simulation's flows."""
    n = len(value)
    net_flow = sim.deposits - sim.withdrawals
    index = twr_index(value, sim.deposits, sim.payouts)
    end = float(index[-1]) if n else 1.0
    cagr = annual_growth(end, n, SESSIONS_PER_YEAR)
    drawdown = max_drawdown_depth(index)
    flows = -net_flow
    if n:
        flows[-1] += value[-1]
    nz = np.flatnonzero(flows)
    rate = xirr(plan.sessions[nz], flows[nz]) if len(nz) >= 2 else math.nan
    rejected = sorted(e.session for e in sim.ledger.events
                      if e.kind == EventKind.REJECTED and e.detail.startswith("withdrawal"))
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
    """The worker's entry point: every path of the batch, in order, run in engine
    batches cut to the payload's memory budget."""
    size = max(1, batch.payload.memory // path_bytes(batch.payload))
    paths = list(batch.paths)
    out: list[PathResult] = []
    for i in range(0, len(paths), size):
        out.extend(simulate_paths(batch.payload, paths[i:i + size]))
    return out
