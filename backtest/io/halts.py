"""Loading a halt calendar (CSV): `date,start,end,scope,level,note`.

Times are `HH:MM` Eastern Time and become minutes after midnight; an empty
`end` means the rest of the day. `scope` is `market` (any case) or a ticker;
`level` is `1`, `2`, `3` for market-wide circuit breakers (required for the
`market` scope) or a word such as `LULD` for a single security. `note` is
optional free text. Blank lines and lines starting with `#` are ignored.

Errors name the file and the row: "row N" is the N-th data row (the header
not counted), with the file's line number beside it.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from backtest.domain.halts import END_OF_DAY, MARKET, Halt
from backtest.errors import DataError
from backtest.io.files import HALTS_LIMIT, check_regular

REQUIRED = ("date", "start", "end", "scope", "level")
MARKET_LEVELS = ("1", "2", "3")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def load_halts(path: Path | str) -> tuple[Halt, ...]:
    """Parse the halt calendar; halts are returned sorted by date and start."""
    path = Path(path)
    try:
        problem = check_regular(path, HALTS_LIMIT)
        if problem is not None:
            raise DataError(f"halt calendar {problem}", source=path)
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("halt calendar not found", source=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read halt calendar ({exc})", source=path) from None

    lines = [
        (no, line)
        for no, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise DataError("halt calendar is empty (expected a header: "
                        "date,start,end,scope,level,note)", source=path)
    rows = [_csv_row(line, path, n, no) for n, (no, line) in enumerate(lines)]
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} (expected "
                        "date,start,end,scope,level,note)", source=path,
                        where=f"column {missing[0]}")
    col = {name: header.index(name) for name in header}

    halts = []
    for n, ((line_no, _), row) in enumerate(zip(lines[1:], rows[1:], strict=True), start=1):
        where = f"row {n} (line {line_no})"

        def cell(name: str, row=row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        halts.append(_parse_row(cell, path, where))
    return tuple(sorted(halts, key=lambda h: (h.date, h.start, h.scope)))


def _csv_row(line: str, path: Path, n: int, line_no: int) -> list[str]:
    """One line as CSV cells; a broken quote is an error naming the row (a quoted
    cell spans one line: a halt's note has no line breaks)."""
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as exc:
        where = f"row {n} (line {line_no})" if n else f"header (line {line_no})"
        raise DataError(f"not valid CSV: {exc} (an unterminated or stray quote?)",
                        source=path, where=where) from None


def _parse_row(cell, path: Path, where: str) -> Halt:
    raw_date = cell("date")
    try:
        date = dt.date.fromisoformat(raw_date)
    except ValueError:
        raise DataError(f"date {raw_date!r} is not a date (YYYY-MM-DD)", source=path,
                        where=where) from None
    start = _parse_time(cell("start"), "start", path, where)
    end_text = cell("end")
    end = _parse_time(end_text, "end", path, where, allow_24=True) if end_text else None
    if end is not None and end <= start:
        raise DataError(f"end {end_text} is not after start {cell('start')}", source=path,
                        where=where)
    scope = cell("scope")
    if not scope:
        raise DataError("scope is empty (expected 'market' or a ticker)", source=path,
                        where=where)
    level = cell("level")
    if scope.lower() == MARKET:
        scope = MARKET
        if level not in MARKET_LEVELS:
            raise DataError(f"a market-wide halt needs level 1, 2 or 3, not {level!r}",
                            source=path, where=where)
    elif level in MARKET_LEVELS:
        # A ticker halt with a circuit-breaker level is almost surely a misspelt
        # 'market' scope: read as a ticker it would silently halt nothing.
        raise DataError(f"scope {scope[:40]!r} with level {level}: levels 1, 2 and 3 are "
                        f"market-wide circuit breakers (scope 'market'); a single-security "
                        f"halt has a word such as LULD as its level", source=path, where=where)
    return Halt(date=date, start=start, end=end, scope=scope, level=level, note=cell("note"))


def _parse_time(text: str, name: str, path: Path, where: str, allow_24: bool = False) -> int:
    m = _TIME.match(text)
    if m:
        hh, mm = int(m.group(1)), int(m.group(2))
        minutes = hh * 60 + mm
        if mm < 60 and (hh < 24 or (allow_24 and minutes == END_OF_DAY)):
            return minutes
    raise DataError(f"{name} time {text!r} is not a time (HH:MM, Eastern Time)",
                    source=path, where=where)


def format_time(minutes: int) -> str:
    """Minutes after midnight as HH:MM."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
