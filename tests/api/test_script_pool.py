"""A sweep from a script without `if __name__ == "__main__":` gives real numbers.

The worker processes must not import the script again (which ran the sweep
once more inside every worker and killed it: a table of NaN). The script
appends a line to a file at its top level, so a re-import would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import backtest

ROOT = Path(__file__).resolve().parents[2]
BASIC = ROOT / "tests" / "fixtures" / "spec_examples" / "basic.yaml"

SCRIPT = """\
import json
from pathlib import Path

import backtest

here = Path(__file__).parent
with open(here / "ran.txt", "a") as fh:
    fh.write("ran\\n")
table = backtest.compare({basic!r}, {{"account.cash_minimum": [0, 50]}},
                         out=here / "sweep", workers=2, report=False)
# 5-session blocks: the example has 19 sessions, shorter than the default block
mc = backtest.simulate({basic!r}, years=0.1, paths=4, seed=3, block=5, workers=2)
print(json.dumps({{
    "final": {{str(int(r["account.cash_minimum"])): r["final_value"]
              for _, r in table.iterrows()}},
    "errors": [e for e in table["error"] if isinstance(e, str)],
    "mc": [float(v) for v in mc.paths["final_value"]],
}}))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX start methods")
def test_sweep_in_a_script_without_main_guard(tmp_path: Path):
    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT.format(basic=str(BASIC)))
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    # The same numbers as runs in this process (no pool at all).
    for minimum in (0, 50):
        alone = backtest.run(BASIC, {"account.cash_minimum": minimum}).summary()
        assert out["final"][str(minimum)] == pytest.approx(alone["final_value"], abs=1e-9)
    serial = backtest.simulate(BASIC, years=0.1, paths=4, seed=3, block=5, workers=1)
    assert out["mc"] == pytest.approx([float(v) for v in serial.paths["final_value"]])
    # The script's top level ran once: no worker imported it.
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


class _BrokenPool:
    """An executor whose workers all died (what a pool without the fix gave)."""

    workers = 2

    def map_unordered(self, fn, items):
        from concurrent.futures.process import BrokenProcessPool

        for item in items:
            yield item, BrokenProcessPool("A process in the process pool was terminated")

    def close(self) -> None:
        pass


def test_a_broken_pool_is_one_clear_error_not_a_table_of_nan(tmp_path: Path):
    from backtest.sweep.sweep import SweepError

    with pytest.raises(SweepError, match="worker processes stopped"):
        backtest.compare(BASIC, {"account.cash_minimum": [0, 50]}, out=tmp_path / "s",
                         executor=_BrokenPool(), report=False)
    assert not (tmp_path / "s" / "comparison.csv").exists()
