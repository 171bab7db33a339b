"""Drift of slices from their targets (pure: no I/O, no plotting).

Input is the run's drift frame: ``date, slice, target, actual`` with one row
per slice and session, weights as fractions of the parent pie, a slice named
by its path (``Core/AAA``); ``actual`` is NaN when the parent pie is empty.
Sessions with a NaN ``actual`` are left out of a slice's drift statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SEP = "/"
DEFAULT_BAND = 0.05

SUMMARY_COLUMNS = [
    "slice", "name", "depth", "sessions", "target", "actual", "mean_abs_drift", "max_abs_drift",
    "max_drift_date", "share_beyond_band", "portfolio_target", "portfolio_actual",
]


_LAST: list = []  # [(the drift frame, its prepared copy)]: a report asks several times


def _prepared(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows with plain dtypes, sorted by date then slice (a fresh copy).

    The last frame's result is remembered (by identity and shape), since one
    report prepares the same 190,000-row table half a dozen times."""
    if _LAST and _LAST[0][0] is drift and _LAST[0][1] == drift.shape:
        return _LAST[0][2].copy()
    d = _prepare(drift)
    _LAST[:] = [(drift, drift.shape, d)]
    return d.copy()


def _prepare(drift: pd.DataFrame) -> pd.DataFrame:
    d = drift.loc[:, ["date", "slice", "target", "actual"]].copy()
    d["date"] = pd.to_datetime(d["date"])
    d["slice"] = d["slice"].astype(str)
    d["target"] = d["target"].astype(float)
    d["actual"] = d["actual"].astype(float)
    d["drift"] = d["actual"] - d["target"]
    return d.sort_values(["date", "slice"], kind="stable").reset_index(drop=True)


def parents(slices: pd.Series | list[str]) -> dict[str, str | None]:
    """Each slice's parent slice, None for a slice of the root pie.

    The parent is the longest prefix before a "/" that is itself one of the
    slices, so a name that happens to contain "/" but has no such prefix
    (``a/b`` with no slice ``a``) is read as a slice of the root pie.
    """
    uniq = pd.Series(slices).drop_duplicates()  # the few names first, then text
    names = list(dict.fromkeys(str(n) for n in uniq))
    known = set(names)
    out: dict[str, str | None] = {}
    for n in names:
        parent = None
        cut = n.rfind(SEP)
        while cut > 0:
            if n[:cut] in known:
                parent = n[:cut]
                break
            cut = n.rfind(SEP, 0, cut)
        out[n] = parent
    return out


def ancestry(slices: pd.Series | list[str]) -> dict[str, list[str]]:
    """Each slice's path from the root pie down to itself (``[Core, Core/AAA]``)."""
    par = parents(slices)
    out: dict[str, list[str]] = {}
    for n in par:
        chain, cur = [n], par[n]
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = par.get(cur)
        out[n] = chain[::-1]
    return out


def top_level(slices: pd.Series | list[str]) -> list[str]:
    """The slices of the root pie, in first-seen order."""
    return [n for n, p in parents(slices).items() if p is None]


def short_name(path: str, parent: str | None) -> str:
    """A slice's own name: its path without the parent's path."""
    return path[len(parent) + len(SEP):] if parent else path


