"""Splits and cash dividends recovered from a quoted close and an adjusted close.

Many free price sources give the *quoted* (unadjusted) prices and an *adjusted*
close that folds every later split and dividend into the past. The simulator
wants what a brokerage statement shows instead: prices adjusted for splits
only, and each dividend as cash per share on its ex-date (the convention of
`backtest data fetch`). Both are in the ratio of the two series.

With ``f_t = adj_close_t / close_t``, the factor ``R_t = f_t / f_(t-1)`` is 1
on a day without a corporate action and moves on an ex-date:

* a **split** of ``k`` for 1 makes ``R_t = k`` (the quoted price halves on a
  2:1 split, the adjusted one does not move); ``k`` is taken as the nearest
  common ratio (2, 3, 7, ...) when ``R_t`` is within 2% of it;
* a **cash dividend** ``D`` makes ``R_t = (close_t + D) / close_t``, so
  ``D = close_t * (R_t - 1)``. This is the convention of Quandl's WIKI prices
  (the factor uses the ex-date's close); it reproduces the declared amounts
  to the cent (see data/README.md).

Pure functions on arrays: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Split ratios looked for (forward splits); R within SPLIT_TOLERANCE of one is a split.
SPLIT_RATIOS = (1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0)
SPLIT_TOLERANCE = 0.02
# |R - 1| below this is floating-point noise in the adjusted close, not an event.
NOISE = 1e-7


def actions(close: np.ndarray, adj_close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per session: the split ratio (1.0 when none) and the cash dividend per
    share *as quoted that day* (0.0 when none), from the two close series.

    Raises ValueError on a factor that is neither (a fall of the adjusted
    factor: a reverse split or a data error), since guessing would silently
    misprice the series.
    """
    close = np.asarray(close, dtype=float)
    adj = np.asarray(adj_close, dtype=float)
    if close.shape != adj.shape or close.ndim != 1:
        raise ValueError("close and adj_close must be 1-D arrays of one length")
    if not (np.all(close > 0) and np.all(adj > 0)):
        raise ValueError("closes must be positive")
    split = np.ones(len(close))
    dividend = np.zeros(len(close))
    if len(close) < 2:
        return split, dividend
    f = adj / close
    ratio = f[1:] / f[:-1]
    for i in np.flatnonzero(np.abs(ratio - 1.0) > NOISE):
        r = float(ratio[i])
        k = min(SPLIT_RATIOS, key=lambda s: abs(r / s - 1.0))
        if abs(r / k - 1.0) <= SPLIT_TOLERANCE:
            split[i + 1] = k
        elif r > 1.0 and r < SPLIT_RATIOS[0] / (1 + SPLIT_TOLERANCE):
            dividend[i + 1] = close[i + 1] * (r - 1.0)
        else:
            raise ValueError(f"session {i + 1}: adjustment factor {r:.6g} is neither a "
                             "split nor a dividend")
    return split, dividend


def split_adjust(frame: pd.DataFrame) -> pd.DataFrame:
    """One ticker's ``date, open, close, adj_close`` (quoted prices, in date
    order) to ``date, open, close, dividend``: prices and dividends adjusted
    for the splits inside the frame (to the last date's shares), not for
    dividends; dividends in cash per (split-adjusted) share on the ex-date.

    Dividends are rounded to 1e-6 dollars (the factor's floating-point noise),
    not to cents: the values are what the source's factors imply.
    """
    close = frame["close"].to_numpy(dtype=float)
    split, dividend = actions(close, frame["adj_close"].to_numpy(dtype=float))
    # Shares on a date become prod(later splits) shares at the end: divide prices by it.
    later = np.cumprod(split[::-1])[::-1]  # splits on or after each date ...
    later = np.append(later[1:], 1.0)       # ... strictly after it
    factor = later
    out = pd.DataFrame({
        "date": frame["date"].to_numpy(),
        "open": frame["open"].to_numpy(dtype=float) / factor,
        "close": close / factor,
        "dividend": np.round(dividend / factor, 6),
    })
    return out
