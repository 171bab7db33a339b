"""The one error type users see: a bad strategy file or bad data.

Every user error names where it is (the file, the key path or row) and what
is wrong, and the CLI prints it as one line with exit status 2.
"""

from __future__ import annotations

from pathlib import Path


class BacktestError(Exception):
    """A problem with the user's input: one clear line, never a traceback."""

    def __init__(self, message: str, *, source: str | Path | None = None,
                 where: str | None = None) -> None:
        self.message = message
        self.source = str(source) if source is not None else None
        self.where = where
        super().__init__(self.line())

    def line(self) -> str:
        parts = [p for p in (self.source, self.where) if p]
        prefix = ": ".join(parts)
        return one_line(f"{prefix}: {self.message}" if prefix else self.message)


def one_line(text: str) -> str:
    """`text` with control and other unprintable characters (newlines, terminal
    escapes, bidi overrides from a file or a ticker) shown as escapes: a message
    stays one line and cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class StrategyError(BacktestError):
    """The strategy file is invalid."""


class DataError(BacktestError):
    """Price data or a halt calendar is invalid."""
