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
                   "[default: the one the run used, recorded in summary.json].")
@click.option("--band", type=float, default=5.0, show_default=True,
              help="Drift band in percentage points for the drift table and chart.")
def report(run_dir: Path, benchmark: str | None, prices: str | None,
           risk_free: float | None, band: float) -> None:
    """Rebuild the PNG charts and report.html of a run folder, without rerunning it.

    DIR is a folder written by `backtest run` (summary.json, daily.parquet,
    drift.parquet, ...). The files are replaced in place. The benchmark and
    risk-free rate are the run's (summary.json) unless given; when an option
    changes them, summary.json is rewritten to match the page.

    Example:

        backtest report runs/factor_pie --benchmark SP500 --risk-free 0.02
    """
    from backtest.report import write_report
    from backtest.report.benchmark import load_benchmark

    if band < 0:
        raise BacktestError(f"--band must be >= 0 percentage points, got {band:g}")
    if risk_free is not None and not -1.0 < risk_free < 1.0:
        raise BacktestError(f"--risk-free is a fraction (0.02 = 2%), got {risk_free:g}")
    from backtest.io.run_settings import changed, effective, read_summary, rewrite_summary

    summary = read_summary(run_dir)
    given = benchmark
    benchmark, prices, risk_free = effective(summary, benchmark, prices, risk_free)
    risk_free = 0.0 if risk_free is None else risk_free
    bench = None
    if benchmark:
        from backtest.cli.run import _benchmark

        bench = (load_benchmark(benchmark, prices=prices) if given or not prices
                 else _benchmark(benchmark, Path(prices)))
    paths = write_report(run_dir, benchmark=bench, risk_free=risk_free, drift_band=band / 100)
    if summary and changed(summary, benchmark, risk_free):
        from backtest.report.build import benchmark_label

        label = benchmark_label(str(bench.name)) if bench is not None else None
        rewrite_summary(run_dir, summary, benchmark=benchmark, prices=prices,
                        risk_free=risk_free, label=label)
        click.echo("updated summary.json (benchmark and risk-free rate as this report's)")
    html = next((p for p in paths if p.suffix == ".html"), None)
    click.echo(f"wrote {len(paths) - 1} charts and {html}")
