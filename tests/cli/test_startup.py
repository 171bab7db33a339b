"""The CLI starts fast: help and light commands import only what they use.

(The start-up time itself is measured in bench/ (`python -m bench --startup`),
never timed here.) Each case runs in a fresh interpreter and lists the modules
it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backtest.cli import cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "matplotlib", "numpy", "scipy", "pyarrow", "exchange_calendars")

PROBE = """\
import json, sys
from backtest.cli import cli
cli.main({args!r}, prog_name="backtest", standalone_mode=False)
print(json.dumps(sorted(sys.modules)))
"""


def imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {m.split(".")[0] for m in json.loads(done.stdout.strip().splitlines()[-1])}


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


@pytest.mark.parametrize("args", [("--help",), ("--version",),
                                  *[(*c, "--help") for c in _commands(cli)]],
                         ids=lambda a: " ".join(a))
def test_help_imports_no_data_library(args):
    heavy = imported(*args) & set(HEAVY)
    assert not heavy, f"backtest {' '.join(args)} imported {sorted(heavy)}"


def test_validate_without_data_imports_no_data_library():
    heavy = imported("validate", "--no-data", "strategies/factor_pie.yaml") & set(HEAVY)
    assert not heavy, sorted(heavy)


def test_data_info_does_not_import_the_engine_or_charts():
    mods = imported("data", "info", "data/sample/factors.parquet")
    assert "matplotlib" not in mods and "scipy" not in mods


def _examples(cmd: click.Command) -> list[str]:
    """The example commands of a help text, continuation lines joined."""
    lines, out = (cmd.help or "").splitlines(), []
    for line in lines:
        text = line.strip()
        if out and out[-1].endswith("\\"):
            out[-1] += "\n" + text
        elif text.startswith("backtest "):
            out.append(text)
    return out


@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_help_examples_print_unwrapped(path):
    cmd: click.Command = cli
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    examples = _examples(cmd)
    assert examples, f"backtest {' '.join(path)} --help has no example"
    # A narrow terminal would wrap a plain paragraph; the examples must stay whole.
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=50)
    shown = [line.strip() for line in result.output.splitlines()]
    for example in examples:
        for part in example.split("\n"):
            assert part in shown, f"{part!r} is wrapped in backtest {' '.join(path)} --help"
