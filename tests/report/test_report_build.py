"""Report generation from run folders built out of the shared expected outputs."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import BacktestError
from backtest.report import load_run, write_report

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "expected"
EVIL = "<script>alert(1)</script>"


def _read_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["date"] = pd.to_datetime(df["date"])
    return df


def _drift_frame(dates: pd.DatetimeIndex, nested: bool) -> pd.DataFrame:
    """A hand-made drift table: top-level CCC/Core (nested) or AAA/EVIL, plus Core's leaves."""
    rows = []
    n = len(dates)
    for i, d in enumerate(dates):
        wobble = 0.08 * np.sin(i / 3)  # up to 8 points, so some sessions leave a 5-point band
        if nested:
            rows += [
                (d, "CCC", 0.2, 0.2 + wobble),
                (d, "Core", 0.8, 0.8 - wobble),
                (d, "Core/AAA", 0.5, 0.5 + wobble / 2),
            ]
            if i < n - 6:  # Core/BBB is removed near the end
                rows.append((d, "Core/BBB", 0.5, 0.5 - wobble / 2))
            else:
                rows[-1] = (d, "Core/AAA", 1.0, 1.0)
        else:
            rows += [(d, "AAA", 0.6, 0.6 + wobble), (d, EVIL, 0.4, 0.4 - wobble)]
    return pd.DataFrame(rows, columns=["date", "slice", "target", "actual"])


def make_run(tmp_path: Path, example: str = "basic") -> Path:
    """A run folder as the engine writes it, from the shared expected CSVs."""
    src = EXPECTED / example
    run = tmp_path / example
    run.mkdir()
    daily = _read_csv(src / "daily.csv")
    daily.to_parquet(run / "daily.parquet")
    _read_csv(src / "trades.csv").to_parquet(run / "trades.parquet")
    events = _read_csv(src / "events.csv")
    if example == "basic":
        events.loc[len(events)] = [pd.Timestamp("2024-03-20"), "rejected", f"order for {EVIL}"]
    events.to_parquet(run / "events.parquet")
    summary = json.loads((src / "summary.json").read_text())
    summary["name"] = f"{example} example {EVIL}"
    (run / "summary.json").write_text(json.dumps(summary))
    dates = pd.DatetimeIndex(daily["date"])
    _drift_frame(dates, example == "nested").to_parquet(run / "drift.parquet")
    pd.DataFrame({"date": [dates[0]] * 2, "slice": ["AAA", EVIL], "ticker": ["AAA", "BBB"],
                  "shares": [60.0, 19.98001]}).to_parquet(run / "holdings.parquet")
    pd.DataFrame({"date": [dates[0]] * 2, "slice": ["AAA", EVIL], "ticker": ["AAA", "BBB"],
                  "shares": [60.0, 19.98001], "amount": [600.0, 399.9998],
                  "reason": ["deposit", "deposit"]}).to_parquet(run / "allocations.parquet")
    return run


