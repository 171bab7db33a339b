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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from backtest.domain.strategy import Cashflow, Strategy
from backtest.errors import BacktestError, DataError
from backtest.io.caveats import run_notes
from backtest.io.inputs import market_for, read_strategy
from backtest.io.prices import load_prices
from backtest.montecarlo import rates as RT
from backtest.montecarlo.paths import METHODS, History, history_from_arrays
from backtest.montecarlo.plan import (
    SESSIONS_PER_YEAR,
    Plan,
    make_plan,
    rate_plan,
    synthetic_sessions,
    with_withdrawals,
    withdrawal_frequency,
)
from backtest.montecarlo.results import MonteCarloResult, build_result, deflator
from backtest.montecarlo.runner import (
    MEMORY,
    Batch,
    PathResult,
    Payload,
    capacity,
    release_buffers,
    run_batch,
)

MAX_BATCH = 2000  # paths per job; a worker runs them in engine batches cut to its memory
MIN_BATCH = 16  # paths per job at the least: the engine's array form needs several accounts
JOB_PATHS = 500  # paths per job below which fewer jobs are cut (one engine batch's set-up)
SHORT_HISTORY_YEARS = 15  # below this the history may hold no full market cycle
FREQUENCIES = ("week", "2weeks", "month", "quarter", "year")


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
                  inflation: float = 0.0, confidence: float = 0.95, rate_paths: int = 0,
                  rate_steps: int = RT.DEFAULT_STEPS, rate_high: float = RT.DEFAULT_HIGH
                  ) -> None:
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
    if not (math.isfinite(confidence) and 0 < confidence <= 1):
        raise MonteCarloError(f"confidence is {confidence}: a fraction above 0 and at most 1 "
                              "(0.95 = 95% of the paths)")
    if not isinstance(rate_paths, int | np.integer) or rate_paths < 0:
        raise MonteCarloError(f"rate paths is {rate_paths}: 0 (no rates) or more")
    if not isinstance(rate_steps, int | np.integer) or not 1 <= rate_steps <= 30:
        raise MonteCarloError(f"rate steps is {rate_steps}: from 1 to 30 halvings")
    if not (math.isfinite(rate_high) and 0 < rate_high <= 1):
        raise MonteCarloError(f"rate high is {rate_high}: a yearly rate above 0 and at most 1")


UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
         "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
         "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}


def parse_memory(text: str | int | float | None) -> int:
    """`--memory 2GB`, `512MB` or bytes: the memory budget of one worker, in bytes
    (binary units: 1 GB = 1024**3 bytes, the default budget). None: the default."""
    if text is None:
        return MEMORY
    raw = str(text).strip()
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)", raw)
    unit = m.group(2).lower() if m else ""
    if m and unit in UNITS:
        size = float(m.group(1)) * UNITS[unit]
        if math.isfinite(size) and size >= 1:
            return int(size)
    raise MonteCarloError(f"memory is {raw!r}: a size in bytes (536870912) or with a unit "
                          "(512MB, 2GB), more than 0", source="--memory")


def parse_withdrawal(text: str | float) -> tuple[float | None, float | None]:
    """`--withdrawal 4000` (dollars) or `4%` (of the account a year): (amount, percent)."""
    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            pct = float(raw[:-1]) / 100.0
            if math.isfinite(pct) and 0 < pct <= 1:
                return None, pct
        else:
            amount = float(raw)
            if math.isfinite(amount) and amount >= 0:
                return amount, None
    except ValueError:
        pass
    raise MonteCarloError(f"withdrawal is {raw!r}: a dollar amount (4000) or a yearly percent "
                          "of the account (4%)", source="--withdrawal")


def parse_indexed(text: str | float | None, inflation: float) -> float | None:
    """`--indexed 0.025`, `2.5%`, `inflation` or `cpi` (both: the --inflation rate), `none`."""
    if text is None:
        return float(inflation)
    raw = str(text).strip().lower()
    if raw in ("inflation", "cpi"):
        return float(inflation)
    if raw in ("none", "0", "no"):
        return None
    try:
        rate = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        rate = math.nan
    if not (math.isfinite(rate) and -1 < rate <= 1):
        raise MonteCarloError(f"indexed is {text!r}: a yearly rate (0.025 or 2.5%), "
                              "inflation, cpi or none", source="--indexed")
    return rate


def option_plan(plan: Plan, withdrawal: str | float, every: str, indexed: float | None) -> Plan:
    """The plan with its withdrawals replaced by `--withdrawal` from the first session."""
    if every not in FREQUENCIES:
        raise MonteCarloError(f"every is {every!r}: one of {', '.join(FREQUENCIES)}",
                              source="--every")
    amount, percent = parse_withdrawal(withdrawal)
    s0 = plan.sessions[0].astype(object)
    flow = Cashflow("withdrawal", amount or 0.0, every=every, start=s0,
                    indexed=indexed if percent is None else None, percent=percent)
    return with_withdrawals(plan, (flow,))


