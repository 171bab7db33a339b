"""`backtest validate STRATEGY`: check a strategy file and its data, run nothing."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from backtest.domain.strategy import Strategy


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--no-data", is_flag=True,
              help="Check only the strategy file, not the price data and halts it names.")
def validate(strategy: str, no_data: bool) -> None:
    """Check a strategy file (and its data) without running it.

    Reads STRATEGY (YAML), checks every key against the strategy format,
    checks the dated events against the pie as it changes over time, then
    loads the price data and halt calendar the file names and builds the
    market for the run's dates. Prints a short summary and any warnings;
    a problem is one line naming the file and key, with exit status 2.

    Example:

    \b
        backtest validate strategies/factor_pie.yaml
    """
    from backtest.io.inputs import read_strategy

    strat = read_strategy(strategy)
    sessions: list[dt.date] = []
    n_halts, notes = 0, []
    if not no_data:
        sessions, n_halts, notes = _check_data(strat)
    tickers = strat.tickers()
    click.echo(f"{strategy}: ok: {strat.name}")
    click.echo(f"  tickers: {len(tickers)} ({' '.join(tickers)})")
    click.echo(f"  cashflows: {len(strat.cashflows)}, events: {len(strat.events)}")
    if no_data:
        return
    if sessions:
        click.echo(f"  sessions: {len(sessions)} from {sessions[0]} to {sessions[-1]}")
    if strat.data.halts is not None:
        click.echo(f"  halts: {n_halts} in the run's sessions")
    for note in notes + _date_warnings(strat, sessions):
        click.echo(f"warning: {note}", err=True)


def _check_data(strat: Strategy) -> tuple[list[dt.date], int, list[str]]:
    """Load the prices and halts and build the market, as `backtest run` does."""
    from backtest.io.inputs import market_for

    market, notes = market_for(strat)
    from backtest.io.caveats import run_notes

    notes = [*notes, *run_notes(strat, market)]
    return market.session_dates(), len(market.halts), list(notes)


def _date_warnings(strat: Strategy, sessions: list[dt.date]) -> list[str]:
    """Dated items that fall outside the sessions never happen."""
    if not sessions:
        return []
    first, last = sessions[0], sessions[-1]
    out = []
    for i, cf in enumerate(strat.cashflows):
        when = cf.date or cf.start
        if when is not None and when > last:
            out.append(f"cashflows[{i}] starts on {when}, after the last session {last}")
        elif cf.date is not None and cf.date < first:
            out.append(f"cashflows[{i}] is dated {cf.date}, before the first session {first}")
    for ev in strat.events:
        if not first <= ev.date <= last:
            out.append(f"{type(ev).__name__} on {ev.date} is outside the sessions "
                       f"{first}..{last} and never happens")
    return out
