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
  out.textContent = JSON.stringify({
    state: document.readyState, images: imgs, errors: window.__probe.errors,
    console: window.__probe.console, title: document.title,
    h1: (document.querySelector('h1') || {}).textContent || ''
  });
  document.body.appendChild(out);
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


def _dump_dom(exe: Path, page: Path, profile: Path) -> str:
    cmd = [
        str(exe), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--virtual-time-budget=5000", "--dump-dom", page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("example", ["basic", "nested"])
def test_report_renders_in_chromium(tmp_path, chromium, example):
    run = make_run(tmp_path, example)
    write_report(run)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<head>" in page and "</body>" in page
    probed = page.replace("<head>", "<head>\n" + HEAD_PROBE, 1)
    probed = probed.replace("</body>", TAIL_PROBE + "\n</body>", 1)
    copy = tmp_path / "probe.html"
    copy.write_text(probed, encoding="utf-8")

    dom = _dump_dom(chromium, copy, tmp_path / "profile")
    m = re.search(r'<pre id="__probe">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    probe = json.loads(htmllib.unescape(m.group(1)))
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
