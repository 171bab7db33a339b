"""Running variants inside a worker process (local pool or Dask worker).

`run_job(job)` runs a batch of variants: it parses each variant's document,
builds (or reuses) its market, simulates the accounts that share a market in
one engine batch (`backtest.engine.batch.run_batch`, the same engine a single
run uses), summarizes each one with the single run's own chain
(`backtest.app.complete`) and returns each variant's files as bytes; the
parent writes them into the result store. A variant's folder holds its
summary.json, daily.parquet and variant.json (compact) unless its task asks
for the run's full tables (`Task.keep`, `--keep-runs`). Returning bytes
rather than writing in the worker means a Dask worker on another machine
needs the price data but not the output folder.

A variant that fails (a bad market, an engine error) fails alone: the job
reports it and the others of its batch finish (a batch that raises is run
again one account at a time, so the error lands on its own variant).

Prices are loaded once per worker process: `load_prices` is cached by the
file's (path, size, mtime), and whole markets by the strategy's data section
and tickers, so a sweep over account settings builds its market once per
worker.
"""

from __future__ import annotations

import functools
import io
import json
import sys
import tempfile
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.analytics.drift import mean_abs_drift
from backtest.errors import BacktestError

VARIANT_FILE = "variant.json"


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one variant (small and picklable)."""

    hash: str
    name: str
    document: dict[str, Any] = field(repr=False)
    source: str
    values: tuple[tuple[str, Any], ...] = ()
    risk_free: float | None = 0.0  # None: the Fama-French bill rate over the run, else 0
    report: bool = False  # also write the variant's report.html and charts
    keep: bool = False  # write the run's full tables (`--keep-runs`; implied by `report`)

    @property
    def tables(self) -> bool:
        """Whether the variant's folder holds the full run (its report needs the tables)."""
        return self.keep or self.report


@dataclass(frozen=True)
class Job:
    """Variants a worker runs as one engine batch (those sharing a market run together)."""

    tasks: tuple[Task, ...]

    def __len__(self) -> int:
        return len(self.tasks)


@dataclass(frozen=True)
class Outcome:
    """A finished variant: its summary, extra measures and files (name -> bytes)."""

    hash: str
    summary: dict[str, Any]
    extras: dict[str, Any]
    files: dict[str, bytes] = field(repr=False)
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # engine / measures / writing


