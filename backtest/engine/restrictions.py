"""What may not trade in one window: ticker halts and tickers without a price.

The window asks one value, built once per window by
`Simulation._window_prices`, instead of reading per-column strings: whether
anything is restricted at all (the common case is nothing), whether a column
is, and the words of the event that defers a request because of it. A market
halt is not here: it skips the whole window before any request runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

_NO_REASONS: Mapping[int, str] = MappingProxyType({})


@dataclass(frozen=True)
class Restrictions:
    """halted[col]: market column `col` cannot trade in this window;
    reasons[col]: why, as the event says it ("AAA halted (LULD 10:00-10:05)")."""

    halted: np.ndarray
    reasons: Mapping[int, str]
    any: bool

    @classmethod
    def of(cls, n_columns: int, reasons: Mapping[int, str]) -> Restrictions:
        """Restrictions on `n_columns` market columns from {column: why}."""
        if not reasons:
            return cls.none(n_columns)
        halted = np.zeros(n_columns, dtype=bool)
        halted[list(reasons)] = True
        halted.flags.writeable = False
        return cls(halted, MappingProxyType(dict(reasons)), True)

    @classmethod
    def none(cls, n_columns: int) -> Restrictions:
        """Nothing restricted (one shared, read-only value per width: most windows)."""
        found = _NONE.get(n_columns)
        if found is None:
            halted = np.zeros(n_columns, dtype=bool)
            halted.flags.writeable = False
            found = _NONE[n_columns] = cls(halted, _NO_REASONS, False)
        return found

    def reason(self, col: int) -> str:
        """Why column `col` cannot trade ("" when it can)."""
        return self.reasons.get(col, "")


_NONE: dict[int, Restrictions] = {}
