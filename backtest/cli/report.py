"""`backtest report DIR`: rebuild a run's charts and report.html from its files."""

from __future__ import annotations

from pathlib import Path

import click

from backtest.errors import BacktestError


@click.command()
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--benchmark", metavar="PATH_OR_TICKER", default=None,
              help="Price series to compare with: a Parquet/CSV file with one ticker, "
                   "PATH:TICKER, or a ticker found in --prices (default: data/sample/).")
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

        backtest report runs/factor_pie --benchmark SP500 --risk-free 0.02
    """
    from backtest.io.run_settings import effective, read_summary
    from backtest.report import write_report
    from backtest.report.benchmark import load_benchmark

    summary = read_summary(run_dir)  # what the run used, unless an option says otherwise
    benchmark, prices, risk_free = effective(summary, benchmark, prices, risk_free)
    if band < 0:
        raise BacktestError(f"--band must be >= 0 percentage points, got {band:g}")
    if risk_free is not None and not -1.0 < risk_free < 1.0:
        raise BacktestError(f"--risk-free is a fraction (0.02 = 2%), got {risk_free:g}")
    bench = load_benchmark(benchmark, prices=prices) if benchmark else None
    paths = write_report(run_dir, benchmark=bench, risk_free=risk_free, drift_band=band / 100)
    html = next((p for p in paths if p.suffix == ".html"), None)
    from backtest.io.run_settings import keep_summary_in_step

    if keep_summary_in_step(run_dir, summary, benchmark, prices, risk_free, bench):
        click.echo("updated summary.json: the benchmark and risk-free rate of this report")
    click.echo(f"wrote {len(paths) - 1} charts and {html}")
