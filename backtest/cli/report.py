"""`backtest report DIR`: rebuild a run's charts and report.html from its files."""

from __future__ import annotations

from pathlib import Path

import click

from backtest.cli.options import check_risk_free
from backtest.errors import BacktestError


@click.command()
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--benchmark", metavar="PATH_OR_TICKER", default=None,
              help="Price series to compare with: a Parquet/CSV file with one ticker, "
                   "PATH:TICKER, a ticker found in --prices (default: data/sample/), or "
                   "US-MARKET (the US market's total return, monthly).")
@click.option("--prices", metavar="PATH", default=None,
              help="Price file or folder in which to look up a --benchmark ticker.")
@click.option("--risk-free", "risk_free", type=float, default=None,
              help="Annual risk-free rate for Sharpe and Sortino, as a fraction (0.02 = 2%) "
                   "[default: the 1-month T-bill rate over the run's months from "
                   "data/sample/ff_monthly.parquet when it covers them, else 0].")
@click.option("--band", type=float, default=5.0, show_default=True,
              help="Drift band in percentage points for the drift table and chart.")
def report(run_dir: Path, benchmark: str | None, prices: str | None,
           risk_free: float | None, band: float) -> None:
    """Rebuild the PNG charts and report.html of a run folder, without rerunning it.

    DIR is a folder written by `backtest run` (summary.json, daily.parquet,
    drift.parquet, ...). The files are replaced in place. The benchmark and the
    risk-free rate are those the run used (recorded in summary.json) unless
    given; when an option changes them, summary.json is rewritten to match.

    Example:

    \b
        backtest report runs/factor_pie --benchmark SP500 --risk-free 0.02
    """
    from backtest.io.run_checks import check_run_folder
    from backtest.io.run_settings import effective, read_summary
    from backtest.report import write_report
    from backtest.report.benchmark import load_benchmark
    from backtest.report.build import CHART_FILES, REPORT_NAME

    if not 0 <= band < 100:  # also refuses nan
        raise BacktestError(f"--band must be from 0 to 100 percentage points, got {band:g}")
    check_risk_free(risk_free)
    check_run_folder(run_dir, (REPORT_NAME, *(name for name, _ in CHART_FILES.values())))
    from backtest.sweep.store import check_reportable

    check_reportable(run_dir)  # a compare variant kept compact has no tables to report
    summary = read_summary(run_dir)  # what the run used, unless an option says otherwise
    benchmark, prices, risk_free = effective(summary, benchmark, prices, risk_free)
    bench = load_benchmark(benchmark, prices=prices) if benchmark else None
    dates = _run_dates(run_dir)
    if bench is not None and len(dates):
        from backtest.report.benchmark import check_covers

        check_covers(bench, dates[0], dates[-1])
    from backtest.io.factors import resolve_risk_free
    from backtest.report.cpi import find_cpi

    risk_free = resolve_risk_free(risk_free, dates)
    try:
        paths = write_report(run_dir, benchmark=bench, risk_free=risk_free,
                             drift_band=band / 100,
                             cpi=find_cpi(Path(prices).parent if prices else None))
    except OSError as exc:  # a read-only folder, a full disk, ...
        raise BacktestError(f"cannot write the report: {exc.strerror or exc}",
                            source=run_dir) from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # files edited past the checks
        raise BacktestError(f"cannot build the report from this folder (were its files "
                            f"edited?): {type(exc).__name__}: {exc}"[:300],
                            source=run_dir) from None
    html = next((p for p in paths if p.suffix == ".html"), None)
    from backtest.io.run_settings import keep_summary_in_step

    if keep_summary_in_step(run_dir, summary, benchmark, prices, risk_free, bench):
        click.echo("updated summary.json: the benchmark and risk-free rate of this report")
    click.echo(f"wrote {len(paths) - 1} charts and {html}")


def _run_dates(run_dir: Path):
    """The run's session dates (daily.parquet's date column), empty when unreadable:
    write_report then reports the folder's problem in its own words."""
    import pandas as pd

    try:
        return pd.DatetimeIndex(pd.read_parquet(run_dir / "daily.parquet",
                                                columns=["date"])["date"])
    except Exception:  # noqa: BLE001 - a missing or bad file is write_report's error
        return pd.DatetimeIndex([])
