"""The run's ledger: the one record of what the engine did, in order.

The engine appends small typed records; `backtest.engine.result` turns them
into frames at the end. Event kinds and fill reasons are enums whose values
are the strings of the events and fills tables, so a misspelt kind fails at
once (AttributeError) instead of silently matching nothing.

Fills, the record made by the ten thousand, are stored as plain tuples of
`Fill`'s fields (`FillRow`, the reason as its plain string), and payouts as
plain tuples too: the garbage collector stops tracking a tuple of numbers and
plain strings, but not a NamedTuple or a tuple holding an enum member, and
W1's 16,000 tracked fills made `Window._execute_buys` 15-20% slower.
`WindowRecord.records()` gives the fills as `Fill`s. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from backtest.engine.layout import TreeShape


class EventKind(StrEnum):
    """What an events-table row says happened (its `kind` column)."""

    REJECTED = "rejected"  # a request that cannot be carried out
    HALT_DEFERRED = "halt_deferred"  # a request or window waiting for a halt to end
    SCALED = "scaled"  # buy orders scaled down to the cash
    REMOVAL = "removal"  # a removed slice's holdings sold and reinvested
    TARGET_EDIT = "target_edit"  # targets changed or slices added
    WINDOW_SKIPPED = "window_skipped"  # the session closed before the window
    MISSING_PRICE = "missing_price"  # a held ticker has no price: treated as halted


class Reason(StrEnum):
    """Why a fill traded (the `reason` column of the fills and allocations tables)."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    ORDER = "order"
    REMOVAL = "removal"
    REBALANCE = "rebalance"
    AUTO_INVEST = "auto_invest"
    DIVIDEND = "dividend"


class Fill(NamedTuple):
    """One slice's trade in a window: signed grid units and signed dollars
    (+ bought, - sold), at the window's fill price of market column `col`."""

    leaf: int
    col: int
    units: int
    amount: float
    reason: Reason


# How the engine stores a `Fill`: (leaf, col, units, amount, Reason value).
FillRow = tuple[int, int, int, float, str]


@dataclass
class WindowRecord:
    """What one window did: its fills in execution order."""

    session: int
    window: str
    prices: np.ndarray  # fill price per market column
    fills: list[FillRow] = field(default_factory=list)

    def records(self) -> list[Fill]:
        """The window's fills as typed records."""
        return [Fill(lf, col, units, amount, Reason(reason))
                for lf, col, units, amount, reason in self.fills]


@dataclass(frozen=True)
class EventRecord:
    session: int
    kind: EventKind
    detail: str


# A window that paid withdrawals: (session, V_w the account just before the payout,
# W the dollars paid), which split the session for the exact TWR. A plain tuple for
# the reason `FillRow` is one: Monte Carlo keeps one per path and withdrawal.
Payout = tuple[int, float, float]


def _no_sessions() -> np.ndarray:
    return np.zeros(0)


@dataclass
class Ledger:
    """Everything the engine did, in order: the one record a run's tables are
    built from (with the market's prices and the book's leaf names).

    Cash in and out are per-session columns (deposits, dividends, withdrawals
    paid), since every session has one and the batch engine writes them as rows
    of its own (accounts x sessions) arrays. `cash_at` is the cash after each
    session the engine processed; `snapshots` the shares per leaf id after each
    session where they changed; `trees` the tree's slices from the start and
    after each session that changed it (for the drift table).
    """

    windows: list[WindowRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    deposits: np.ndarray = field(default_factory=_no_sessions)
    dividends: np.ndarray = field(default_factory=_no_sessions)
    withdrawals: np.ndarray = field(default_factory=_no_sessions)
    payouts: list[Payout] = field(default_factory=list)
    cash_at: dict[int, float] = field(default_factory=dict)
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    trees: list[tuple[int, TreeShape]] = field(default_factory=list)

    @classmethod
    def for_sessions(cls, n: int) -> Ledger:
        return cls(deposits=np.zeros(n), dividends=np.zeros(n), withdrawals=np.zeros(n))

    def event(self, session: int, kind: EventKind, detail: str) -> None:
        self.events.append(EventRecord(session, EventKind(kind), detail))
