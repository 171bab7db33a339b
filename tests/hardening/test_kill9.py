"""kill -9 at random points of `run` and `compare`: the destination, the leftovers
and the processes.

SIGKILL runs no cleanup at all. Whatever the moment, the destination must
afterwards hold either the earlier output or the complete new one (once the
next write has recovered what the killed one left: an earlier run moved
aside is put back), nothing half-written may stay beside it, and no process
of a killed sweep may outlive it (its pool workers watch their parent).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from backtest.io.out_folder import MANIFEST, read_manifest, recover

ROOT = Path(__file__).resolve().parents[2]

STRATEGY = """\
name: Killed
data:
  prices: prices.parquet
cashflows:
  - deposit: {deposit}
    date: 2024-01-02
  - deposit: 100
    every: week
    start: 2024-01-08
portfolio:
  slices:
    AAA: 60
    BBB: 40
"""


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["MPLBACKEND"] = "Agg"
    return e


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    days = pd.bdate_range("2024-01-02", periods=120)
    n = len(days)
    df = pd.DataFrame({"date": list(days) * 2, "ticker": ["AAA"] * n + ["BBB"] * n,
                       "close": [10.0 + i * 0.01 for i in range(n)] + [20.0] * n})
    df.to_parquet(tmp_path / "prices.parquet", index=False)
    (tmp_path / "old.yaml").write_text(STRATEGY.format(deposit=1000))
    (tmp_path / "new.yaml").write_text(STRATEGY.format(deposit=2000))
    return tmp_path


def backtest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backtest", *args], cwd=folder, env=env(),
                          capture_output=True, text=True, timeout=300)


def assert_old_or_complete_new(out: Path, before: dict[str, str]) -> str:
    """After recovery: the earlier run exactly, or the new one complete."""
    recover(out)
    assert out.is_dir(), sorted(p.name for p in out.parent.iterdir())
    if digest(out) == before:
        state = "old"
    else:
        assert read_manifest(out)["kind"] == "run"  # written last: the folder is complete
        files = json.loads((out / MANIFEST).read_text())["files"]
        assert {p.name for p in out.iterdir()} - {MANIFEST} == set(files)
        assert json.loads((out / "summary.json").read_text())["total_deposits"] > 2000
        state = "new"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"], "leftovers"
    return state


def test_kill_9_at_random_points_of_run(inputs: Path) -> None:
    runs = inputs / "runs"
    out = runs / "out"
    first = backtest(inputs, "run", "old.yaml", "--out", str(out), "--no-report")
    assert first.returncode == 0, first.stderr
    before = digest(out)
    t0 = time.monotonic()
    timing = backtest(inputs, "run", "new.yaml", "--out", str(runs / "timing"), "--no-report")
    assert timing.returncode == 0
    took = time.monotonic() - t0
    import shutil

    shutil.rmtree(runs / "timing")
    rng = random.Random(14)
    states = []
    for k in range(6):
        delay = rng.uniform(0.3, 1.0) * took if k else took * 2  # the last: let it finish
        proc = subprocess.Popen([sys.executable, "-m", "backtest", "run", "new.yaml", "--out",
                                 str(out), "--no-report"], cwd=inputs, env=env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        state = assert_old_or_complete_new(out, before)
        states.append(state)
        if state == "new":  # start again from the earlier run
            shutil.rmtree(out)
            assert backtest(inputs, "run", "old.yaml", "--out", str(out),
                            "--no-report").returncode == 0
            assert digest(out) == before
    assert "old" in states


KILL_BETWEEN_RENAMES = """\
import os, signal, sys
import backtest.io.run_output as ro
real = os.replace
calls = []
def replace(src, dst):
    real(src, dst)
    calls.append(src)
    if len(calls) == 1:  # the earlier run is aside, the new one not yet in place
        os.kill(os.getpid(), signal.SIGKILL)
ro.os.replace = replace
from backtest._launch import main
sys.argv = ["backtest", *sys.argv[1:]]
main()
"""


def test_kill_9_between_the_two_renames_then_the_next_run_restores(inputs: Path) -> None:
    out = inputs / "runs" / "out"
    assert backtest(inputs, "run", "old.yaml", "--out", str(out), "--no-report").returncode == 0
    before = digest(out)
    (inputs / "killer.py").write_text(KILL_BETWEEN_RENAMES)
    proc = subprocess.run([sys.executable, "killer.py", "run", "new.yaml", "--out", str(out),
                           "--no-report"], cwd=inputs, env=env(), capture_output=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    left = sorted(p.name for p in out.parent.iterdir())
    assert len(left) == 2 and left[0].startswith(".out.") and left[0].endswith(".tmp")
    assert left[1].startswith(".out.old-")  # the earlier run, moved aside
    # the next command that looks at the destination puts the earlier run back first,
    # then refuses (nothing replaced) or replaces it as asked
    again = backtest(inputs, "run", "old.yaml", "--out", str(out), "--no-report")
    assert again.returncode == 0, again.stderr
    assert digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of a session."""
    live = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            live.append(int(entry))
    return live


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_compare_leaves_no_process_and_resumes(inputs: Path) -> None:
    out = inputs / "cmp"
    args = [sys.executable, "-m", "backtest", "compare", "new.yaml", "--vary",
            "account.cash_minimum=0,10,20,30,40,50,60,70", "--workers", "2", "-q",
            "--no-report", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=inputs, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(session_processes(proc.pid)) < 4:  # the parent, forkserver, workers
        assert proc.poll() is None, "finished before its workers were seen"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(random.Random(7).uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_processes(proc.pid)
    for pid in left:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], "processes outlived the killed sweep"
    # the next run resumes: what finished is kept, half-written variants are dropped
    again = subprocess.run(args, cwd=inputs, env=env(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    table = pd.read_parquet(out / "comparison.parquet")
    assert len(table) == 8 and table["error"].isna().all()
    assert not [p for p in (out / "variants").iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("after", [0, 4])  # while the pool starts; once its workers run
def test_ctrl_c_to_the_whole_process_group_of_compare(inputs: Path, after: int) -> None:
    """A terminal's Ctrl-C reaches every process of the group: the pool's server and
    workers ignore it, the command ends them and says one line."""
    out = inputs / "cmp"
    proc = subprocess.Popen([sys.executable, "-m", "backtest", "compare", "new.yaml", "--vary",
                             "account.cash_minimum=0,10,20,30,40,50,60,70,80,90", "--workers",
                             "2", "-q", "--no-report", "--out", str(out)], cwd=inputs,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len(session_processes(proc.pid)) < 2 + after // 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = [x for x in stderr.strip().splitlines() if not x.startswith("warning: ")]
    assert len(lines) == 1, stderr  # the interrupt's line (the data's caveats before it)
    deadline = time.monotonic() + 20
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_processes(proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
