"""`backtest run STRATEGY`: simulate the account and write the run's files."""

from __future__ import annotations

import re
from pathlib import Path

import click

from backtest.analytics.tax import run_tax_tables
from backtest.engine.result import run as run_simulation
from backtest.engine.simulation import Simulation
from backtest.engine.summary import summarize
from backtest.errors import BacktestError, one_line
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
def run(strategy: str, out: str | None, report: bool, benchmark: str | None,
        risk_free: float) -> None:
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
    from backtest.io.run_settings import recorded_benchmark  # so `report DIR` reuses it

    summary.update(recorded_benchmark(benchmark, bench, inputs.strategy.data.prices))
    dest = Path(out) if out is not None else Path("reports") / slug(inputs.strategy.name)

    def add_report(folder: Path) -> None:
        if report:
            from backtest.report import write_report

            band = inputs.strategy.rebalance.drift_band
            write_report(folder, benchmark=bench, risk_free=risk_free,
                         drift_band=band / 100.0 if band else 0.05)

    try:
        write_run(result, summary, dest, extra=add_report, tax_tables=lots)
    except OSError as exc:  # a file in the way, a read-only or full disk, ...
        raise BacktestError(f"cannot write the run's files: {exc.strerror or exc}",
                            source=dest) from None
    click.echo(_headline(summary, dest))
    if bench is not None:
        click.echo(f"  benchmark {summary['benchmark_label']} (in report.html)")


def _benchmark(spec: str, prices: Path):
    """The benchmark's closes: a ticker of the strategy's own prices, else a file, or a
    ticker of the Parquet files beside the strategy's prices or under data/."""
    from backtest.report.benchmark import DEFAULT_SEARCH, load_benchmark

    try:
        return load_benchmark(spec, prices=prices)
    except BacktestError:
        return load_benchmark(spec, search=(Path(prices).parent, *DEFAULT_SEARCH))


def _headline(s: dict, dest: Path) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2%}"

    from backtest.cli.plan_lines import plan_lines

    plan = "".join(f"{line}\n" for line in plan_lines(s))
    return (f"{one_line(str(s['name']))}: {s['start']} to {s['end']}\n{plan}"
            f"  final value  ${s['final_value']:,.2f}   deposits ${s['total_deposits']:,.2f}"
            f"   withdrawals ${s['total_withdrawals']:,.2f}\n"
            f"  TWR {pct(s['twr'])}   MWR {pct(s['mwr'])}   CAGR {pct(s['cagr'])}"
            f"   max drawdown {pct(s['max_drawdown'])}\n"
            f"  wrote {dest}/")
