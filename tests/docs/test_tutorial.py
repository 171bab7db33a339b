"""Every command and Python block of docs/tutorial.md runs, in order.

Monte Carlo steps run on fewer and shorter paths than the page shows
(`--paths 1000` becomes `--paths 8`, 30 years become 2): the size changes
the time, not what the commands exercise.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tutorial.md"


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M)


def _smaller(text: str) -> str:
    text = re.sub(r"--paths \d+", "--paths 8", text)
    text = re.sub(r"--years \d+", "--years 2", text)
    text = re.sub(r"paths=\d+", "paths=8", text)
    return re.sub(r"years=\d+", "years=2", text)


def test_tutorial_runs(tmp_path: Path):
    text = PAGE.read_text()
    for name in ("strategies", "data"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    yaml_blocks = [body for lang, body in _blocks(text) if lang == "yaml"]
    assert "name: My retirement plan" in yaml_blocks[0]
    (tmp_path / "my_plan.yaml").write_text(yaml_blocks[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    ran = 0
    for lang, body in _blocks(text):
        if lang == "bash":
            for line in body.splitlines():
                if not line.startswith("backtest "):
                    continue  # the install line
                args = shlex.split(_smaller(line))[1:]
                done = subprocess.run([sys.executable, "-m", "backtest", *args], cwd=tmp_path,
                                      env=env, capture_output=True, text=True, timeout=600)
                assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
                ran += 1
        elif lang == "python":
            done = subprocess.run([sys.executable, "-c", _smaller(body)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{body}\n{done.stderr[-2000:]}"
            ran += 1
    assert ran >= 8
    assert (tmp_path / "reports" / "factor" / "report.html").exists()
    assert (tmp_path / "reports" / "my-retirement-plan-compare" / "comparison.csv").exists()
    assert (tmp_path / "reports" / "my-retirement-plan-montecarlo" / "simulation.parquet").exists()


def test_index_page_commands_run(tmp_path: Path):
    text = (ROOT / "docs" / "index.md").read_text()
    for name in ("strategies", "data"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    ran = 0
    for lang, body in _blocks(text):
        lines = [line.split("  #")[0].strip() for line in body.splitlines()] \
            if lang == "bash" else [body]
        for line in lines:
            if lang == "bash" and not line.startswith("backtest "):
                continue
            cmd = ([sys.executable, "-m", "backtest", *shlex.split(_smaller(line))[1:]]
                   if lang == "bash" else [sys.executable, "-c", _smaller(line)])
            done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
            ran += 1
    assert ran == 5
    assert (tmp_path / "reports" / "factor-pie" / "summary.json").exists()
