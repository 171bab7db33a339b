"""report.html in a real headless Chromium: it loads with no errors and every image decodes.

Needs Debian's `chromium` package (/usr/bin/chromium). Skipped only when the
browser is absent and CI is not set; under CI it always runs.
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_build import make_run

from backtest.report import write_report

CHROMIUM = Path("/usr/bin/chromium")

# Installed first thing in <head>: records script errors, failed resources and console.error.
HEAD_PROBE = """<script>
window.__probe = {errors: [], console: []};
window.addEventListener('error', function (e) {
  var t = e.target && e.target !== window ? (e.target.tagName + ' failed to load') : e.message;
  window.__probe.errors.push(String(t));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__probe.errors.push('unhandled rejection: ' + String(e.reason));
});
(function () {
  var orig = console.error;
  console.error = function () {
    window.__probe.console.push(Array.prototype.join.call(arguments, ' '));
    return orig.apply(console, arguments);
  };
})();
</script>"""

# Appended at the end of <body>: writes what the page looks like into the DOM.
TAIL_PROBE = """<script>
function __report() {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {alt: i.alt, w: i.naturalWidth, h: i.naturalHeight, complete: i.complete};
  });
  var out = document.getElementById('__probe') || document.createElement('pre');
  out.id = '__probe';
  out.style.whiteSpace = 'pre-wrap';
  out.style.wordBreak = 'break-all';
  var wide = Array.prototype.filter.call(document.querySelectorAll('body *'), function (e) {
    var r = e.getBoundingClientRect();
    return e !== out && r.right > document.documentElement.clientWidth + 1 && !e.closest('.scroll');
  }).slice(0, 5).map(function (e) { return e.tagName + '.' + e.className; });
  out.textContent = JSON.stringify({
    scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
    clientWidth: document.documentElement.clientWidth, wide: wide,
    sections: Array.prototype.map.call(document.querySelectorAll('section[id]'),
                                       function (e) { return e.id; }),
    state: document.readyState, images: imgs, errors: window.__probe.errors,
    console: window.__probe.console, title: document.title,
    h1: (document.querySelector('h1') || {}).textContent || ''
  });
  document.body.appendChild(out);
  if (window.parent !== window) { window.parent.postMessage(out.textContent, '*'); }
}
__report();
window.addEventListener('load', __report);
</script>"""


def _chromium() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


@pytest.fixture
def chromium() -> Path:
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    return exe


def _dump_dom(exe: Path, page: Path, profile: Path, width: int = 1400) -> str:
    cmd = [
        str(exe), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        f"--window-size={width},900", "--hide-scrollbars",
        "--virtual-time-budget=5000", "--dump-dom", page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# Headless Chromium's window is at least 500 px wide, so a phone's width is an
# iframe of that width: the page inside lays out (and applies its media
# queries) at the iframe's width and posts its probe to this page.
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:900px;border:0"></iframe>
<script>window.addEventListener('message', function (e) {{
  var p = document.getElementById('__probe') || document.createElement('pre');
  p.id = '__probe'; p.textContent = e.data; document.body.appendChild(p);
}});</script></body></html>"""


