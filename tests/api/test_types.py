"""The public API type-checks (mypy, configured in pyproject.toml) and ships py.typed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The public API: the package's names, the API and application modules, the pool.
CHECKED = ["backtest/__init__.py", "backtest/api.py", "backtest/app.py",
           "backtest/sweep/pool.py"]


def test_the_package_is_marked_typed():
    assert (ROOT / "backtest" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def test_public_api_type_checks():
    try:
        import mypy  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise  # the test extra installs mypy: CI must run this check
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *CHECKED],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