def prepare(strategy_or_path: Strategy | str | Path, years: float, *,
            start: object = None, end: object = None, inflation: float = 0.025) -> Setup:
    """Load the strategy and its data, build the history window and the plan."""
    strategy = (strategy_or_path if isinstance(strategy_or_path, Strategy)
                else read_strategy(strategy_or_path))
    prices = load_prices(strategy.data.prices)
    run_market, warnings = market_for(strategy, prices)
    warnings = [*warnings, *run_notes(strategy, run_market)]
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
        warnings = list(dict.fromkeys([*warnings, *more]))  # each caveat once
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
    plan = make_plan(strategy, first, last, sessions, inflation)
    span = history_years(market.sessions[0].astype(object), market.sessions[-1].astype(object))
    if span < SHORT_HISTORY_YEARS:
        notes.append(f"the history resampled is {span:.1f} years "
                     f"({market.sessions[0]} to {market.sessions[-1]}): under "
                     f"{SHORT_HISTORY_YEARS} years it may miss whole market cycles, so the "
                     "paths can be too kind or too harsh (use --from/--to on longer data)")
    return Setup(strategy, history, plan, (*warnings, *notes, *plan.warnings),
                 market.sessions[0].astype(object), market.sessions[-1].astype(object))


def history_years(first: dt.date, last: dt.date) -> float:
    """The history's span in years (calendar days / 365.25)."""
    return (last - first).days / 365.25


