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
from backtest.analytics.metrics import MIN_ANNUALISED_DAYS
from backtest.analytics.returns import annual_growth, twr_index, xirr
from backtest.engine.batch import Batch as EngineBatch
from backtest.engine.batch import batch_final_values, batch_values
from backtest.engine.ledger import EventKind
from backtest.engine.market import Market
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
    # False: only what the withdrawal-rate search reads (final value, withdrawals
    # paid, success); twr, cagr, mwr and max_drawdown are left NaN
    measures: bool = True
    # Several plans on the same paths (the rate search): path index k * plan_paths + i
    # is market path i under plans[k]; empty: every path runs `plan`
    plans: tuple[Plan, ...] = ()
    plan_paths: int = 0

    def of(self, path: int) -> tuple[Plan, int]:
        """The plan path `path` runs and the index of its market (its generator)."""
        if not self.plans:
            return self.plan, path
        return self.plans[path // self.plan_paths], path % self.plan_paths


@dataclass(frozen=True, eq=False)
class Batch:
    """Some paths of a run: the unit of work sent to a worker."""

    payload: Payload = field(repr=False)
    paths: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class PathResult:
    """One path's measures and its account value at every close (`value` is empty
    for the withdrawal-rate search's paths, which read the final value alone)."""

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


def path_bytes(payload: Payload) -> int:
    """Memory one path of a batch holds while it runs: its close array, its open and
    dividend arrays when they are read (a morning window; a history that pays
    dividends), and about twenty per-session histories (flows, cash, values, the
    results kept until the job returns). Measured by `bench.batch` (a worker's
    peak, its imports included, against the budget)."""
    n, t = len(payload.plan.sessions), len(payload.history.tickers)
    arrays = 1 + (payload.plan.strategy.account.window != "afternoon")
    arrays += bool(payload.history.dividend_yield.any())  # else one row of zeros for all
    return 8 * n * (arrays * t + 20)


def simulate_paths(payload: Payload, paths: Sequence[int]) -> list[PathResult]:
    """Simulate the given paths together, one batch of the engine
    (`backtest.engine.batch`), and measure each; in the order given."""
    h, plan = payload.history, payload.plan
    n, t, count = len(plan.sessions), len(h.tickers), len(paths)
    morning = plan.strategy.account.window != "afternoon"
    dividends = bool(h.dividend_yield.any())
    open_, close, dividend = _buffers(count, n, t, morning, dividends)
    runs = [payload.of(path) for path in paths]
    for k, (_, market_path) in enumerate(runs):
        idx = resample_indices(h.days, n, path_rng(payload.seed, market_path),
                               payload.method, payload.block)
        prices_into(h, idx, open_[k] if morning else None, close[k],
                    dividend[k] if dividends else None)
    sims: list[Simulation] = []
    templates: dict[int, Simulation] = {}  # by plan: the first path's simulation
    for k, (path_plan, _) in enumerate(runs):
        market = Market(sessions=plan.sessions, tickers=h.tickers, open=open_[k],
                        close=close[k], dividend=dividend[k], has_open=h.has_open)
        sim = Simulation(path_plan.strategy, market, like=templates.get(id(path_plan)))
        templates.setdefault(id(path_plan), sim)
        sims.append(sim)
    state = EngineBatch(sims, tables=False, close=close, open_=open_, dividend=dividend).run()
    ffill = close if not np.isnan(close).any() else np.stack([s._close_ffill for s in sims])
    if not payload.measures:  # the rate search reads the final values alone
        finals = batch_final_values(sims, state, ffill).tolist()
        return [_rate_result(path, finals[k], n, sims[k], runs[k][0])
                for k, path in enumerate(paths)]
    values, _ = batch_values(sims, state, ffill)
    return [_measure(path, values[k], sims[k], runs[k][0], payload.measures)
            for k, path in enumerate(paths)]


_BUFFERS: dict[tuple[int, int, bool, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _buffers(count: int, n: int, t: int, morning: bool = True,
             dividends: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open, close, dividend) arrays for `count` paths: views of arrays kept from
    batch to batch in this process (fresh memory costs a page fault per 4 kB on
    first touch). Without a morning window nothing reads the opens: they are the
    closes. A history without dividends gives every path zero dividends: one
    read-only row of zeros for all."""
    key = (n, t, morning, dividends)
    have = _BUFFERS.get(key)
    if have is None or len(have[1]) < count:
        _BUFFERS.clear()
        have = None  # let the old arrays go before the new ones are made
        shape = (count, n, t)
        close = np.empty(shape)
        div = np.empty(shape) if dividends else np.broadcast_to(np.zeros((n, t)), shape)
        have = _BUFFERS[key] = (np.empty(shape) if morning else close, close, div)
    open_, close, div = have
    return open_[:count], close[:count], div[:count]


def release_buffers() -> None:
    """Let this process's price arrays go (a run in this process has ended; a pool
    worker keeps them for its next job)."""
    _BUFFERS.clear()


def prices_into(h: History, idx: np.ndarray, open_: np.ndarray | None, close: np.ndarray,
                dividend: np.ndarray | None) -> None:
    """`paths.prices_from_ratios` written into the given (sessions x tickers) arrays:
    the same operations, so the same prices as `path_market` (no temporaries: the
    days are gathered straight into `close` and chained there)."""
    np.take(h.close_ratio, idx, axis=0, out=close, mode="clip")  # "raise" would buffer
    np.cumprod(close, axis=0, out=close)
    close *= h.start_close[None, :]
    if len(close):
        for out, ratio in ((open_, h.open_ratio), (dividend, h.dividend_yield)):
            if out is not None:
                np.take(ratio, idx, axis=0, out=out, mode="clip")
                out[0] *= h.start_close
                out[1:] *= close[:-1]


def _withdrawn(sim: Simulation, plan: Plan, n: int) -> tuple[float, bool, int | None, int]:
    """(withdrawals paid, success, first failure session, withdrawals rejected)."""
    rejected = sorted(e.session for e in sim.ledger.events
                      if e.kind == EventKind.REJECTED and e.detail.startswith("withdrawal"))
    paid = float(sim.withdrawals.sum())
    success = not rejected and paid >= plan.scheduled_withdrawals - PAID_TOLERANCE
    first: int | None = None
    if rejected:
        first = int(rejected[0])
    elif not success:  # never rejected, yet not all paid: still waiting at the end
        first = n - 1
    return paid, bool(success), first, len(rejected)


NO_VALUES = np.zeros(0)
NO_VALUES.flags.writeable = False


def _rate_result(path: int, final: float, n: int, sim: Simulation, plan: Plan) -> PathResult:
    """What the withdrawal-rate search reads of a path: its final value, withdrawals
    and success (no daily values: `value` is empty; the measures are NaN)."""
    paid, success, first, rejected = _withdrawn(sim, plan, n)
    return PathResult(path, NO_VALUES, float(final) if n else 0.0, math.nan, math.nan,
                      math.nan, math.nan, paid, success, first, rejected)


def _measure(path: int, value: np.ndarray, sim: Simulation, plan: Plan,
             measures: bool = True) -> PathResult:
    """One path's measures from its daily values and its simulation's flows.

    CAGR and MWR (annual rates) are NaN on a path shorter than three weeks, as
    in a single run's summary (`analytics.metrics.MIN_ANNUALISED_DAYS`)."""
    n = len(value)
    paid, success, first, rejected = _withdrawn(sim, plan, n)
    final = float(value[-1]) if n else 0.0
    if not measures:
        return PathResult(path, value, final, math.nan, math.nan, math.nan, math.nan, paid,
                          success, first, rejected)
    index = twr_index(value, sim.deposits, sim.payouts)
    end = float(index[-1]) if n else 1.0
    span = int((plan.sessions[-1] - plan.sessions[0]).astype(np.int64)) if n else 0
    annual = span >= MIN_ANNUALISED_DAYS
    cagr = annual_growth(end, n, SESSIONS_PER_YEAR) if annual else math.nan
    drawdown = max_drawdown_depth(index)
    rate = math.nan
    if annual:
        flows = -(sim.deposits - sim.withdrawals)
        flows[-1] += value[-1]
        nz = np.flatnonzero(flows)
        rate = xirr(plan.sessions[nz], flows[nz]) if len(nz) >= 2 else math.nan
    return PathResult(path, value, final, end - 1.0, float(cagr), float(rate), drawdown, paid,
                      success, first, rejected)


def run_batch(batch: Batch) -> list[PathResult]:
    """The worker's entry point: every path of the batch, in order, run in engine
    batches cut to the payload's memory budget."""
    paths = list(batch.paths)
    out: list[PathResult] = []
    at = 0
    for size in engine_batches(batch.payload, len(paths)):
        out.extend(simulate_paths(batch.payload, paths[at:at + size]))
        at += size
    return out


def capacity(payload: Payload) -> int:
    """Paths one engine batch may hold within the payload's memory budget."""
    return max(1, payload.memory // path_bytes(payload))


def engine_batches(payload: Payload, paths: int) -> list[int]:
    """The sizes of the engine batches a job of `paths` paths runs in: as few as the
    memory budget allows, of sizes that differ by at most one (the set-up of an
    engine batch costs the same whatever its size)."""
    count = max(1, -(-paths // capacity(payload)))
    base, extra = divmod(paths, count)
    return [base + (k < extra) for k in range(count) if base + (k < extra)]
