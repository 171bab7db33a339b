"""The `backtest` command's entry point: signal handlers first, then the CLI.

The handlers go in before anything heavy is imported (click, pandas, the
commands), so a Ctrl-C or a SIGTERM in the first moments ends with one line
and status 130 or 143, like one later on, instead of a traceback or a
silent exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup runs."""


def on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
    raise Terminated()


def install_handlers() -> None:
    """SIGTERM raises `Terminated`; SIGINT raises KeyboardInterrupt (unless ignored)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, on_sigterm)
    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted(exc: BaseException) -> int:
    """Print the one line of an interrupt; return the exit status (130 or 143)."""
    term = isinstance(exc, Terminated)
    sys.stderr.write(f"error: interrupted ({'SIGTERM' if term else 'SIGINT'}); "
                     "nothing was half-written\n")
    return 128 + (signal.SIGTERM if term else signal.SIGINT)


def main() -> None:
    """Console-script entry point (`backtest`, `python -m backtest`)."""
    install_handlers()
    try:
        from backtest.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt as exc:  # during the imports, or around click itself
        _exit(interrupted(exc))
    except MemoryError:
        sys.stderr.write("error: out of memory\n")
        sys.exit(2)
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGINT:
            _exit(exc.code)
        raise


def _exit(code: int) -> None:
    """Exit with `code` now. A Ctrl-C that lands inside some compiled module's import
    marks the interpreter as "killed by SIGINT" for good, and it would then end
    by signal (-2) instead of with status 130; the outputs are already cleaned up."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
