"""Synthetic future price paths by resampling whole historical days (pure: no I/O).

A `History` holds, for every historical session after the first of the chosen
window, the day's ratios of every ticker to its previous close:

* ``close_ratio = close_t / close_(t-1)``
* ``open_ratio = open_t / close_(t-1)`` (the close ratio when the data has no
  open that day: the open is the close)
* ``dividend_yield = dividend_t / close_(t-1)``

A path picks historical *days* (one index for every ticker at once, so the
correlation between tickers is kept) and chains them from the start prices:
``close_k = close_(k-1) * close_ratio[d_k]``, ``open_k = close_(k-1) *
open_ratio[d_k]`` and ``dividend_k = close_(k-1) * dividend_yield[d_k]``.

Methods:

* ``bootstrap``: every day drawn independently and uniformly.
* ``block-bootstrap`` (moving blocks): blocks of ``block`` consecutive
  historical days, each starting uniformly in ``[0, days - block]`` (no
  wrap-around: a block is always ``block`` days that followed each other),
  joined end to end and cut to length. Volatility clusters and short-term
  autocorrelation within a block are kept.

Days where any ticker of the strategy lacks a close (on that day or the day
before: a ticker not yet listed, a gap in the data) cannot give a ratio for
every ticker and are left out of the history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("block-bootstrap", "bootstrap")


@dataclass(frozen=True, eq=False)
class History:
    """Daily ratios of the history window (days x tickers) and the start prices."""

    tickers: tuple[str, ...]
    dates: np.ndarray  # datetime64[D] of each historical day (the day the ratio ends on)
    close_ratio: np.ndarray
    open_ratio: np.ndarray
    dividend_yield: np.ndarray
    start_close: np.ndarray  # (tickers,) the close before the first synthetic session
    has_open: bool = True
    dropped_days: int = 0  # days left out for a missing price

    @property
    def days(self) -> int:
        return len(self.dates)


def history_from_arrays(tickers: tuple[str, ...] | list[str], sessions: np.ndarray,
                        close: np.ndarray, open_: np.ndarray | None = None,
                        dividend: np.ndarray | None = None, *, has_open: bool = True,
                        start_close: np.ndarray | None = None) -> History:
    """The `History` of (sessions x tickers) price arrays (NaN = no price).

    `start_close` defaults to each ticker's last close in the window (the
    absolute level of a path does not matter: only the ratios do, apart from
    share rounding).
    """
    close = np.asarray(close, dtype=float)
    if close.ndim != 2 or close.shape[0] < 2:
        raise ValueError("the history needs at least two sessions")
    opens = close if open_ is None or not has_open else np.asarray(open_, dtype=float)
    opens = np.where(np.isnan(opens), close, opens)  # no open that day: the open is the close
    div = np.zeros_like(close) if dividend is None else np.nan_to_num(np.asarray(dividend,
                                                                                 dtype=float))
    prev = close[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        cr = close[1:] / prev
        orr = opens[1:] / prev
        dy = div[1:] / prev
    ok = np.isfinite(cr).all(axis=1) & np.isfinite(orr).all(axis=1) & np.isfinite(dy).all(axis=1)
    ok &= (prev > 0).all(axis=1) & (close[1:] > 0).all(axis=1)
    if start_close is None:
        last = np.full(close.shape[1], np.nan)
        for j in range(close.shape[1]):
            col = close[:, j][~np.isnan(close[:, j])]
            if len(col):
                last[j] = col[-1]
        start_close = last
    return History(tuple(tickers), np.asarray(sessions, dtype="datetime64[D]")[1:][ok],
                   cr[ok], orr[ok], dy[ok], np.asarray(start_close, dtype=float),
                   has_open=has_open, dropped_days=int((~ok).sum()))


def resample_indices(days: int, n: int, rng: np.random.Generator,
                     method: str = "block-bootstrap", block: int = 21) -> np.ndarray:
    """`n` historical day indices (into `0..days-1`) for one path.

    `block` is clipped to `days` (a block longer than the history is the
    whole history).
    """
    if days < 1:
        raise ValueError("the history has no days to resample")
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if method == "bootstrap":
        return rng.integers(0, days, size=n, dtype=np.int64)
    if method != "block-bootstrap":
        raise ValueError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if block < 1:
        raise ValueError("block must be at least 1")
    b = min(int(block), days)
    count = -(-n // b)
    starts = rng.integers(0, days - b + 1, size=count, dtype=np.int64)
    return (starts[:, None] + np.arange(b, dtype=np.int64)[None, :]).ravel()[:n]


def path_rng(seed: int, path: int) -> np.random.Generator:
    """The generator of path `path` of a run seeded `seed` (independent of any worker)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(path),)))


def resample_returns(history: History, n: int, rng: np.random.Generator | None = None, *,
                     seed: int = 0, path: int = 0, method: str = "block-bootstrap",
                     block: int = 21) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One path's resampled (close_ratio, open_ratio, dividend_yield, day indices).

    Pure: the same `history`, generator state (or `seed` and `path`) and
    options give the same arrays. Each array is (n x tickers).
    """
    if rng is None:
        rng = path_rng(seed, path)
    idx = resample_indices(history.days, n, rng, method, block)
    return history.close_ratio[idx], history.open_ratio[idx], history.dividend_yield[idx], idx


def prices_from_ratios(start_close: np.ndarray, close_ratio: np.ndarray,
                       open_ratio: np.ndarray, dividend_yield: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(open, close, dividend) arrays of a path chained from `start_close`."""
    close = np.cumprod(close_ratio, axis=0) * start_close[None, :]
    prev = np.empty_like(close)
    if len(close):
        prev[0] = start_close
        prev[1:] = close[:-1]
    return prev * open_ratio, close, prev * dividend_yield
