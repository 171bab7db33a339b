"""`backtest run STRATEGY`: simulate the account and write the run's files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from backtest.app import SLUG_MAX, slug  # noqa: F401 (the folder-name rule lives in app)
from backtest.cli.options import check_risk_free, force_option
from backtest.errors import BacktestError


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
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when the run succeeds.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON on stdout (what summary.json holds).")
@click.option("--csv", "csv", is_flag=True,
              help="Also write CSV copies of the tables beside the Parquet files.")
@force_option
def run(strategy: str, out: str | None, report: bool, benchmark: str | None,
        risk_free: float | None, quiet: bool = False, as_json: bool = False,
        csv: bool = False, force: bool = False) -> None:
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
    from backtest.io.out_folder import check_out

    check_risk_free(risk_free)
    if out is not None:  # before any work: a folder of the user's stays as it is
        check_out(out, "run", force=force, inputs=(strategy,))
    inputs = app.load(strategy)
    data = inputs.strategy.data
    dest = Path(out) if out is not None else app.default_out(inputs.strategy)
    check_out(dest, "run", force=force, inputs=(strategy, data.prices, data.halts))
    bench = app.load_benchmark(benchmark, inputs.strategy.data.prices) if benchmark else None
    for note in inputs.warnings:
        click.echo(f"warning: {note}", err=True)
    if bench is not None and len(inputs.market.sessions):
        from backtest.report.benchmark import check_covers

        check_covers(bench, inputs.market.sessions[0], inputs.market.sessions[-1])
    try:
        done = app.execute(inputs.strategy, inputs.market, risk_free=risk_free)
    except OverflowError as exc:  # amounts beyond exact share counting (engine.window)
        raise BacktestError(str(exc), source=strategy) from None
    summary = done.summary
    from backtest.io.run_settings import recorded_benchmark  # so `report DIR` reuses it

    summary.update(recorded_benchmark(benchmark, bench, inputs.strategy.data.prices))
    app.write(done, dest, report=report, benchmark=bench, csv=csv, force=force)
    _print_summary(summary, dest, done.result, bench, quiet=quiet, as_json=as_json)


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
        from backtest.io.caveats import benchmark_kind

        name = str(bench.name or "benchmark")
        kind = "" if "total return" in name.lower() else benchmark_kind(name)
        b = {"name": name, "kind": kind,
             "cagr": T.benchmark_cagr(bench, result.daily["date"])}
    stream = sys.stdout
    click.echo(T.summary_text(summary, dest, benchmark=b, drift=most_drifted(result.drift),
                              colour=T.use_colour(stream)))