def _probe(exe: Path, page_path: Path, tmp_path: Path, width: int = 1400) -> dict:
    page = page_path.read_text(encoding="utf-8")
    assert "<head>" in page and "</body>" in page
    probed = page.replace("<head>", "<head>\n" + HEAD_PROBE, 1)
    probed = probed.replace("</body>", TAIL_PROBE + "\n</body>", 1)
    copy = tmp_path / f"probe-{width}.html"
    copy.write_text(probed, encoding="utf-8")
    if width < 500:
        frame = tmp_path / f"frame-{width}.html"
        frame.write_text(FRAME.format(src=copy.name, width=width), encoding="utf-8")
        copy = frame
    dom = _dump_dom(exe, copy, tmp_path / f"profile-{width}", max(width, 500))
    m = re.search(r'<pre id="__probe"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    return json.loads(htmllib.unescape(m.group(1)))


def make_long_run(tmp_path: Path) -> Path:
    """A three-year run folder with every table: a 12x rise (log axes), open lots
    with long slice names (a wide holdings table), routine early-close skips."""
    run = tmp_path / "long"
    run.mkdir()
    dates = pd.bdate_range("2020-01-02", periods=780)
    rng = np.random.default_rng(7)
    index = np.cumprod(1 + rng.normal(0.0035, 0.012, len(dates)))
    flows = np.zeros(len(dates))
    flows[0] = 10_000.0
    flows[::21] += 500.0
    value = 10_000.0 * index + np.cumsum(flows) - 10_000.0
    pd.DataFrame({"date": dates, "value": value, "cash": value * 0.001, "invested": value * 0.999,
                  "net_flow": flows, "twr_index": index}).to_parquet(run / "daily.parquet")
    names = ["Core/A very long slice name for a phone screen", "Core/Another long name here",
             "Satellite"]
    drift = pd.DataFrame([(d, n, t, t + 0.01 * np.sin(i / 9)) for i, d in enumerate(dates)
                          for n, t in zip(["Core", *names], [0.7, 0.5, 0.5, 0.3], strict=True)],
                         columns=["date", "slice", "target", "actual"])
    drift.to_parquet(run / "drift.parquet")
    pd.DataFrame({"slice": names, "ticker": ["AAA", "BBB", "CCC"],
                  "open_date": [dates[0]] * 3, "shares": [100.0, 50.0, 20.0],
                  "cost_per_share": [10.0, 20.0, 30.0], "cost": [1000.0, 1000.0, 600.0],
                  "close_price": [900.0, 800.0, 700.0], "value": [90_000.0, 40_000.0, 14_000.0],
                  "unrealized_gain": [89_000.0, 39_000.0, 13_400.0],
                  "term": ["long"] * 3}).to_parquet(run / "lots.parquet")
    skipped = dates[5::60]
    pd.DataFrame({"date": skipped, "kind": "window_skipped",
                  "detail": "afternoon window: the session closes early at 14:00"}
                 ).to_parquet(run / "events.parquet")
    (run / "summary.json").write_text(json.dumps({"name": "Long run " * 8}))
    return run


@pytest.mark.parametrize("width", [1400, 390])
def test_long_report_fits_a_phone_and_a_desktop(tmp_path, chromium, width):
    run = make_long_run(tmp_path)
    write_report(run)
    probe = _probe(chromium, run / "report.html", tmp_path, width)
    assert probe["errors"] == [] and probe["console"] == []
    assert probe["viewport"] == width
    # no sideways scrolling of the page: wide tables scroll inside their own box
    assert probe["scrollWidth"] == probe["clientWidth"], probe["wide"]
    assert len(probe["images"]) == 7  # six charts and the rolling 12-month returns
    for img in probe["images"]:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
    for section in ("trailing-returns", "drawdowns", "holdings", "contributions",
                    "rolling-returns"):
        assert section in probe["sections"]


@pytest.mark.parametrize("example", ["basic", "nested"])
def test_report_renders_in_chromium(tmp_path, chromium, example):
    run = make_run(tmp_path, example)
    write_report(run)
    probe = _probe(chromium, run / "report.html", tmp_path)
    assert probe["errors"] == [] and probe["console"] == []
    assert probe["state"] == "complete"
    images = probe["images"]
    assert len(images) == 6
    for img in images:
        assert img["w"] > 0 and img["h"] > 0, img
    # about 10 x 4 inches at 110 dpi
    value = next(i for i in images if i["alt"].startswith("Account value"))
    assert (value["w"], value["h"]) == (1100, 440)
    # the evil slice name is text on the page, not a script that ran
    assert "<script>alert(1)</script>" in probe["h1"]


def test_comparison_page_fits_a_phone(tmp_path, chromium):
    from backtest.sweep import SerialExecutor, compare

    basic = Path(__file__).resolve().parents[1] / "fixtures" / "spec_examples" / "basic.yaml"
    out = tmp_path / "cmp"
    compare(basic, {"account.window": ["morning", "afternoon"],
                    "account.cash_minimum": [0, 50]}, out, SerialExecutor())
    probe = _probe(chromium, out / "comparison.html", tmp_path, 390)
    assert probe["errors"] == [] and probe["console"] == []
    assert probe["scrollWidth"] == probe["clientWidth"], probe["wide"]
    assert len(probe["images"]) == 3  # value minus baseline, final values, drift
    for img in probe["images"]:
        assert img["complete"] and img["w"] > 0, img
