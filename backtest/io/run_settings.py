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
    if risk_free is None:  # a folder from before the rate was recorded
        risk_free = 0.0
    return benchmark, prices, risk_free


def locate_benchmark(spec: str, prices: Path) -> str | None:
    """The price file a bare benchmark ticker was found in (as `backtest run` looks:
    the strategy's prices, then the Parquet files beside them and under data/), so
    that a report rebuilt from another folder finds it again; None for a file spec."""
    from backtest.report.benchmark import DEFAULT_SEARCH, load_benchmark

    if Path(spec).exists() or ":" in spec:
        return None
    candidates = [Path(prices)]
    for folder in (Path(prices).parent, *DEFAULT_SEARCH):
        if folder.is_dir():
            candidates.extend(sorted(folder.glob("*.parquet")))
    for path in candidates:
        try:
            load_benchmark(spec, prices=path)
        except BacktestError:
            continue
        return str(path.resolve())
    return None


def keep_summary_in_step(run_dir: Path, summary: dict[str, Any], benchmark: str | None,
                         prices: str | None, risk_free: float, bench: Any) -> bool:
    """Rewrite summary.json when the report used other settings than it records."""
    if not summary or not changed(summary, benchmark, risk_free):
        return False
    from backtest.report.plan_cards import benchmark_label

    label = benchmark_label(str(bench.name)) if bench is not None else None
    rewrite_summary(run_dir, summary, benchmark=benchmark, prices=prices, risk_free=risk_free,
                    label=label)
    return True


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


def recorded_benchmark(spec: str | None, bench: Any, prices: Path) -> dict[str, Any]:
    """The benchmark as summary.json records it (`backtest run --benchmark`): the spec
    (a file made absolute), the price file a ticker was found in, and its label."""
    from backtest.report.plan_cards import benchmark_label

    if spec is None or bench is None:
        return {}  # no key: the summary is the library's (backtest.run) exactly
    path = Path(spec)
    name = str(bench.name) if bench.name is not None else spec
    return {"benchmark": str(path.resolve()) if path.exists() else spec,
            "benchmark_prices": locate_benchmark(spec, prices),
            "benchmark_label": benchmark_label(name)}