def _xirr_bisect(flows: list[tuple[float, pd.Timestamp]]) -> float:
    """An independent XIRR for the check below: plain bisection on the rate."""
    t0 = min(d for _, d in flows)

    def npv(r: float) -> float:
        return sum(a / (1 + r) ** ((d - t0).days / 365) for a, d in flows)

    lo, hi = -0.9999, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (npv(lo) > 0) == (npv(mid) > 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_report_files_and_headline_numbers(tmp_path):
    run = make_run(tmp_path, "basic")
    paths = write_report(run)
    names = [p.name for p in paths]
    assert names[-1] == "report.html"
    assert {"value.png", "growth.png", "drawdown.png", "allocation.png", "drift.png",
            "annual_returns.png"} <= set(names)
    for p in paths:
        assert p.exists() and p.stat().st_size > 0 and p.parent == run
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*"))  # atomic writes left nothing
    html = (run / "report.html").read_text(encoding="utf-8")
    # Headline numbers, worked from the expected CSVs and summary.json:
    assert "$988.06" in html  # final value
    assert "$1,400.00" in html  # deposits
    assert "$300.00" in html  # withdrawals
    assert "-$111.94" in html  # gain = 988.06 - 1400 + 300
    assert "-10.20%" in html  # TWR = 0.898040 - 1 (the exact TWR)
    cagr = 0.898040 ** (252 / 20) - 1
    assert f"{cagr * 100:+.2f}%" in html
    assert f"{(0.880412 / 1.004199 - 1) * 100:+.2f}%" in html  # max drawdown -12.33%
    daily = _read_csv(EXPECTED / "basic" / "daily.csv")
    flows = [(-f, d) for f, d in zip(daily["net_flow"], daily["date"], strict=True) if f]
    flows.append((daily["value"].iloc[-1], daily["date"].iloc[-1]))
    assert f"{_xirr_bisect(flows) * 100:+.2f}%" in html  # MWR


def test_report_is_self_contained_and_escapes_names(tmp_path):
    run = make_run(tmp_path, "basic")
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "http" not in html  # no network resource of any kind
    refs = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)""", html, re.I)
    assert refs and all(r.startswith(("data:image/png;base64,", "#")) for r in refs)
    assert "url(" not in html and "@import" not in html
    assert "<script" not in html.lower()  # the page has no script, and names are text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, drift, events
    # Every chart is inlined, byte for byte the PNG written beside the page.
    inlined = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    pngs = sorted(run.glob("*.png"))
    assert len(inlined) == len(pngs) == 6
    assert {base64.b64decode(s) for s in inlined} == {p.read_bytes() for p in pngs}


def test_report_tables_and_events(tmp_path):
    run = make_run(tmp_path, "nested")
    write_report(run, drift_band=0.05)
    html = (run / "report.html").read_text(encoding="utf-8")
    # drift table in tree order, sub-pie slices by their own names
    table = html[html.index('<table class="drift">'):]
    table = table[:table.index("</table>")]
    names = re.findall(r'<span class="indent"[^>]*>([^<]*)</span>', table)
    assert names == ["CCC", "Core", "AAA", "BBB"]
    # events in plain words, with their kinds' counts
    assert "Trading deferred by a halt: 1" in html
    assert "Buy orders scaled down to fit the cash: 2" in html
    assert "Slice removed" in html and "Core/BBB" in html
    # monthly and annual tables: one year, March only, chain-linked TWR
    assert f"{(0.881356 - 1) * 100:+.1f}%" in html  # March 2024 = whole run


def test_report_with_a_benchmark(tmp_path):
    run = make_run(tmp_path, "nested")
    dates = pd.DatetimeIndex(_read_csv(EXPECTED / "nested" / "daily.csv")["date"])
    # 100 on the day before the run, then +1% every session: TWR = 1.01 ** 20 - 1.
    closes = pd.Series(100 * 1.01 ** np.arange(len(dates) + 1),
                       index=dates.insert(0, pd.Timestamp("2024-02-29")), name="SP500")
    write_report(run, benchmark=closes)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "benchmark: SP500" in html
    assert f"{(1.01 ** 20 - 1) * 100:+.2f}%" in html


def test_stale_charts_are_removed_and_reports_rebuilt(tmp_path):
    run = make_run(tmp_path, "basic")
    write_report(run)
    (run / "drift.parquet").unlink()
    paths = write_report(run)
    assert not (run / "drift.png").exists() and not (run / "allocation.png").exists()
    assert {p.name for p in paths} == {"value.png", "growth.png", "drawdown.png",
                                       "annual_returns.png", "report.html"}
    assert "This run has no drift records." in (run / "report.html").read_text()


def test_bad_run_folders(tmp_path):
    with pytest.raises(BacktestError, match="no such run folder"):
        write_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BacktestError, match="daily.parquet is missing"):
        load_run(tmp_path / "empty")
    run = make_run(tmp_path, "basic")
    (run / "summary.json").write_text("{not json")
    with pytest.raises(BacktestError, match="invalid JSON"):
        load_run(run)
    (run / "summary.json").write_text("{}")
    pd.DataFrame({"date": [pd.Timestamp("2024-01-02")], "value": [1.0]}).to_parquet(
        run / "daily.parquet")
    with pytest.raises(BacktestError, match="missing column"):
        load_run(run)
    (run / "daily.parquet").write_bytes(b"not parquet")
    with pytest.raises(BacktestError) as err:
        load_run(run)
    assert "\n" not in str(err.value)


def test_run_folder_without_summary_json_uses_its_name(tmp_path):
    run = make_run(tmp_path, "basic")
    (run / "summary.json").unlink()
    for f in ("events", "trades", "holdings", "allocations"):
        (run / f"{f}.parquet").unlink()
    write_report(run)
    html = (run / "report.html").read_text()
    assert "<h1>basic</h1>" in html
    assert "No events" in html


def test_copy_of_the_page_opens_anywhere(tmp_path):
    run = make_run(tmp_path, "nested")
    write_report(run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(run / "report.html", elsewhere)
    html = (elsewhere / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 6
