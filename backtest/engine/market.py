"""The market as the engine sees it: dense arrays over sessions x tickers.

Built by the data layer (`backtest.io`), read by the engine. Missing prices
are NaN: a ticker not yet listed has no price and is not forward-filled into
existence; the masks say where a price exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from backtest.domain.halts import Halt

REGULAR_CLOSE = 16 * 60  # 16:00 ET in minutes


@dataclass(frozen=True, eq=False)
class Market:
    """Prices, dividends, closing times and halts for the run's sessions.

    sessions:   datetime64[D], sorted, unique: the dates the data has.
    tickers:    column order of every array.
    open/close: float64 (S, N); NaN where the data has no price.
    dividend:   float64 (S, N); cash per share paid that day, 0 where none.
    has_open:   whether the data has an `open` column (else morning fills at close).
    close_time: int (S,), minutes after midnight ET the session closes (early closes).
    halts:      every halt on a session of the run.
    """

    sessions: np.ndarray
    tickers: tuple[str, ...]
    open: np.ndarray
    close: np.ndarray
    dividend: np.ndarray
    has_open: bool = True
    close_time: np.ndarray | None = None
    halts: tuple[Halt, ...] = field(default=())

    def __post_init__(self) -> None:
        n_s, n_t = len(self.sessions), len(self.tickers)
        for name in ("open", "close", "dividend"):
            arr = getattr(self, name)
            if arr.shape != (n_s, n_t):
                raise ValueError(f"{name} has shape {arr.shape}, expected {(n_s, n_t)}")
        if self.close_time is None:
            object.__setattr__(self, "close_time", np.full(n_s, REGULAR_CLOSE, dtype=np.int64))

    @property
    def open_mask(self) -> np.ndarray:
        """True where an open price exists."""
        return ~np.isnan(self.open)

    @property
    def close_mask(self) -> np.ndarray:
        """True where a close price exists."""
        return ~np.isnan(self.close)

    def ticker_index(self, ticker: str) -> int:
        return self.tickers.index(ticker)

    def session_dates(self) -> list[dt.date]:
        return [d.astype(object) for d in self.sessions]
