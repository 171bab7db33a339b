"""The `backtest` command line: a thin layer over the library.

Each command lives in its own module and delegates to library functions.
User errors (`BacktestError`) become one line on stderr and exit status 2.
An interrupt (Ctrl-C, or SIGTERM from `kill` or a job scheduler) unwinds like
an exception, so outputs being written are removed (`atomic_folder`), and ends
with one line and status 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading

import click

from backtest import __version__
from backtest.errors import BacktestError, one_line


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
    raise Terminated()


class _Group(click.Group):
    """A click group that turns user errors into one line and exit status 2,
    and interrupts into one line and status 130 (SIGINT) or 143 (SIGTERM)."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except BacktestError as exc:
            click.echo(f"error: {exc.line()}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:  # a bad argument or option: one line too
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"error: {one_line(exc.format_message())} "
                       f"(see '{where} --help')", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            term = isinstance(exc, Terminated)
            click.echo(f"error: interrupted ({'SIGTERM' if term else 'SIGINT'}); "
                       "nothing was half-written", err=True)
            ctx.exit(128 + (signal.SIGTERM if term else signal.SIGINT))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backtest")
def cli() -> None:
    """Backtest and replay pie-based automated investing accounts.

    A strategy file (YAML) describes the pie, the auto-invest settings, the
    cash flows and dated requests; price data (Parquet) drives a day-by-day
    simulation of the account's trade windows.

    Example:

    \b
        backtest run strategies/factor_pie.yaml
    """


def _register() -> None:
    from backtest.cli import compare, data, replay, report, run, simulate, validate

    cli.add_command(validate.validate)
    cli.add_command(run.run)
    cli.add_command(report.report)
    cli.add_command(replay.replay)
    cli.add_command(compare.compare)
    cli.add_command(simulate.simulate)
    cli.add_command(data.data)


_register()


def main() -> None:
    """Console-script entry point."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(cli.main(standalone_mode=True))
