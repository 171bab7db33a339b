"""The proportional allocation rule for one pie in many accounts at once.

`proportional_rows` and `proportional_withdrawal_rows` are
`allocation.proportional_deposit` and `allocation.proportional_withdrawal`
(the plain-list rules a small tree uses) over rows of accounts: the same
operations in the same order, sums added term by term, so each row is bit
for bit the pie rule's answer for that account. The waterfill forms are
`batch.waterfill_rows` and `batch.waterfill_withdrawal_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backtest.engine.sums import sum_last


def proportional_rows(values: np.ndarray, targets: Sequence[float],
                      amounts: np.ndarray) -> np.ndarray:
    """Each row's amount split in proportion to the shortfalls max(0, t_i T - v_i),
    T = V + A (values: accounts x children); by target where nothing falls short."""
    t = np.asarray(targets, dtype=float)[None, :]
    total = sum_last(values) + amounts
    short = np.maximum(0.0, t * total[:, None] - values)
    sums = sum_last(short)
    lost = sums <= 0  # an amount lost in rounding against a large pie
    short = np.where(lost[:, None], t, short)
    sums = np.where(lost, sum_last(np.broadcast_to(t, values.shape)), sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = short * (amounts / sums)[:, None]
    return np.where((amounts > 0)[:, None], out, 0.0)


def proportional_withdrawal_rows(values: np.ndarray, targets: Sequence[float],
                                 amounts: np.ndarray) -> np.ndarray:
    """Each row's amount taken in proportion to the excesses max(0, v_i - t_i T),
    T = V - W; everything where W is at least the pie."""
    t = np.asarray(targets, dtype=float)[None, :]
    held = sum_last(values)
    total = held - amounts
    excess = np.maximum(0.0, values - t * total[:, None])
    sums = sum_last(excess)
    lost = sums <= 0
    excess = np.where(lost[:, None], values, excess)
    sums = np.where(lost, held, sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = excess * (amounts / sums)[:, None]
    out = np.where((amounts >= held)[:, None], values, out)
    return np.where((amounts > 0)[:, None], out, 0.0)


__all__ = ["proportional_rows", "proportional_withdrawal_rows"]