def _codes(d: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer codes of each row's date and slice, and the slice names by code."""
    date_code = pd.factorize(d["date"])[0]
    slice_code, names = pd.factorize(d["slice"].astype(str))
    return date_code, slice_code, [str(n) for n in names]


def leaf_mask(drift: pd.DataFrame) -> pd.Series:
    """True for rows whose slice is a leaf on that date (no other slice under it)."""
    date_code, slice_code, names = _codes(drift)
    par = parents(names)
    index = {n: i for i, n in enumerate(names)}
    parent_of = np.array([-1 if (p := par[n]) is None else index[p] for n in names],
                         dtype=np.int64)
    n = max(len(names), 1)
    row_parent = parent_of[slice_code] if len(slice_code) else np.empty(0, dtype=np.int64)
    nested = row_parent >= 0
    parent_keys = np.unique(date_code[nested].astype(np.int64) * n + row_parent[nested])
    my_keys = date_code.astype(np.int64) * n + slice_code
    return pd.Series(~np.isin(my_keys, parent_keys), index=drift.index)


def portfolio_weights(drift: pd.DataFrame) -> pd.DataFrame:
    """Each slice's weight in the whole portfolio, every session.

    The product of the weights along the slice's path (``Core`` x
    ``Core/AAA``), actual and target, so a leaf's ``portfolio_actual`` is its
    share of the invested value. A NaN actual (its parent pie is empty) counts
    as 0 here. Returns ``date, slice, leaf, portfolio_target, portfolio_actual``.
    """
    if len(drift) == 0:
        return pd.DataFrame(columns=["date", "slice", "leaf", "portfolio_target",
                                     "portfolio_actual"])
    d = _prepared(drift)
    date_code, slice_code, names = _codes(d)
    # date x slice grids of the weights (the last row of a repeated date and slice wins;
    # NaN where a slice is absent on a date, so a missing ancestor gives NaN)
    shape = (int(date_code.max()) + 1, len(names))
    tgt = np.full(shape, np.nan)
    act = np.full(shape, np.nan)
    tgt[date_code, slice_code] = d["target"].to_numpy(dtype=float)
    act[date_code, slice_code] = d["actual"].fillna(0.0).to_numpy(dtype=float)
    chains = ancestry(names)
    index = {n: i for i, n in enumerate(names)}
    pt = np.ones(len(d))
    pa = np.ones(len(d))
    for k in range(max(len(c) for c in chains.values())):
        level = np.array([index[chains[n][k]] if len(chains[n]) > k else -1 for n in names],
                         dtype=np.int64)
        anc = level[slice_code]
        has = anc >= 0
        pt[has] *= tgt[date_code[has], anc[has]]
        pa[has] *= act[date_code[has], anc[has]]
    out = d[["date", "slice"]].copy()
    out["leaf"] = leaf_mask(d).to_numpy()
    out["portfolio_target"] = pt
    out["portfolio_actual"] = pa
    return out


def _tree_order(slices: pd.Series | list[str]) -> list[str]:
    """Slices in first-seen order, each sub-pie's slices right after it."""
    par = parents(slices)
    kids: dict[str | None, list[str]] = {}
    for n, p in par.items():
        kids.setdefault(p, []).append(n)
    out: list[str] = []

    def visit(p: str | None) -> None:
        for n in kids.get(p, []):
            if n not in out:
                out.append(n)
                visit(n)

    visit(None)
    return out + [n for n in par if n not in out]


def drift_summary(drift: pd.DataFrame, band: float = DEFAULT_BAND) -> pd.DataFrame:
    """One row per slice (tree order as first seen) with its drift statistics.

    ``mean_abs_drift`` / ``max_abs_drift``: mean and max of ``|actual - target|``;
    ``share_beyond_band``: fraction of its sessions with ``|drift| > band``;
    ``target``/``actual``: the last session's; ``portfolio_*``: its last weight
    in the whole portfolio (see `portfolio_weights`); ``depth``: 0 for a slice
    of the root pie; ``name``: the slice's own name (its path's last part).
    Rows come in tree order: each sub-pie's slices right after it.
    """
    if len(drift) == 0:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    d = _prepared(drift)
    pw = portfolio_weights(drift)
    d["portfolio_target"] = pw["portfolio_target"].to_numpy()
    d["portfolio_actual"] = pw["portfolio_actual"].to_numpy()
    rows = []
    chains = ancestry(drift["slice"])
    groups = dict(tuple(d.groupby("slice", sort=False)))
    for name in _tree_order(drift["slice"]):
        g = groups[name]
        valid = g[g["actual"].notna()]
        last = g.iloc[-1]
        absd = valid["drift"].abs()
        chain = chains[name]
        rows.append({
            "slice": name,
            "name": short_name(name, chain[-2] if len(chain) > 1 else None),
            "depth": len(chain) - 1,
            "sessions": int(len(valid)),
            "target": float(last["target"]),
            "actual": float(last["actual"]),
            "mean_abs_drift": float(absd.mean()) if len(absd) else np.nan,
            "max_abs_drift": float(absd.max()) if len(absd) else np.nan,
            "max_drift_date": valid["date"].iloc[int(np.argmax(absd.to_numpy()))]
            if len(absd) else pd.NaT,
            "share_beyond_band": float((absd > band).mean()) if len(absd) else np.nan,
            "portfolio_target": float(last["portfolio_target"]),
            "portfolio_actual": float(last["portfolio_actual"]),
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def most_drifted(drift: pd.DataFrame) -> dict[str, Any] | None:
    """The slice with the largest ``|actual - target|``: slice, drift (signed), date."""
    if len(drift) == 0:
        return None
    d = _prepared(drift).dropna(subset=["drift"])
    if len(d) == 0:
        return None
    row = d.loc[d["drift"].abs().idxmax()]
    return {"slice": str(row["slice"]), "drift": float(row["drift"]),
            "date": pd.Timestamp(row["date"]), "target": float(row["target"]),
            "actual": float(row["actual"])}


def max_abs_drift(drift: pd.DataFrame) -> float:
    """The largest ``|actual - target|`` over all rows (summary.json's max_abs_drift)."""
    if len(drift) == 0:
        return float("nan")
    v = _abs_drift(drift)
    return float(v.max()) if len(v) else float("nan")


def mean_abs_drift(drift: pd.DataFrame) -> float | None:
    """The mean ``|actual - target|`` over the rows with a weight (None without any)."""
    v = _abs_drift(drift)
    return float(v.sum() / len(v)) if len(v) else None


def _abs_drift(drift: pd.DataFrame) -> np.ndarray:
    """``|actual - target|`` of the rows where both are known, as an array."""
    if len(drift) == 0:
        return np.zeros(0)
    v = np.abs(drift["actual"].to_numpy(dtype=float) - drift["target"].to_numpy(dtype=float))
    return v[~np.isnan(v)]


def drift_wide(drift: pd.DataFrame, slices: list[str] | None = None) -> pd.DataFrame:
    """``actual - target`` as a date x slice table (NaN where a slice is absent)."""
    if len(drift) == 0:
        return pd.DataFrame()
    d = _prepared(drift)
    order = list(drift["slice"].astype(str).unique()) if slices is None else slices
    w = _wide(d, "drift")
    return w.reindex(columns=[s for s in order if s in w.columns])


def weights_wide(drift: pd.DataFrame, slices: list[str], column: str = "actual") -> pd.DataFrame:
    """``actual`` (or ``target``) weights of ``slices`` as a date x slice table."""
    if len(drift) == 0:
        return pd.DataFrame()
    d = _prepared(drift)
    d = d[d["slice"].isin(slices)]
    w = _wide(d, column)
    return w.reindex(columns=[s for s in slices if s in w.columns])


def _wide(d: pd.DataFrame, column: str) -> pd.DataFrame:
    """A date x slice table of ``column`` (the last row of a repeated date and slice)."""
    d = d.drop_duplicates(["date", "slice"], keep="last")
    return d.set_index(["date", "slice"])[column].unstack("slice")
