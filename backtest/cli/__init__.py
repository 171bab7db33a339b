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

import click

from backtest import __version__
from backtest._launch import Terminated, install_handlers
from backtest.errors import BacktestError, one_line


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
        except MemoryError:
            click.echo("error: out of memory: the job needs more memory than is free here "
                       "(try fewer tickers, a shorter period, fewer paths or variants, "
                       "or --workers 1)", err=True)
            ctx.exit(2)
        except OSError as exc:  # a file in the way, a read-only or full disk, a device ...
            where = exc.filename if exc.filename is not None else ""
            text = exc.strerror or str(exc) or type(exc).__name__
            click.echo(f"error: {one_line(f'{where}: {text}' if where else text)}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:
            term = isinstance(exc, Terminated)
            click.echo(f"error: interrupted ({'SIGTERM' if term else 'SIGINT'}); "
                       "nothing was half-written", err=True)
            ctx.exit(128 + (signal.SIGTERM if term else signal.SIGINT))


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


@click.group(cls=_Group, context_settings=HELP_OPTIONS)
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
    _same_help(cli)


def _same_help(command: click.Command) -> None:
    """`-h` on every command, also when one is invoked on its own (click caches a
    command's help option the first time it is asked for, from that context)."""
    for key, value in HELP_OPTIONS.items():
        command.context_settings.setdefault(key, value)
    for sub in getattr(command, "commands", {}).values():
        _same_help(sub)


_register()


def main() -> None:
    """Console-script entry point."""
    install_handlers()
    sys.exit(cli.main(standalone_mode=True))
