"""`backtest replay STRATEGY`: watch the account live through history."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--from", "start", metavar="YYYY-MM-DD", default=None,
              help="First session to show [default: the run's first session].")
@click.option("--to", "end", metavar="YYYY-MM-DD", default=None,
              help="Last session to show [default: the run's last session].")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True, help="A readable feed, or one JSON object per session.")
@click.option("--step", is_flag=True,
              help="Pause after each session: Enter shows the next, q quits; "
                   "end of input stops.")
@click.option("--color/--no-color", default=None,
              help="Colour the text feed [default: only when stdout is a terminal].")
def replay(strategy: str, start: str | None, end: str | None, fmt: str, step: bool,
           color: bool | None) -> None:
    """Replay a strategy's account session by session, as an activity feed.

    The account is simulated from the start of its data (sessions before
    --from run silently, since they make the state you see), then each
    session from --from to --to shows the cash that arrived, halts and other
    events, the window's trades netted per ticker with the slices they served,
    withdrawals paid, the close value, the day's return and the largest drift.
    A date on a non-session day inside the run means the next session (--from)
    or the previous one (--to).

    With --step, replay waits after each session for Enter (next) or q
    (quit); when the input ends, replay stops. Prompts go to stderr.

    Example:

    \b
        backtest replay strategies/retirement_drawdown.yaml --from 2020-03-09 --to 2020-03-20
    """
    from backtest import app
    from backtest.engine.simulation import Simulation
    from backtest.replay import format_text, iter_views, session_range, to_json

    inputs = app.load(strategy)
    for note in inputs.warnings:
        click.echo(f"warning: {note}", err=True)
    sessions = inputs.market.sessions
    first, last = session_range(sessions, start, end)
    if color is None:
        color = sys.stdout.isatty()
    if fmt == "text":
        click.echo(click.style(f"{inputs.strategy.name}: {sessions[first]} to {sessions[last]}"
                               f" ({last - first + 1} of {len(sessions)} sessions)",
                               bold=True) if color else
                   f"{inputs.strategy.name}: {sessions[first]} to {sessions[last]}"
                   f" ({last - first + 1} of {len(sessions)} sessions)", color=color)
    stdin = sys.stdin if step else None
    for view in iter_views(Simulation(inputs.strategy, inputs.market), first, last):
        if fmt == "jsonl":
            click.echo(json.dumps(to_json(view)))
        else:
            click.echo("", color=color)
            click.echo(format_text(view, color=color), color=color)
        if stdin is not None and view.index < last:
            click.echo("-- Enter: next session, q: quit --", err=True)
            answer = stdin.readline()
            if not answer or answer.strip().lower() == "q":
                break
