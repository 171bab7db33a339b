"""Input files are read only when they are regular files of a sane size.

A path to a device (`/dev/zero` reads forever), a named pipe (a read waits
for a writer that never comes) or a socket is refused by what it is, before
any read; so is a file larger than the limit for its kind, which would only
exhaust memory (a strategy file or a halt calendar is a few kilobytes).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MB = 1024 * 1024
STRATEGY_LIMIT = 16 * MB
HALTS_LIMIT = 64 * MB
PRICES_LIMIT = 16 * 1024 * MB  # far beyond 3,000 tickers x 30 years (under 1 GB)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: str | Path, limit: int) -> str | None:
    """Why `path` must not be read (None when it is a readable-size regular file).

    Raises FileNotFoundError when nothing is there (the caller words that)."""
    st = os.stat(path)  # follows symlinks: a link to a regular file is fine
    if not stat.S_ISREG(st.st_mode):
        return f"is {kind_of(st.st_mode)}, not a regular file"
    if st.st_size > limit:
        return (f"is {st.st_size / MB:,.0f} MB, more than the {limit // MB:,} MB this kind of "
                "file may have")
    return None
