"""One chain for every caller: load -> simulate -> tables -> write.

`backtest run`, the sweep's workers, the Python API (`backtest.run`) and the
benchmark all run a strategy through these functions, so a run's summary, its
tax lot tables and its files are built one way and cannot drift apart.
The summary is always computed from the whole run (every table and total),
never from a subset that would silently give zeros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.errors import BacktestError

if TYPE_CHECKING:
    import pandas as pd

    from backtest.analytics.tax import TaxTables
    from backtest.domain.strategy import Strategy
    from backtest.engine.market import Market
    from backtest.engine.result import RunResult
    from backtest.io.inputs import Inputs
    from backtest.montecarlo.results import MonteCarloResult

SLUG_MAX = 80  # far below the file-name limits (255 bytes) with room for '.tmp' names
DEFAULT_DRIFT_BAND = 0.05  # the report's band when the strategy sets none (5 points)


@dataclass(frozen=True, eq=False)
class Completed:
    """A finished run: its tables, its tax lots and its summary (summary.json)."""

    strategy: Strategy
    result: RunResult
    tax_tables: TaxTables
    summary: dict[str, Any]
    risk_free: float = 0.0


def load(path: str | Path) -> Inputs:
    """Parse and validate the strategy file at `path` and build its market."""
    from backtest.io.inputs import load_inputs

    return load_inputs(path)


def simulate(strategy: Strategy, market: Market) -> RunResult:
    """Run the account model over the market to the end and tabulate it."""
    from backtest.engine.result import run
    from backtest.engine.simulation import Simulation

    return run(Simulation(strategy, market))


def resolve_risk_free(risk_free: float | None, result: RunResult) -> float:
    """The annual risk-free rate of a run: the one given, else the default rate over
    the run's dates (the bill rate of the bundled factor data, where the project has
    it: `backtest.io.factors`), else 0."""
    if risk_free is not None:
        return float(risk_free)
    try:
        from backtest.io.factors import resolve_risk_free as default_rate
    except ImportError:  # a tree without the factor data
        return 0.0
    return float(default_rate(None, result.daily["date"]))


def complete(strategy: Strategy, result: RunResult, *,
             risk_free: float | None = None) -> Completed:
    """The tax lots and the summary of a simulated run (every measure of summary.json)."""
    from backtest.analytics.tax import run_tax_tables
    from backtest.engine.summary import summarize

    rate = resolve_risk_free(risk_free, result)
    lots = run_tax_tables(result, lot_method=strategy.tax.lot_method)
    summary = summarize(result, risk_free=rate, tax=strategy.tax, tax_tables=lots)
    from backtest.io.caveats import sample_note

    note = sample_note(strategy.data.prices)
    if note:  # the report says it where the returns are read
        summary["data_note"] = note
    return Completed(strategy, result, lots, summary, rate)


def execute(strategy: Strategy, market: Market, *,
            risk_free: float | None = None) -> Completed:
    """Simulate and summarize: everything a run's files hold."""
    return complete(strategy, simulate(strategy, market), risk_free=risk_free)


def drift_band(strategy: Strategy) -> float:
    """The report's drift band as a fraction: the strategy's, else 5 points."""
    band = strategy.rebalance.drift_band
    return band / 100.0 if band else DEFAULT_DRIFT_BAND


def write_files(done: Completed, folder: Path, *, report: bool = False,
                benchmark: pd.Series | None = None, csv: bool = False) -> None:
    """Write the run's files (and the report when asked) into an existing folder."""
    from backtest.io.run_output import write_tables

    write_tables(done.result, done.summary, folder, done.tax_tables)
    _extras(done, folder, report=report, benchmark=benchmark, csv=csv)


def _extras(done: Completed, folder: Path, *, report: bool, benchmark: pd.Series | None,
            csv: bool) -> None:
    """What goes beside the tables: CSV copies (asked for) and the report."""
    if csv:
        from backtest.report.csv_copies import write_csv_copies

        write_csv_copies(folder)
    if report:
        write_report(done, folder, benchmark=benchmark)


def write_report(done: Completed, folder: Path, *, benchmark: pd.Series | None = None) -> None:
    """The charts and report.html of a run folder already holding the run's tables
    (real values where a CPI series beside the prices, or bundled, covers the run)."""
    from backtest.report import write_report as build
    from backtest.report.cpi import find_cpi

    build(folder, benchmark=benchmark, risk_free=done.risk_free,
          drift_band=drift_band(done.strategy),
          cpi=find_cpi(Path(done.strategy.data.prices).parent))


def write(done: Completed, dest: str | Path, *, report: bool = True,
          benchmark: pd.Series | None = None, csv: bool = False, **options: Any) -> Path:
    """Write the run to `dest` atomically (the folder is replaced only when complete).

    `options` go to `backtest.io.run_output.write_run` (for example `force`)."""
    from backtest.io.run_output import write_run

    dest = Path(dest)

    def add_report(folder: Path) -> None:
        _extras(done, folder, report=report, benchmark=benchmark, csv=csv)

    try:
        return write_run(done.result, done.summary, dest, extra=add_report,
                         tax_tables=done.tax_tables, **options)
    except OSError as exc:  # a file in the way, a read-only or full disk, ...
        raise BacktestError(f"cannot write the run's files: {exc.strerror or exc}",
                            source=dest) from None


def monte_carlo(strategy: Strategy | str | Path, years: float, paths: int,
                **options: Any) -> MonteCarloResult:
    """Monte Carlo futures of a strategy (`backtest.montecarlo.api.simulate`): the full
    engine on every bootstrapped path; `options` as that function takes them."""
    from backtest.montecarlo.api import simulate as run_paths

    return run_paths(strategy, years, paths, **options)


def write_monte_carlo(result: MonteCarloResult, dest: str | Path) -> Path:
    """A Monte Carlo run's folder (tables, charts, page), written atomically."""
    from backtest.montecarlo.output import write_outputs

    return write_outputs(result, Path(dest))


def slug(name: str) -> str:
    """A folder name from a strategy name: lower case ASCII letters and digits,
    words joined by '-', at most SLUG_MAX characters; never '.', '..' or a path."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    text = text[:SLUG_MAX].rstrip("-")
    return text or "run"


def default_out(strategy: Strategy) -> Path:
    """`reports/<strategy-name>/`, where `backtest run` writes by default."""
    return Path("reports") / slug(strategy.name)


def load_benchmark(spec: str, prices: str | Path) -> pd.Series:
    """A benchmark's closes: a ticker of the strategy's own prices, else a file, or a
    ticker of the Parquet files beside the strategy's prices or under data/."""
    from backtest.report.benchmark import DEFAULT_SEARCH
    from backtest.report.benchmark import load_benchmark as find

    try:
        return find(spec, prices=prices)
    except BacktestError:
        return find(spec, search=(Path(prices).parent, *DEFAULT_SEARCH))