class VariantError(Exception):
    """A variant's run failed; carries the one-line reason and the worker's traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


# --- per-worker caches -------------------------------------------------------------------


def stat_key(path: str | Path) -> tuple:
    """(path, size, mtime) of a file, or of every .parquet file of a folder."""
    p = Path(path)
    if p.is_dir():
        return (str(p), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                              for f in sorted(p.iterdir()) if f.suffix == ".parquet"))
    try:
        st = p.stat()
    except OSError:
        return (str(p), None)
    return (str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def cached_prices(key: tuple) -> pd.DataFrame:
    """The price frame for a `stat_key` (loaded once per worker process)."""
    from backtest.io.prices import load_prices

    return load_prices(key[0])


MARKET_CACHE_SIZE = 8
_markets: OrderedDict[tuple, tuple] = OrderedDict()


def market_of(strategy) -> tuple:
    """The strategy's (Market, warnings), shared by variants with the same data and tickers.

    Keyed by the price and halt files' (path, size, mtime), the run's dates and
    the tickers (all, and those of the initial portfolio): everything
    `market_for` reads from the strategy.
    """
    data = strategy.data
    if data.online is not None:  # prices: yahoo (a cached download; fetched if missing)
        from backtest.io.inputs import ensure_online

        ensure_online(strategy)
    key = (stat_key(data.prices), stat_key(data.halts) if data.halts is not None else None,
           data.start, data.end, tuple(strategy.tickers()), tuple(strategy.portfolio.tickers()))
    if key in _markets:
        _markets.move_to_end(key)
        return _markets[key]
    from backtest.io.inputs import market_for

    built = market_for(strategy, prices=cached_prices(key[0]))
    _markets[key] = built
    while len(_markets) > MARKET_CACHE_SIZE:
        _markets.popitem(last=False)
    return built


def clear_caches() -> None:
    """Forget the loaded prices and markets (tests; a long-lived worker)."""
    cached_prices.cache_clear()
    _markets.clear()


# --- a job: variants in engine batches ---------------------------------------------------


def run_job(job: Job) -> list[tuple[Task, Outcome | VariantError]]:
    """Run a job's variants; each one's outcome or its `VariantError` (never raises for
    a variant's own failure)."""
    out: list[tuple[Task, Outcome | VariantError]] = []
    groups: dict[int, list[tuple[Task, Any, Any, list[str]]]] = {}
    for task in job.tasks:
        try:
            strategy, market, warnings = _prepare(task)
        except Exception as exc:  # noqa: BLE001 (reported per variant)
            out.append((task, _variant_error(exc)))
            continue
        groups.setdefault(id(market), []).append((task, strategy, market, warnings))
    for members in groups.values():
        out.extend(_run_group(members))
    return out


def _prepare(task: Task) -> tuple[Any, Any, list[str]]:
    from backtest.io.strategy_file import parse_strategy

    source = Path(task.source)
    strategy = parse_strategy(task.document, source=source, base_dir=source.parent)
    market, warnings = market_of(strategy)
    return strategy, market, list(warnings)


def _variant_error(exc: BaseException) -> VariantError:
    if isinstance(exc, VariantError):
        return exc
    if isinstance(exc, BacktestError):
        return VariantError(exc.line(), _trace(exc))
    text = " ".join(str(exc).split())[:300]
    return VariantError(f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
                        _trace(exc))


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _run_group(members: list[tuple[Task, Any, Any, list[str]]]
               ) -> list[tuple[Task, Outcome | VariantError]]:
    """Accounts on one market: one engine batch, then each account's measures and files.

    A batch that raises runs again one account at a time, so each error is its
    own variant's."""
    from backtest.engine.batch import run_batch
    from backtest.engine.simulation import Simulation

    t0 = time.process_time()
    try:
        sims = [Simulation(strategy, market) for _, strategy, market, _ in members]
        market = members[0][2]
        shape = (len(sims), *market.close.shape)
        run_batch(sims, True, close=np.broadcast_to(market.close, shape),
                  open_=np.broadcast_to(market.open, shape),
                  dividend=np.broadcast_to(market.dividend, shape))
    except Exception:  # noqa: BLE001 (rerun alone: the failure is one variant's)
        if len(members) == 1:
            return [(members[0][0], _alone(members[0]))]
        return [(m[0], _alone(m)) for m in members]
    engine = (time.process_time() - t0) / len(sims)
    out: list[tuple[Task, Outcome | VariantError]] = []
    for member, sim in zip(members, sims, strict=True):
        try:
            out.append((member[0], _finish(member, sim, engine)))
        except Exception as exc:  # noqa: BLE001 (reported per variant)
            out.append((member[0], _variant_error(exc)))
    return out


def _alone(member: tuple[Task, Any, Any, list[str]]) -> Outcome | VariantError:
    """One variant simulated on its own (a batch of one)."""
    from backtest.engine.simulation import Simulation

    try:
        t0 = time.process_time()
        sim = Simulation(member[1], member[2])
        sim.run_to_end()
        return _finish(member, sim, time.process_time() - t0)
    except Exception as exc:  # noqa: BLE001 (reported per variant)
        return _variant_error(exc)


def _finish(member: tuple[Task, Any, Any, list[str]], sim: Any, engine: float) -> Outcome:
    """A simulated account's summary (the single run's chain) and its folder's files."""
    from backtest import app
    from backtest.engine.result import tabulate

    task, strategy, _, warnings = member
    t0 = time.process_time()
    done = app.complete(strategy, tabulate(sim, full=task.tables), risk_free=task.risk_free)
    extras = {"mean_abs_drift": mean_abs_drift(done.result.drift)}
    t1 = time.process_time()
    files = _run_files(task, done)
    cpu = {"engine": engine, "measures": t1 - t0, "writing": time.process_time() - t1}
    meta = {"hash": task.hash, "name": task.name, "source": task.source,
            "values": [[k, v] for k, v in task.values], "extras": extras,
            "warnings": warnings, "tables": task.tables,
            "cpu_seconds": {k: round(v, 5) for k, v in cpu.items()},
            "worker_peak_mb": peak_mb(), "document": task.document}
    files[VARIANT_FILE] = (json.dumps(meta, indent=1, default=str) + "\n").encode("utf-8")
    return Outcome(task.hash, done.summary, extras, files, sum(cpu.values()), cpu)


def _run_files(task: Task, done: Any) -> dict[str, bytes]:
    """The run's files in the variant's folder: all of them (`task.tables`), else
    summary.json and daily.parquet."""
    from backtest import app

    if not task.tables:
        buf = io.BytesIO()
        done.result.daily.to_parquet(buf, index=False)
        return {"summary.json": (json.dumps(done.summary, indent=1) + "\n").encode("utf-8"),
                "daily.parquet": buf.getvalue()}
    with tempfile.TemporaryDirectory(prefix="variant-") as tmp:
        folder = Path(tmp)
        app.write_files(done, folder, report=task.report)
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def peak_mb() -> float | None:
    """This worker process's peak resident memory so far, in MB (None where unknown)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