def job_sizes(paths: int, workers: int, capacity: int = MAX_BATCH) -> list[int]:
    """How many paths each job gets (sizes differ by at most one).

    An engine batch costs about the same per session whatever its size, so jobs
    are as large as one engine batch may be (`capacity` paths in the memory
    budget, at most `MAX_BATCH`), in whole rounds of `workers` jobs; a few jobs a
    worker where there are `JOB_PATHS` paths a job or more (the progress bar);
    and every worker busy once there are `MIN_BATCH` paths each."""
    workers = max(1, workers)
    jobs = math.ceil(paths / max(1, min(MAX_BATCH, capacity)))
    jobs = max(jobs, min(workers * 4, paths // JOB_PATHS), min(workers, paths // MIN_BATCH))
    if jobs > workers:
        jobs = math.ceil(jobs / workers) * workers
    jobs = max(1, min(jobs, paths))
    base, extra = divmod(paths, jobs)
    return [base + (k < extra) for k in range(jobs)]


def run_paths(payload: Payload, paths: Sequence[int] | range, executor,
              progress: Callable[[int, int], None] | None = None, *,
              source: Path | None = None, values: np.ndarray | None = None
              ) -> list[PathResult]:
    """Run the given path indices of `payload` on `executor`, in any order.

    values: (paths x sessions), row k for the k-th index of `paths`: each result's
    daily values are copied there as it arrives and the result keeps that row (the
    run holds one array, not one per path beside the table built from them)."""
    row = {p: k for k, p in enumerate(paths)} if values is not None else {}
    indices = list(paths)
    work, at = [], 0
    sizes = job_sizes(len(indices), executor.workers, capacity(payload)) if indices else []
    for size in sizes:
        work.append(Batch(payload, tuple(indices[at:at + size])))
        at += size
    results: list[PathResult] = []
    for batch, out in executor.map_unordered(run_batch, work):
        if isinstance(out, OverflowError | BacktestError):  # the user's history and years
            history = payload.history
            raise MonteCarloError(
                f"path {batch.paths[0]}: {out}; the resampled history over "
                f"{history.days} days takes the account beyond what can be held exactly: "
                "use a longer history or fewer years", source=source) from None
        if isinstance(out, BaseException):
            raise RuntimeError(f"paths {batch.paths[0]}-{batch.paths[-1]} failed: "
                               f"{type(out).__name__}: {out}") from out
        if values is not None:
            for k, r in enumerate(out):
                values[row[r.path]] = r.value
                out[k] = replace(r, value=values[row[r.path]])
        results.extend(out)
        if progress is not None:
            progress(len(results), len(indices))
    return results


def simulate(strategy_or_path: Strategy | str | Path, years: float = 30, paths: int = 1000,
             seed: int = 0, method: str = "block-bootstrap", block: int = 21,
             start: object = None, end: object = None, executor=None, *,
             inflation: float = 0.025, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             withdrawal: str | float | None = None, every: str = "month",
             indexed: str | float | None = None, confidence: float = 0.95,
             rate_paths: int | None = RT.DEFAULT_PATHS, rate_steps: int = RT.DEFAULT_STEPS,
             rate_high: float = RT.DEFAULT_HIGH,
             memory: str | int | None = None) -> MonteCarloResult:
    """Run `paths` synthetic futures of `years` x 252 sessions of a strategy.

    strategy_or_path: a `Strategy` or a strategy file.
    method, block:    `bootstrap` (independent days) or `block-bootstrap` (blocks of
                      `block` consecutive days).
    start, end:       the history window to resample (default: the strategy's data range).
    executor:         a `backtest.sweep` executor (`SerialExecutor`, `LocalExecutor(n)`,
                      `DaskExecutor(address)`); None runs a local process pool of
                      `workers` processes (in this process when `workers` is 1), closed
                      at the end. A given executor is left open.
    inflation:        annual rate for the inflation-free (real) values, for amounts
                      indexed to the CPI and for the withdrawal rates.
    progress:         called as progress(paths_done, paths) after each batch.
    withdrawal:       replaces the strategy's withdrawals: dollars (`4000`) or a yearly
                      percent of the account (`"4%"`), every `every` from the first
                      session to the end; a dollar amount is raised by `indexed` (a yearly
                      rate; default the inflation rate; "none" keeps it flat) each year.
    confidence, rate_paths, rate_steps, rate_high: the safe and perpetual withdrawal
                      rates (`backtest.montecarlo.rates`) over the first `rate_paths`
                      paths (0: none), by `rate_steps` halvings of [0, rate_high].
    memory:           bytes, or a size such as "512MB" or "2GB" (`parse_memory`): what
                      one worker's engine batch may hold (default 1 GB); a smaller
                      budget runs a job in more, smaller engine batches, with the same
                      results.

    A local process pool starts its workers with forkserver (or spawn): in a
    script, call this under ``if __name__ == "__main__":``.
    """
    rate_paths = min(paths, RT.DEFAULT_PATHS if rate_paths is None else rate_paths)
    check_options(years, paths, method, block, inflation, confidence, rate_paths, rate_steps,
                  rate_high)
    budget = parse_memory(memory)
    setup = prepare(strategy_or_path, years, start=start, end=end, inflation=inflation)
    if method == "block-bootstrap" and block >= setup.history.days:
        raise MonteCarloError(
            f"--block {block} sessions is not shorter than the history window "
            f"({setup.history.days} days), so every path would be the same: use a smaller "
            "--block, a longer history (--from/--to) or --method bootstrap",
            source=setup.strategy.source)
    plan = setup.plan
    if withdrawal is not None:
        plan = option_plan(plan, withdrawal, every, parse_indexed(indexed, inflation))
    payload = Payload(setup.history, plan, int(seed), method, int(block), memory=budget)
    own = executor is None
    if own:
        from backtest.sweep.executors import LocalExecutor, SerialExecutor

        executor = SerialExecutor() if workers == 1 else LocalExecutor(workers)
    try:
        values = np.empty((paths, len(plan.sessions)))
        results = run_paths(payload, range(paths), executor, progress,
                            source=setup.strategy.source, values=values)
        rates = None
        if rate_paths and plan.starting_balance > 0:
            rates = withdrawal_rates(payload, rate_paths, executor, inflation=inflation,
                                     confidence=confidence, steps=rate_steps, high=rate_high)
    finally:
        release_buffers()  # what ran in this process (a serial executor) is done
        if own:
            executor.close()
    h = setup.history
    settings = {
        "years": float(years), "sessions": len(plan.sessions), "seed": int(seed),
        "method": method, "block": int(block) if method == "block-bootstrap" else None,
        "inflation": float(inflation),
        "start": str(plan.sessions[0]), "end": str(plan.sessions[-1]),
        "history_start": setup.history_start.isoformat(),
        "history_end": setup.history_end.isoformat(), "history_days": h.days,
        "history_years": round(history_years(setup.history_start, setup.history_end), 2),
        "tickers": list(h.tickers),
        "start_prices": {t: float(p) for t, p in zip(h.tickers, h.start_close, strict=True)},
        "starting_balance": float(plan.starting_balance),
        "withdraws": bool(len(plan.withdrawal_sessions)),
        "withdrawal_schedule": list(plan.coverage),
        **(rates.as_dict() if rates is not None else {}),
    }
    return build_result(setup.strategy.name, results, plan.sessions, values=values,
                        seed=int(seed),
                        inflation=float(inflation),
                        scheduled_withdrawals=plan.scheduled_withdrawals,
                        settings=settings, warnings=setup.warnings)


def withdrawal_rates(payload: Payload, paths: int, executor, *, inflation: float,
                     confidence: float = 0.95, steps: int = RT.DEFAULT_STEPS,
                     high: float = RT.DEFAULT_HIGH) -> RT.Rates:
    """Safe and perpetual withdrawal rates over paths 0..paths-1 (`rates` module)."""
    plan = payload.plan
    every = withdrawal_frequency(plan)
    n = len(plan.sessions)
    real_factor = float(deflator(n, inflation)[-1]) if n else 1.0

    def evaluate(rates: Sequence[float]) -> list[RT.RateStats]:
        """Every rate's paths, run together (one set of jobs): the results by rate."""
        plans = [rate_plan(plan, rate, inflation, every) for rate in rates]
        p = replace(payload, plans=tuple(plans), plan_paths=paths, measures=False)
        out = run_paths(p, range(paths * len(plans)), executor)
        by_plan: list[list[PathResult]] = [[] for _ in plans]
        for r in out:  # path index k * paths + i: path i at the k-th rate
            by_plan[r.path // paths].append(r)
        return [RT.stats_of(rs, real_factor) for rs in by_plan]

    return RT.find_rates(evaluate, start=plan.starting_balance, confidence=confidence,
                         paths=paths, steps=steps, high=high, every=every)
