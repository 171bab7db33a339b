"""`backtest run STRATEGY`: simulate the account and write the run's files."""

from __future__ import annotations

import re
from pathlib import Path

import click

from backtest.analytics.tax import run_tax_tables
from backtest.engine.result import run as run_simulation
from backtest.engine.simulation import Simulation
from backtest.engine.summary import summarize
from backtest.errors import BacktestError
from backtest.io.inputs import load_inputs
from backtest.io.run_output import write_run

SLUG_MAX = 80  # far below the file-name limits (255 bytes) with room for '.tmp' names


def slug(name: str) -> str:
    """A folder name from a strategy name: lower case ASCII letters and digits,
    words joined by '-', at most SLUG_MAX characters; never '.', '..' or a path."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    text = text[:SLUG_MAX].rstrip("-")
    return text or "run"


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the run's files [default: reports/<strategy-name>/].")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Also write the PNG charts and report.html.")
@click.option("--benchmark", metavar="PATH_OR_TICKER", default=None,
              help="Show a benchmark beside the account in the report: a ticker of the "
                   "strategy's price data or of data/sample (e.g. SP500), a price file, or "
                   "PATH:TICKER.")
@click.option("--risk-free", type=float, default=0.0, show_default=True,
              help="Annual risk-free rate for Sharpe and Sortino (0.03 = 3%).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when the run succeeds.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON on stdout (what summary.json holds).")
@click.option("--csv", "csv", is_flag=True,
              help="Also write CSV copies of the tables beside the Parquet files.")
def run(strategy: str, out: str | None, report: bool, benchmark: str | None,
        risk_free: float, quiet: bool = False, as_json: bool = False,
        csv: bool = False) -> None:
    """Run a strategy over its price data and write the run's files.

    Writes summary.json, daily/trades/allocations/holdings/drift/events
    Parquet tables and (unless --no-report) the charts and report.html, all
    at once: the folder is replaced only when everything is written.

    Example:

        backtest run strategies/factor_pie.yaml --out reports/factor

        backtest run strategies/nested_stocks.yaml --benchmark SP500
    """
    inputs = load_inputs(strategy)
    bench = _benchmark(benchmark, inputs.strategy.data.prices) if benchmark else None
    for note in inputs.warnings:
        click.echo(f"warning: {note}", err=True)
    result = run_simulation(Simulation(inputs.strategy, inputs.market))
    tax = inputs.strategy.tax
    lots = run_tax_tables(result, lot_method=tax.lot_method)
    summary = summarize(result, risk_free=risk_free, tax=tax, tax_tables=lots)
    dest = Path(out) if out is not None else Path("reports") / slug(inputs.strategy.name)

    def add_report(folder: Path) -> None:
        if csv:
            from backtest.report.csv_copies import write_csv_copies

            write_csv_copies(folder)
        if report:
            from backtest.report import write_report

            band = inputs.strategy.rebalance.drift_band
            from backtest.report.cpi import find_cpi

            write_report(folder, benchmark=bench, risk_free=risk_free,
                         drift_band=band / 100.0 if band else 0.05,
                         cpi=find_cpi(Path(inputs.strategy.data.prices).parent))

    try:
        write_run(result, summary, dest, extra=add_report, tax_tables=lots)
    except OSError as exc:  # a file in the way, a read-only or full disk, ...
        raise BacktestError(f"cannot write the run's files: {exc.strerror or exc}",
                            source=dest) from None
    _print_summary(summary, dest, result, bench, quiet=quiet, as_json=as_json)


def _print_summary(summary: dict, dest: Path, result, bench, *, quiet: bool,
                   as_json: bool) -> None:
    """The summary on stdout: JSON with --json, nothing with --quiet, else text."""
    from backtest.cli import summary_text as T

    if as_json:
        click.echo(T.summary_json(summary))
        return
    if quiet:
        return
    from backtest.analytics.drift import most_drifted

    b = None
    if bench is not None:
        b = {"name": bench.name or "benchmark",
             "cagr": T.benchmark_cagr(bench, result.daily["date"])}
    stream = click.get_text_stream("stdout")
    click.echo(T.summary_text(summary, dest, benchmark=b, drift=most_drifted(result.drift),
                              colour=T.use_colour(stream)))


def _benchmark(spec: str, prices: Path):
    """The benchmark's closes: a ticker of the strategy's own prices, else a file, or a
    ticker of the Parquet files beside the strategy's prices or under data/."""
    from backtest.report.benchmark import DEFAULT_SEARCH, load_benchmark

    try:
        return load_benchmark(spec, prices=prices)
    except BacktestError:
        return load_benchmark(spec, search=(Path(prices).parent, *DEFAULT_SEARCH))
