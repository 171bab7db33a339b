"""What may not trade in one window: ticker halts and tickers without a price.

The window asks one value, built once per window by
`Simulation._window_prices`, instead of reading per-column strings: whether
anything is restricted at all (the common case is nothing), whether a column
is, and the words of the event that defers a request because of it. A market
halt is not here: it skips the whole window before any request runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np


@dataclass(frozen=True)
class Restrictions:
    """halted[col]: market column `col` cannot trade in this window;
    reasons[col]: why, as the event says it ("AAA halted (LULD 10:00-10:05)")."""

    halted: np.ndarray
    reasons: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    any: bool = False

    @classmethod
    def of(cls, n_columns: int, reasons: Mapping[int, str]) -> Restrictions:
        """Restrictions on `n_columns` market columns from {column: why}."""
        halted = np.zeros(n_columns, dtype=bool)
        halted[list(reasons)] = True
        return cls(halted, MappingProxyType(dict(reasons)), bool(reasons))

    @classmethod
    def none(cls, n_columns: int) -> Restrictions:
        return cls(np.zeros(n_columns, dtype=bool))

    def reason(self, col: int) -> str:
        """Why column `col` cannot trade ("" when it can)."""
        return self.reasons.get(col, "")
