"""Every command has help with an example and a line in the README (sqlite-utils style)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backtest.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, f"{full} "))
        else:
            out.append((full, cmd))
    return out


COMMANDS = _commands(cli)


def test_the_cli_has_the_documented_commands():
    names = {name.split()[0] for name, _ in COMMANDS}
    assert {"run", "report", "validate", "replay", "compare", "data"} <= names


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_command_help_has_an_example(name):
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, name


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_command_is_in_the_readme(name):
    assert f"backtest {name}" in README, name


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "backtest" in result.output
