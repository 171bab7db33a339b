"""`backtest run STRATEGY`: simulate the account and write the run's files."""

from __future__ import annotations

from pathlib import Path

import click

from backtest.app import SLUG_MAX, slug  # noqa: F401 (the folder-name rule lives in app)
from backtest.errors import one_line


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the run's files [default: reports/<strategy-name>/].")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Also write the PNG charts and report.html.")
@click.option("--benchmark", metavar="PATH_OR_TICKER", default=None,
              help="Show a benchmark beside the account in the report: a ticker of the "
                   "strategy's price data or of data/sample (e.g. SP500), a price file, "
                   "PATH:TICKER, or US-MARKET (the US market's total return, monthly).")
@click.option("--risk-free", type=float, default=None,
              help="Annual risk-free rate for Sharpe and Sortino (0.03 = 3%) [default: the "
                   "1-month T-bill rate over the run's months from data/sample/"
                   "ff_monthly.parquet when it covers them (1926-07 to 2018-11), else 0].")
def run(strategy: str, out: str | None, report: bool, benchmark: str | None,
        risk_free: float | None) -> None:
    """Run a strategy over its price data and write the run's files.

    Writes summary.json, daily/trades/allocations/holdings/drift/events
    Parquet tables and (unless --no-report) the charts and report.html, all
    at once: the folder is replaced only when everything is written.

    Examples:

    \b
        backtest run strategies/factor_pie.yaml --out reports/factor
        backtest run strategies/nested_stocks.yaml --benchmark SP500
    """
    from backtest import app

    inputs = app.load(strategy)
    bench = app.load_benchmark(benchmark, inputs.strategy.data.prices) if benchmark else None
    for note in inputs.warnings:
        click.echo(f"warning: {note}", err=True)
    if bench is not None and len(inputs.market.sessions):
        from backtest.report.benchmark import check_covers

        check_covers(bench, inputs.market.sessions[0], inputs.market.sessions[-1])
    done = app.execute(inputs.strategy, inputs.market, risk_free=risk_free)
    summary = done.summary
    dest = Path(out) if out is not None else app.default_out(inputs.strategy)
    app.write(done, dest, report=report, benchmark=bench)
    click.echo(_headline(summary, dest))


def _headline(s: dict, dest: Path) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2%}"

    return (f"{one_line(str(s['name']))}: {s['start']} to {s['end']}\n"
            f"  final value  ${s['final_value']:,.2f}   deposits ${s['total_deposits']:,.2f}"
            f"   withdrawals ${s['total_withdrawals']:,.2f}\n"
            f"  TWR {pct(s['twr'])}   MWR {pct(s['mwr'])}   CAGR {pct(s['cagr'])}"
            f"   max drawdown {pct(s['max_drawdown'])}\n"
            f"  wrote {dest}/")
