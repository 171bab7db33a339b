"""Start-up time of the command line: `backtest --help` against `python -c pass`.

The target (issue 16): `backtest --help` costs at most 0.3 s more than an
empty interpreter. Each command runs in a fresh process, `repeat` times after
one warm-up (the OS file cache); medians in seconds.

    python -m bench --only STARTUP
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.3  # seconds over `python -c pass`
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "backtest --help": [sys.executable, "-m", "backtest", "--help"],
    "backtest run --help": [sys.executable, "-m", "backtest", "run", "--help"],
    "backtest validate --no-data": [sys.executable, "-m", "backtest", "validate", "--no-data",
                                    "strategies/factor_pie.yaml"],
    "backtest data info": [sys.executable, "-m", "backtest", "data", "info",
                           "data/sample/factors.parquet"],
}


def timed(cmd: list[str], repeat: int) -> list[float]:
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return times


def startup(repeat: int = 7) -> dict:
    """Medians per command, and `backtest --help` over `python -c pass`."""
    medians = {name: statistics.median(timed(cmd, repeat)) for name, cmd in COMMANDS.items()}
    over = medians["backtest --help"] - medians["python -c pass"]
    return {"workload": "STARTUP", "medians": medians, "help_over_python": over,
            "target_over_python": TARGET, "meets_target": over <= TARGET}


if __name__ == "__main__":
    r = startup()
    for name, s in r["medians"].items():
        print(f"{name:30} {s:6.3f} s")
    print(f"backtest --help over python -c pass: {r['help_over_python']:.3f} s "
          f"(target {TARGET} s)")
