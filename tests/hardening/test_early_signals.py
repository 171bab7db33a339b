"""Ctrl-C or SIGTERM in the first moments of a command (while the CLI's modules are
still being imported) ends like one later on: one line and status 130 or 143,
never a traceback of the import machinery or a silent death by signal.

The signal is sent deterministically from inside the import of `click` (which
`backtest.cli` imports first), through a wrapper that hooks `__import__`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WRAPPER = """\
import builtins, os, signal, sys
sig = getattr(signal, sys.argv[1])
real = builtins.__import__
def hooked(name, *args, **kwargs):
    if name == "click":
        builtins.__import__ = real
        os.kill(os.getpid(), sig)
    return real(name, *args, **kwargs)
builtins.__import__ = hooked
from backtest._launch import main
sys.argv = ["backtest", *sys.argv[2:]]
main()
"""


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background test runner ignores it


@pytest.mark.parametrize(("name", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_during_the_imports_is_one_line(tmp_path: Path, name: str,
                                                 status: int) -> None:
    (tmp_path / "wrapper.py").write_text(WRAPPER)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(tmp_path / "wrapper.py"), name, "--version"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=default_sigint)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: interrupted ({name}); nothing was half-written"]
    assert proc.stdout == ""


def test_out_of_memory_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner
    from test_run_bad_inputs import write_inputs

    import backtest.app as app
    from backtest.cli import cli

    strategy = write_inputs(tmp_path / "in")

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(app, "simulate", exhausted)
    res = CliRunner().invoke(cli, ["run", str(strategy), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: out of memory"), res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("error", ["memory", "threads"])
def test_a_reader_out_of_resources_is_not_blamed_on_the_file(tmp_path: Path, monkeypatch,
                                                             error: str) -> None:
    """Under a memory limit pyarrow fails to allocate or to start its threads: that is
    the machine's limit, not "a truncated or corrupt file"."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from test_run_bad_inputs import prices

    from backtest.io.prices import load_prices

    path = tmp_path / "p.parquet"
    prices().to_parquet(path, index=False)

    def exhausted(*args, **kwargs):
        if error == "memory":
            raise pa.ArrowMemoryError("malloc of size 1048576 failed")
        raise pa.ArrowException("Unknown error: Failed to launch worker thread: Resource "
                                "temporarily unavailable")

    monkeypatch.setattr(pq, "read_table", exhausted)
    with pytest.raises(MemoryError):
        load_prices(path)
