"""The run's ledger: fills, netted trades, per-slice allocations and events.

The engine appends plain tuples; `backtest.engine.result` turns them into
frames at the end. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# leaf id, ticker column, signed grid units, signed dollars, reason
Fill = tuple[int, int, int, float, str]


@dataclass
class WindowRecord:
    """What one window did: its fills in execution order."""

    session: int
    window: str
    prices: np.ndarray  # fill price per market column
    fills: list[Fill] = field(default_factory=list)


@dataclass(frozen=True)
class EventRecord:
    session: int
    kind: str
    detail: str


@dataclass
class Ledger:
    """Everything the engine did, in order."""

    windows: list[WindowRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def event(self, session: int, kind: str, detail: str) -> None:
        self.events.append(EventRecord(session, kind, detail))
