"""The worst drawdown episodes of a TWR index (pure: no I/O).

An episode runs from a peak (a session at the running maximum) through its
trough (the lowest close before the index is back at the peak) to the
recovery (the first session at or above the peak again), or to the last
session when the index has not recovered. Episodes do not overlap, so the
second-worst is a different fall, not a smaller part of the worst one. The
running maximum is the index's own values, as in `returns.drawdown_series`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DRAWDOWN_COLUMNS = ["depth", "peak", "trough", "recovery", "days", "sessions",
                    "days_to_trough", "recovered"]
TOLERANCE = 1e-12  # relative: back at the peak within float noise counts as recovered


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
