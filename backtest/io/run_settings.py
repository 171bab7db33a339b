"""What a run used that its report needs again: the benchmark and the risk-free rate.

`backtest run` records them in summary.json (`benchmark`, `benchmark_prices`,
`risk_free`); `backtest report DIR` uses them unless an option overrides
them, and then rewrites summary.json to match (Sharpe and Sortino follow the
risk-free rate), so the folder never holds a page and a summary that disagree.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.analytics.metrics import clean_dict, performance_summary
from backtest.errors import BacktestError

RECORDED = ("benchmark", "benchmark_prices", "benchmark_label", "risk_free")


def read_summary(run_dir: Path) -> dict[str, Any]:
    """summary.json of a run folder ({} when absent or unreadable: the report says why)."""
    try:
        out = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return out if isinstance(out, dict) else {}


def effective(summary: dict[str, Any], benchmark: str | None, prices: str | None,
              risk_free: float | None) -> tuple[str | None, str | None, float | None]:
    """(benchmark, its price file, risk-free rate): an option, else what the run recorded."""
    if benchmark is None and summary.get("benchmark"):
        benchmark = str(summary["benchmark"])
        prices = prices or summary.get("benchmark_prices")
    if risk_free is None and isinstance(summary.get("risk_free"), int | float):
        risk_free = float(summary["risk_free"])
    return benchmark, prices, risk_free


def changed(summary: dict[str, Any], benchmark: str | None, risk_free: float) -> bool:
    """Whether the report is built with settings other than the recorded ones."""
    rf = summary.get("risk_free")
    same_rf = isinstance(rf, int | float) and math.isclose(float(rf), risk_free, abs_tol=1e-12)
    return not same_rf or (summary.get("benchmark") or None) != (benchmark or None)


def rewrite_summary(run_dir: Path, summary: dict[str, Any], *, benchmark: str | None,
                    prices: str | None, risk_free: float, label: str | None = None) -> None:
    """summary.json with the report's settings, Sharpe and Sortino recomputed (atomically)."""
    from backtest.report.build import atomic_write

    try:
        daily = pd.read_parquet(Path(run_dir) / "daily.parquet")
    except Exception:  # noqa: BLE001 (the report has already read it; be safe anyway)
        raise BacktestError("cannot read daily.parquet to update summary.json",
                            source=run_dir) from None
    perf = performance_summary(daily, risk_free=risk_free)
    out = dict(summary)
    out.update({"sharpe": perf.get("sharpe"), "sortino": perf.get("sortino"),
                "risk_free": float(risk_free), "benchmark": benchmark,
                "benchmark_prices": prices, "benchmark_label": label})
    atomic_write(Path(run_dir) / "summary.json",
                 (json.dumps(clean_dict(out), indent=1) + "\n").encode("utf-8"))
