"""Pies and slices: the portfolio tree with target percents.

A slice is a security (a ticker) or a sub-pie. A slice is addressed by its
path, the slice names from the root joined with "/" (`Growth/MTUM`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

ROOT = "portfolio"
TARGET_TOLERANCE = 0.001


@dataclass(frozen=True)
class Slice:
    """One slice of a pie: a `ticker` or a sub-`pie`, with its target percent."""

    name: str
    target: float  # percent of the parent pie, > 0
    ticker: str | None = None
    pie: Pie | None = None

    @property
    def is_pie(self) -> bool:
        return self.pie is not None


@dataclass(frozen=True)
class Pie:
    """A list of slices whose targets sum to 100."""

    slices: tuple[Slice, ...]

    def tickers(self) -> list[str]:
        """Every ticker under this pie, in tree order, without repeats."""
        seen: dict[str, None] = {}
        for _, leaf in self.leaves():
            assert leaf.ticker is not None
            seen.setdefault(leaf.ticker, None)
        return list(seen)

    def leaves(self, prefix: str = "") -> Iterator[tuple[str, Slice]]:
        """(path, slice) for every security slice under this pie."""
        for s in self.slices:
            path = join_path(prefix, s.name)
            if s.pie is not None:
                yield from s.pie.leaves(path)
            else:
                yield path, s

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Slice]]:
        """(path, slice) for every slice, pies before their contents."""
        for s in self.slices:
            path = join_path(prefix, s.name)
            yield path, s
            if s.pie is not None:
                yield from s.pie.walk(path)

    def find(self, path: str) -> Slice | None:
        """The slice at `path`, or None."""
        node: Pie | None = self
        found: Slice | None = None
        for part in split_path(path):
            if node is None:
                return None
            found = next((s for s in node.slices if s.name == part), None)
            if found is None:
                return None
            node = found.pie
        return found

    def find_pie(self, path: str) -> Pie | None:
        """The pie at `path` (`portfolio` is the root), or None."""
        if path == ROOT or path == "":
            return self
        s = self.find(path)
        return s.pie if s is not None else None


def join_path(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def split_path(path: str) -> list[str]:
    if path in (ROOT, ""):
        return []
    return path.split("/")


def parent_path(path: str) -> str:
    """The pie that holds the slice at `path` (`portfolio` for a top-level slice)."""
    parts = split_path(path)
    return "/".join(parts[:-1]) if len(parts) > 1 else ROOT
