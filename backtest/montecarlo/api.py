"""`simulate`: a strategy's future by bootstrap, every path through the full engine.

The history window (default: the strategy's own data range) gives the daily
ratios (`paths.History`); the strategy is projected onto synthetic future
sessions (`plan.make_plan`); batches of paths run on an executor of
`backtest.sweep.executors` (the same as `backtest compare`); the results are
gathered, sorted by path index and summarised (`results`).

Start prices are each ticker's last close in the history window; the
synthetic sessions start the day after the strategy's last session in the
data (see `plan`). A run depends only on its inputs and `seed`: path ``i``
draws from ``np.random.SeedSequence(seed, spawn_key=(i,))`` (the same as
``SeedSequence(seed).spawn(paths)[i]``), whatever the executor.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from backtest.domain.strategy import Strategy
from backtest.errors import BacktestError, DataError
from backtest.io.inputs import market_for, read_strategy
from backtest.io.prices import load_prices
from backtest.montecarlo.paths import METHODS, History, history_from_arrays
from backtest.montecarlo.plan import SESSIONS_PER_YEAR, Plan, make_plan, synthetic_sessions
from backtest.montecarlo.results import MonteCarloResult, build_result
from backtest.montecarlo.runner import Batch, PathResult, Payload, run_batch

MAX_BATCH = 2000  # paths per job; a worker runs them in engine batches cut to its memory


class MonteCarloError(BacktestError):
    """A bad Monte Carlo option or a history that cannot be resampled."""


@dataclass(frozen=True, eq=False)
class Setup:
    """Everything a run needs before any path: the history, the plan, the warnings."""

    strategy: Strategy
    history: History
    plan: Plan
    warnings: tuple[str, ...]
    history_start: dt.date
    history_end: dt.date


def _date(x: object, name: str) -> dt.date | None:
    if x is None:
        return None
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    try:
        return dt.date.fromisoformat(str(x))
    except ValueError:
        raise MonteCarloError(f"{name} is {x!r}, not a date (YYYY-MM-DD)") from None


def check_options(years: float, paths: int, method: str, block: int,
                  inflation: float = 0.0) -> None:
    if not (isinstance(years, int | float) and math.isfinite(years) and years > 0):
        raise MonteCarloError(f"years is {years}: it must be more than 0")
    if round(years * SESSIONS_PER_YEAR) < 1:
        raise MonteCarloError(f"years is {years}: less than one session")
    if not isinstance(paths, int | np.integer) or paths < 1:
        raise MonteCarloError(f"paths is {paths}: it must be at least 1")
    if method not in METHODS:
        raise MonteCarloError(f"method is {method!r}: one of {', '.join(METHODS)}")
    if not isinstance(block, int | np.integer) or block < 1:
        raise MonteCarloError(f"block is {block}: it must be at least 1 session")
    if not (math.isfinite(inflation) and inflation > -1):
        raise MonteCarloError(f"inflation is {inflation}: it must be more than -1 (-100%)")


def prepare(strategy_or_path: Strategy | str | Path, years: float, *,
            start: object = None, end: object = None) -> Setup:
    """Load the strategy and its data, build the history window and the plan."""
    strategy = (strategy_or_path if isinstance(strategy_or_path, Strategy)
                else read_strategy(strategy_or_path))
    prices = load_prices(strategy.data.prices)
    run_market, warnings = market_for(strategy, prices)
    first = run_market.sessions[0].astype(object)
    last = run_market.sessions[-1].astype(object)
    start_d, end_d = _date(start, "--from"), _date(end, "--to")
    market = run_market
    if start_d is not None or end_d is not None:
        window = replace(strategy, data=replace(
            strategy.data, start=start_d or strategy.data.start, end=end_d or strategy.data.end))
        try:
            market, more = market_for(window, prices)
        except DataError as exc:
            raise MonteCarloError(exc.message, source="--from/--to") from None
        warnings = [*warnings, *more]
    tickers = strategy.portfolio.tickers()
    cols = [market.tickers.index(t) for t in tickers]
    if len(market.sessions) < 2:
        raise MonteCarloError("the history window has fewer than two sessions: nothing to "
                              "resample", source=strategy.source)
    history = history_from_arrays(tickers, market.sessions, market.close[:, cols],
                                  market.open[:, cols], market.dividend[:, cols],
                                  has_open=market.has_open)
    if history.days < 2:
        raise MonteCarloError("the history window has fewer than two days on which every "
                              f"ticker of the portfolio has a price ({', '.join(tickers)})",
                              source=strategy.source)
    notes = []
    if history.dropped_days:
        notes.append(f"{history.dropped_days} historical day(s) left out of the resampling: "
                     "some ticker had no price on it or the day before")
    sessions = synthetic_sessions(last, int(round(years * SESSIONS_PER_YEAR)))
    plan = make_plan(strategy, first, last, sessions)
    return Setup(strategy, history, plan, (*warnings, *notes, *plan.warnings),
                 market.sessions[0].astype(object), market.sessions[-1].astype(object))


def batches(payload: Payload, paths: int, workers: int) -> list[Batch]:
    """Path indices cut into batches (several per worker, so the load evens out)."""
    size = max(1, min(MAX_BATCH, math.ceil(paths / max(1, workers * 8))))
    return [Batch(payload, tuple(range(i, min(paths, i + size))))
            for i in range(0, paths, size)]


def simulate(strategy_or_path: Strategy | str | Path, years: float = 30, paths: int = 1000,
             seed: int = 0, method: str = "block-bootstrap", block: int = 21,
             start: object = None, end: object = None, executor=None, *,
             inflation: float = 0.025, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> MonteCarloResult:
    """Run `paths` synthetic futures of `years` x 252 sessions of a strategy.

    strategy_or_path: a `Strategy` or a strategy file.
    method, block:    `bootstrap` (independent days) or `block-bootstrap` (blocks of
                      `block` consecutive days).
    start, end:       the history window to resample (default: the strategy's data range).
    executor:         a `backtest.sweep` executor (`SerialExecutor`, `LocalExecutor(n)`,
                      `DaskExecutor(address)`); None runs a local process pool of
                      `workers` processes (in this process when `workers` is 1), closed
                      at the end. A given executor is left open.
    inflation:        annual rate for the inflation-free (real) values.
    progress:         called as progress(paths_done, paths) after each batch.

    A local process pool starts its workers with forkserver (or spawn): in a
    script, call this under ``if __name__ == "__main__":``.
    """
    check_options(years, paths, method, block, inflation)
    setup = prepare(strategy_or_path, years, start=start, end=end)
    payload = Payload(setup.history, setup.plan, int(seed), method, int(block))
    own = executor is None
    if own:
        from backtest.sweep.executors import LocalExecutor, SerialExecutor

        executor = SerialExecutor() if workers == 1 else LocalExecutor(workers)
    results: list[PathResult] = []
    try:
        for batch, out in executor.map_unordered(run_batch,
                                                 batches(payload, paths, executor.workers)):
            if isinstance(out, BaseException):
                raise RuntimeError(f"paths {batch.paths[0]}-{batch.paths[-1]} failed: "
                                   f"{type(out).__name__}: {out}") from out
            results.extend(out)
            if progress is not None:
                progress(len(results), paths)
    finally:
        if own:
            executor.close()
    h = setup.history
    settings = {
        "years": float(years), "sessions": len(setup.plan.sessions), "seed": int(seed),
        "method": method, "block": int(block) if method == "block-bootstrap" else None,
        "inflation": float(inflation),
        "start": str(setup.plan.sessions[0]), "end": str(setup.plan.sessions[-1]),
        "history_start": setup.history_start.isoformat(),
        "history_end": setup.history_end.isoformat(), "history_days": h.days,
        "tickers": list(h.tickers),
        "start_prices": {t: float(p) for t, p in zip(h.tickers, h.start_close, strict=True)},
    }
    return build_result(setup.strategy.name, results, setup.plan.sessions, seed=int(seed),
                        inflation=float(inflation),
                        scheduled_withdrawals=setup.plan.scheduled_withdrawals,
                        settings=settings, warnings=setup.warnings)
