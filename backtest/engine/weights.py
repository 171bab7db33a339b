"""Slice weights within their parent pies, for many closes at once.

Holdings only change in windows, so weights over a stretch of sessions are
array work: leaf values (sessions x leaves) times a sparse leaf-to-slice
membership matrix gives every slice's value, and each slice's weight is its
value over its parent's.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from backtest.engine.layout import TreeShape


def membership(shape: TreeShape, n_leaves: int) -> sparse.csr_matrix:
    """(leaves x slices) matrix: 1 where the leaf lies under (or is) the slice."""
    rows: list[int] = []
    cols: list[int] = []
    for k, leaf in enumerate(shape.leaf):
        if leaf < 0:
            continue
        node = k
        while node >= 0:
            rows.append(int(leaf))
            cols.append(node)
            node = int(shape.parent[node])
    data = np.ones(len(rows))
    return sparse.csr_matrix((data, (rows, cols)), shape=(n_leaves, len(shape.paths)))


def slice_weights(leaf_values: np.ndarray, shape: TreeShape,
                  member: sparse.csr_matrix | None = None) -> np.ndarray:
    """(sessions x slices) weight of each slice in its parent pie; NaN if the parent is empty."""
    if member is None:
        member = membership(shape, leaf_values.shape[1])
    # Worked slice by slice (rows), where a parent's values are one contiguous row.
    values = np.asarray(member.T @ leaf_values.T)  # slices x sessions
    top = shape.parent < 0
    rows = np.vstack([values, values[top].sum(axis=0)])  # the root's value last
    parent = np.where(top, len(values), shape.parent)
    parent_values = rows[parent]
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = values / parent_values
    weights[~(parent_values > 0)] = np.nan
    return np.ascontiguousarray(weights.T)


def first_breach(weights: np.ndarray, shape: TreeShape, band: float) -> int | None:
    """The first row where some slice is more than `band` (fraction) off target."""
    with np.errstate(invalid="ignore"):
        off = np.abs(weights - shape.target[None, :]) > band + 1e-12
    rows = np.flatnonzero(off.any(axis=1))
    return int(rows[0]) if len(rows) else None
