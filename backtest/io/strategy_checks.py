"""Checks for the values of a strategy file, each failing with one clear line.

`Checker` knows the file and turns every violation into a `StrategyError`
naming the key path (`portfolio.slices.Growth.slices`, `cashflows[2].every`).
The pie helpers parse a `slices:` mapping into `Pie`/`Slice` values and keep
the mutable copy of the tree that dated events are checked against.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from backtest.domain.pie import ROOT, TARGET_TOLERANCE, Pie, Slice
from backtest.errors import StrategyError

MAX_DEPTH = 32  # levels of pies, the root pie being level 1
MAX_SLICES = 10_000  # guards against alias bombs (`&p` ... `*p` at every level)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UNPRINTABLE = ("must not contain control or invisible characters "
               "(newlines, tabs, terminal escapes, direction overrides)")


def key(where: str, name: object) -> str:
    """The key path of `name` inside `where` (`account` + `window`)."""
    part = name if isinstance(name, str) else repr(name)
    if not part.isprintable() or len(part) > 60:
        part = repr(part[:60])
    return f"{where}.{part}" if where else part


def index(where: str, i: int) -> str:
    return f"{where}[{i}]"


def show(value: object) -> str:
    """A short, one-line description of a YAML value for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "..."
        return f"the string {text!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    if isinstance(value, dt.datetime):
        return f"the date and time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def fmt(x: float) -> str:
    """A number for messages: 99.999, 100, 0.5."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text if len(text) <= 24 else f"{x:.6g}"


@dataclass
class Checker:
    """Validates values of one strategy file; every failure names the file and key."""

    source: Path | None

    def fail(self, where: str | None, message: str) -> NoReturn:
        raise StrategyError(message, source=self.source, where=where or None)

    def mapping(self, value: object, where: str, what: str = "a mapping") -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be {what}, got {show(value)}")
        return value

    def keys(self, value: dict, where: str, allowed: Iterable[str],
             required: Iterable[str] = ()) -> None:
        """Unknown keys (with the closest known one) and missing required keys."""
        allowed = list(allowed)
        for k in value:
            if not isinstance(k, str):
                self.fail(where, f"key {show(k)} is not a known key "
                                 f"(known keys: {', '.join(allowed)})")
            if k not in allowed:
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
                hint = (f"did you mean '{close[0]}'?" if close
                        else f"known keys: {', '.join(allowed)}")
                self.fail(key(where, k), f"unknown key ({hint})")
        for k in required:
            if k not in value:
                self.fail(key(where, k), "required key is missing")

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, got {show(value)}")
        if not value.strip().isprintable():
            self.fail(where, f"{UNPRINTABLE}, got {value.strip()[:40]!r}")
        return value.strip()

    def choice(self, value: object, where: str, options: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in options:
            self.fail(where, f"must be one of {', '.join(options)}; got {show(value)}")
        return value

    def number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"must be a number, got {show(value)}")
        try:
            x = float(value)
        except OverflowError:
            self.fail(where, "is too large a number")
        if not math.isfinite(x):
            self.fail(where, f"must be a finite number, got {show(value)}")
        return x

    def positive(self, value: object, where: str) -> float:
        x = self.number(value, where)
        if x <= 0:
            self.fail(where, f"must be greater than 0, got {fmt(x)}")
        return x

    def non_negative(self, value: object, where: str) -> float:
        x = self.number(value, where)
        if x < 0:
            self.fail(where, f"must be 0 or more, got {fmt(x)}")
        return x

    def integer(self, value: object, where: str, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"must be a whole number, got {show(value)}")
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            self.fail(where, f"must be {bounds}, got {value}"[:120])
        return value

    def boolean(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, got {show(value)}")
        return value

    def date(self, value: object, where: str) -> dt.date:
        """A calendar date: YAML's own (2024-03-01) or a quoted 'YYYY-MM-DD'."""
        if isinstance(value, dt.datetime):
            self.fail(where, f"must be a date without a time (YYYY-MM-DD), got {show(value)}")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                self.fail(where, f"{value.strip()!r} is not a valid date")
        self.fail(where, f"must be a date (YYYY-MM-DD), got {show(value)}")

    def date_range(self, start: dt.date | None, end: dt.date | None, where: str) -> None:
        if start is not None and end is not None and end < start:
            self.fail(key(where, "end"), f"{end} is before start {start}")

    def exactly_one(self, value: dict, where: str, options: tuple[str, ...],
                    what: str) -> str:
        present = [k for k in options if k in value]
        if len(present) != 1:
            found = ", ".join(present) if present else "none"
            self.fail(where, f"needs exactly one {what} ({', '.join(options)}); found {found}")
        return present[0]

    # --- pies ---------------------------------------------------------------

    def slice_name(self, name: object, where: str) -> str:
        if not isinstance(name, str):
            hint = " (quote it, e.g. 'ON')" if isinstance(name, bool | int | float) else ""
            self.fail(where, f"slice name must be a string, got {show(name)}{hint}")
        if not name.strip():
            self.fail(where, "slice name is empty")
        if "/" in name:
            self.fail(key(where, name), "slice name must not contain '/' (it separates paths)")
        if name == ROOT:
            self.fail(key(where, name), f"slice name '{ROOT}' is reserved for the root pie")
        if name != name.strip():
            self.fail(key(where, name), "slice name has leading or trailing spaces")
        if not name.isprintable():
            self.fail(key(where, name), f"slice name {UNPRINTABLE}")
        return name

    def targets_sum(self, targets: Iterable[float], where: str) -> None:
        total = sum(targets)
        if abs(total - 100.0) > TARGET_TOLERANCE:
            self.fail(where, f"targets sum to {fmt(total)}, not 100 (within {TARGET_TOLERANCE})")

    def pie(self, slices: object, where: str, depth: int, budget: list[int]) -> Pie:
        """A `slices:` mapping: a number is a security, `{target, slices}` a sub-pie."""
        if depth > MAX_DEPTH:
            self.fail(where, f"pies are nested more than {MAX_DEPTH} levels deep")
        slices = self.mapping(slices, where, "a mapping of slice names to targets")
        if not slices:
            self.fail(where, "a pie needs at least one slice")
        out: list[Slice] = []
        for name, value in slices.items():
            name = self.slice_name(name, where)
            here = key(where, name)
            budget[0] += 1
            if budget[0] > MAX_SLICES:
                self.fail(here, f"more than {MAX_SLICES} slices in one strategy")
            if isinstance(value, dict):
                self.keys(value, here, ("target", "slices"), required=("target", "slices"))
                target = self.positive(value["target"], key(here, "target"))
                sub = self.pie(value["slices"], key(here, "slices"), depth + 1, budget)
                out.append(Slice(name=name, target=target, pie=sub))
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(here, "must be a target percent (a security) or a mapping with "
                                f"target and slices (a sub-pie), got {show(value)}")
            else:
                out.append(Slice(name=name, target=self.positive(value, here), ticker=name))
        self.targets_sum((s.target for s in out), where)
        return Pie(slices=tuple(out))


# --- the tree that events change over time ----------------------------------


@dataclass
class Node:
    """A mutable pie for checking events in date order: name -> (target, sub-pie)."""

    slices: dict[str, tuple[float, Node | None]] = field(default_factory=dict)

    @classmethod
    def of(cls, pie: Pie) -> Node:
        return cls({s.name: (s.target, cls.of(s.pie) if s.pie else None) for s in pie.slices})

    def find(self, parts: list[str]) -> tuple[float, Node | None] | None:
        """The (target, sub-pie) at the path below this pie, or None."""
        node: Node | None = self
        found = None
        for part in parts:
            if node is None or part not in node.slices:
                return None
            found = node.slices[part]
            node = found[1]
        return found


def path_parts(path: str) -> list[str]:
    """Path segments; `portfolio` (alone or as a prefix) names the root."""
    path = path.strip()
    if path == ROOT:
        return []
    if path.startswith(ROOT + "/"):
        path = path[len(ROOT) + 1:]
    return path.split("/")
