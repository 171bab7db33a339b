"""Interrupted runs: SIGINT or SIGTERM in the middle of a real `backtest run`
process leaves the previous output intact and no partial or temporary folder.

The run is made slow deterministically by a small wrapper script that
replaces `write_report` (called inside the temporary folder, after the tables
are written) with one that announces itself through a marker file and then
sleeps; the test signals the process once the marker exists.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from backtest.io.out_folder import MANIFEST

ROOT = Path(__file__).resolve().parents[2]

STRATEGY = """\
name: Interrupted
data:
  prices: prices.parquet
cashflows:
  - deposit: 1000
    date: 2024-01-02
portfolio:
  slices:
    AAA: 60
    BBB: 40
"""

# Runs the CLI like `python -m backtest`, with a slow report (or slow tables).
WRAPPER = """\
import sys, time
from pathlib import Path

marker, where = Path(sys.argv[1]), sys.argv[2]

def stall(*args, **kwargs):
    marker.write_text("inside")
    time.sleep(120)

if where == "report":
    import backtest.report
    backtest.report.write_report = stall
else:
    import backtest.io.run_output as ro
    real = ro.write_tables
    def tables(*args, **kwargs):
        real(*args, **kwargs)
        stall()
    ro.write_tables = tables

from backtest.cli import main
sys.argv = ["backtest", *sys.argv[3:]]
main()
"""


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    dates = [d for d in pd.bdate_range("2024-01-02", periods=42)
             if str(d.date()) not in ("2024-01-15", "2024-02-19")]
    df = pd.DataFrame({"date": list(dates) * 2, "ticker": ["AAA"] * 40 + ["BBB"] * 40,
                       "close": [10.0 + i * 0.1 for i in range(40)] + [20.0] * 40})
    df["open"] = df["close"]  # a morning window on prices without opens warns
    df.to_parquet(tmp_path / "prices.parquet", index=False)
    (tmp_path / "strategy.yaml").write_text(STRATEGY)
    (tmp_path / "wrapper.py").write_text(WRAPPER)
    return tmp_path


def default_sigint() -> None:
    """In the child: SIGINT back to its default, so Python turns it into
    KeyboardInterrupt. A test runner started in the background by a
    non-interactive shell ignores SIGINT, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["MPLBACKEND"] = "Agg"
    return e


def start(folder: Path, where: str, *args: str) -> tuple[subprocess.Popen, Path]:
    marker = folder / f"marker-{where}"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(folder / "wrapper.py"), str(marker), where,
                             *args], cwd=folder, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"finished before the stall: {proc.returncode}\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the run never reached the stall")
        time.sleep(0.02)
    return proc, marker


@pytest.mark.parametrize("where", ["report", "tables"])
@pytest.mark.parametrize(("sig", "status", "name"), [(signal.SIGINT, 130, "SIGINT"),
                                                     (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupted_run_keeps_the_previous_output(inputs: Path, where: str, sig: int,
                                                   status: int, name: str) -> None:
    out = inputs / "reports" / "run"
    good = subprocess.run([sys.executable, "-m", "backtest", "run", "strategy.yaml", "--out",
                           str(out), "--no-report"], cwd=inputs, env=env(),
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    before = digest(out)

    proc, _ = start(inputs, where, "run", "strategy.yaml", "--out", str(out))
    # the new run is half-written in its temporary folder right now
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)

    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: interrupted") and name in lines[0]
    assert stdout == ""
    assert digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def test_interrupted_first_run_leaves_nothing(inputs: Path) -> None:
    out = inputs / "reports" / "first"
    proc, _ = start(inputs, "report", "run", "strategy.yaml", "--out", str(out))
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_interrupted_report_rebuild_leaves_whole_files(inputs: Path) -> None:
    """`backtest report DIR` replaces each file atomically: an interrupt while the
    page is being rebuilt leaves the earlier, complete files."""
    out = inputs / "run"
    good = subprocess.run([sys.executable, "-m", "backtest", "run", "strategy.yaml", "--out",
                           str(out)], cwd=inputs, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert good.returncode == 0, good.stderr
    before = digest(out)
    wrapper = inputs / "wrapper_report.py"
    wrapper.write_text(
        "import sys, time\nfrom pathlib import Path\n"
        "import backtest.report.build as b\n"
        "marker = Path(sys.argv[1])\n"
        "def slow(path, data):\n"
        "    marker.write_text('inside')\n"
        "    time.sleep(120)\n"
        "b.atomic_write = slow\n"
        "from backtest.cli import main\n"
        "sys.argv = ['backtest', 'report', sys.argv[2]]\nmain()\n")
    marker = inputs / "marker-rebuild"
    proc = subprocess.Popen([sys.executable, str(wrapper), str(marker), str(out)], cwd=inputs,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert digest(out) == before
    # no temporary file left (the manifest, .pie-backtest.json, is the run's own)
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MANIFEST]


@pytest.mark.parametrize(("call", "done", "left"), [
    (1, True, "old"),    # old folder moved aside, then the interrupt
    (2, False, "old"),   # interrupt just before the new folder is renamed in
    (2, True, "new"),    # interrupt right after: the new run is complete and stays
])
def test_interrupt_around_the_renames(tmp_path: Path, monkeypatch, call: int, done: bool,
                                      left: str) -> None:
    import backtest.io.run_output as ro

    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "summary.json").write_text("old")
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(src)
        if len(calls) == call:
            if done:
                real(src, dst)
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(ro.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt), ro.atomic_folder(dest) as folder:
        (folder / "summary.json").write_text("new")
    monkeypatch.setattr(ro.os, "replace", real)
    assert (dest / "summary.json").read_text() == left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_successful_replace_leaves_no_old_folder(tmp_path: Path) -> None:
    from backtest.io.run_output import atomic_folder

    dest = tmp_path / "run"
    for text in ("one", "two"):
        with atomic_folder(dest) as folder:
            (folder / "summary.json").write_text(text)
    assert (dest / "summary.json").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
