"""Sums in one fixed order, so an account's numbers never depend on its batch.

numpy's `sum` adds pairwise, in groups that depend on the length of the
axis; adding term by term along the last axis (as a plain `sum` does) gives
the same bits for one account alone and for the same account as a row of
many (`backtest.engine.batch`).
"""

from __future__ import annotations

import numpy as np


def sum_last(x: np.ndarray) -> np.ndarray:
    """Sums over the last axis, added term by term in order."""
    out = np.zeros(x.shape[:-1])
    for c in range(x.shape[-1]):
        out += x[..., c]
    return out
