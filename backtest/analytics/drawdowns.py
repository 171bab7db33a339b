"""Drawdowns of a TWR index (pure: no I/O): the one place they are computed.

`drawdown_depths` is the measure on a plain array (Monte Carlo measures
thousands of paths with it); `drawdown_series` and `max_drawdown` are the
same numbers on a dated index, for the run's summary and the report.

The running maximum is the index's own values, not the 1.0 the index has
before the first session: the definition reads the twr_index column as
written (strategy-format.md). Where the running maximum is not positive (an
account that never held value) the depth is 0; missing values count as 0.

The worst episodes: an episode runs from a peak (a session at the running
maximum) through its trough (the lowest close before the index is back at
the peak) to the recovery (the first session at or above the peak again), or
to the last session when the index has not recovered. Episodes do not
overlap, so the second-worst is a different fall, not a smaller part of the
worst one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DRAWDOWN_COLUMNS = ["depth", "peak", "trough", "recovery", "days", "sessions",
                    "days_to_trough", "recovered"]
TOLERANCE = 1e-12  # relative: back at the peak within float noise counts as recovered


def drawdown_depths(index: np.ndarray) -> np.ndarray:
    """``index / running max - 1`` at every session (0 or negative)."""
    v = np.asarray(index, dtype=float)
    if not len(v):
        return v.copy()
    run = np.fmax.accumulate(v)  # a missing value does not reset the maximum
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(run > 0, v / run - 1.0, 0.0)
    dd[np.isnan(dd)] = 0.0
    return dd


def max_drawdown_depth(index: np.ndarray) -> float:
    """The deepest `drawdown_depths` (negative; 0.0 for an index that never fell
    and for an empty one)."""
    dd = drawdown_depths(index)
    return min(float(dd.min()), 0.0) if len(dd) else 0.0


@dataclass(frozen=True)
class Drawdown:
    """The worst fall of an index from its running maximum.

    ``depth`` is negative (0.0 when the index never fell). ``peak`` is the date
    of the running maximum before the trough (the first session when the
    maximum was the 1.0 base before it), ``recovery`` the first date the
    index is back at the peak level, None if never.
    """

    depth: float
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None
    recovery: pd.Timestamp | None


def drawdown_series(index: pd.Series) -> pd.Series:
    """`drawdown_depths` of a dated index, as a series on the same dates."""
    idx = index.astype(float)
    return pd.Series(drawdown_depths(idx.to_numpy()), index=idx.index, name=idx.name)


def max_drawdown(index: pd.Series) -> Drawdown:
    """Max drawdown of a (date-indexed) index series; see `Drawdown`."""
    idx = index.dropna().astype(float).sort_index()
    if len(idx) == 0:
        return Drawdown(math.nan, None, None, None)
    dd = drawdown_series(idx)
    depth = float(dd.min())
    if depth >= 0:
        return Drawdown(0.0, None, None, None)
    trough_pos = int(np.argmin(dd.to_numpy()))
    trough = idx.index[trough_pos]
    upto = idx.iloc[: trough_pos + 1]
    peak_level = float(upto.max())
    peak = upto.index[int(np.argmax(upto.to_numpy()))]
    after = idx.iloc[trough_pos + 1:]
    rec = after[after >= peak_level * (1 - 1e-12)]
    recovery = rec.index[0] if len(rec) else None
    return Drawdown(depth, peak, trough, recovery)


def drawdown_episodes(index: pd.Series) -> pd.DataFrame:
    """Every fall of the index below a running maximum, in date order.

    Columns DRAWDOWN_COLUMNS: ``depth`` (trough / peak - 1, negative), ``peak``,
    ``trough`` and ``recovery`` dates (recovery NaT when not recovered), ``days``
    (calendar days from peak to recovery, or to the last session),
    ``sessions`` (sessions after the peak up to and including the recovery or
    the last session), ``days_to_trough`` and ``recovered``.
    """
    idx = index.dropna().astype(float).sort_index()
    v = idx.to_numpy()
    dates = idx.index
    rows = []
    i, n = 0, len(v)
    while i < n:
        peak_pos, peak = i, v[i]
        j = i + 1
        while j < n and v[j] >= peak * (1 - TOLERANCE):  # still at new highs
            peak_pos, peak = j, max(peak, v[j])
            j += 1
        if j >= n:
            break
        k = j  # first session under the peak
        while k < n and v[k] < peak * (1 - TOLERANCE):
            k += 1
        low_pos = j + int(np.argmin(v[j:k]))
        recovered = k < n
        last = k if recovered else n - 1
        rows.append({
            "depth": v[low_pos] / peak - 1.0 if peak > 0 else 0.0,
            "peak": dates[peak_pos], "trough": dates[low_pos],
            "recovery": dates[k] if recovered else pd.NaT,
            "days": int((dates[last] - dates[peak_pos]).days),
            "sessions": int(last - peak_pos),
            "days_to_trough": int((dates[low_pos] - dates[peak_pos]).days),
            "recovered": recovered,
        })
        i = k
    return pd.DataFrame(rows, columns=DRAWDOWN_COLUMNS)


def worst_drawdowns(index: pd.Series, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest `drawdown_episodes`, deepest first (ties: the earlier first)."""
    ep = drawdown_episodes(index)
    if ep.empty:
        return ep
    return ep.sort_values(["depth", "peak"], kind="stable").head(n).reset_index(drop=True)
