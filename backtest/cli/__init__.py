"""The `backtest` command line: a thin layer over the library.

Each command lives in its own module and delegates to library functions.
User errors (`BacktestError`) become one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys

import click

from backtest import __version__
from backtest.errors import BacktestError


class _Group(click.Group):
    """A click group that turns user errors into one line and exit status 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BacktestError as exc:
            click.echo(f"error: {exc.line()}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backtest")
def cli() -> None:
    """Backtest and replay pie-based automated investing accounts.

    A strategy file (YAML) describes the pie, the auto-invest settings, the
    cash flows and dated requests; price data (Parquet) drives a day-by-day
    simulation of the account's trade windows.

    Example:

        backtest run strategies/factor_pie.yaml
    """


def _register() -> None:
    from backtest.cli import data, replay, report, run, validate

    cli.add_command(validate.validate)
    cli.add_command(run.run)
    cli.add_command(report.report)
    cli.add_command(replay.replay)
    cli.add_command(data.data)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(standalone_mode=True))
