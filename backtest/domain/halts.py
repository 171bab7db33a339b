"""Trading halts: market-wide circuit breakers and single-ticker halts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MARKET = "market"
END_OF_DAY = 24 * 60


@dataclass(frozen=True)
class Halt:
    """One halt on one date; times are minutes after midnight ET.

    `end` is None for "the rest of the day". `scope` is "market" or a ticker;
    `level` is "1", "2", "3" for market-wide circuit breakers or a word (LULD).
    """

    date: dt.date
    start: int
    end: int | None
    scope: str
    level: str
    note: str = ""

    @property
    def is_market(self) -> bool:
        return self.scope == MARKET

    def effective_end(self) -> int:
        """Level 3 (and an empty end) halts the rest of the day."""
        if self.end is None or (self.is_market and self.level == "3"):
            return END_OF_DAY
        return self.end

    def overlaps(self, start: int, end: int) -> bool:
        """Whether the halt covers any of the half-open span [start, end)."""
        return self.start < end and self.effective_end() > start
