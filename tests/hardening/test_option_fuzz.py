"""Property-based fuzzing of command-line options, --vary values and output folders.

Whatever the text of an option, it is either accepted within its documented
range or refused with a one-line `BacktestError`; an output folder is
replaced only when it is empty or holds only what this tool wrote.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.cli.options import MAX_SEED, MAX_YEARS, check_risk_free, check_simulate_options
from backtest.errors import BacktestError
from backtest.io.out_folder import MANIFEST, OutFolderError, check_out, manifest_text
from backtest.io.strategy_file import StrategyLoader
from backtest.montecarlo.api import check_options
from backtest.sweep.executors import SCHEMES, check_address
from backtest.sweep.variants import merge_vary, parse_value

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@FUZZ
@given(ANY_FLOAT | st.sampled_from([1e9, 1000.0, 200.0, 200.0001, 1e-9, 0.0, -1.0]),
       st.integers(-2**70, 2**70) | st.sampled_from([-1, 0, MAX_SEED, MAX_SEED + 1, 2**64 + 1]),
       st.integers(-5, 10**6))
def test_simulate_options_are_in_range_or_refused(years: float, seed: int, block: int) -> None:
    try:
        check_options(years, 10, "block-bootstrap", block, 0.025)
        check_simulate_options(years, seed, None)
    except BacktestError as exc:
        assert "\n" not in exc.line()
        return
    assert math.isfinite(years) and 0 < years <= MAX_YEARS
    assert 0 <= seed <= MAX_SEED and block >= 1


@FUZZ
@given(ANY_FLOAT)
def test_risk_free_is_a_fraction_or_refused(rate: float) -> None:
    try:
        check_risk_free(rate)
    except BacktestError as exc:
        assert "--risk-free" in exc.line()
        return
    assert math.isfinite(rate) and -1 < rate < 1


@FUZZ
@given(st.text(max_size=40) | st.builds(lambda s, h, p: f"{s}://{h}:{p}",
                                        st.sampled_from([*SCHEMES, "http", ""]),
                                        st.text(max_size=12), st.integers(-5, 70000)))
def test_scheduler_addresses_look_like_addresses_or_are_refused(text: str) -> None:
    try:
        check_address(text)
    except BacktestError as exc:
        assert "\n" not in exc.line() and "--scheduler" in exc.line()
        return
    scheme, _, rest = text.strip().partition("://")
    host, _, port = rest.rpartition(":")
    assert scheme in SCHEMES and host and 0 < int(port) < 65536


@FUZZ
@given(st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_vary_options_parse_or_are_one_line(specs: list[str]) -> None:
    try:
        grid = merge_vary(specs)
    except BacktestError as exc:
        assert "\n" not in exc.line()
        return
    assert len(grid) == len(specs) and all(len(v) >= 1 for v in grid.values())


@FUZZ
@given(st.one_of(st.integers(1, 10**6), st.floats(0.001, 1e6)), st.integers(-3, 15),
       st.sampled_from(["e", "E"]), st.sampled_from(["", "+"]))
def test_exponent_numbers_are_numbers(mantissa: float, exponent: int, e: str,
                                      sign: str) -> None:
    """`1e15`, `2.5E+3`: what every user means, in the strategy file and in --vary."""
    text = f"{mantissa}{e}{sign if exponent >= 0 else ''}{exponent}"
    want = float(text)
    assert yaml.load(f"deposit: {text}", Loader=StrategyLoader)["deposit"] == want  # noqa: S506
    assert parse_value(text) == want


# --------------------------------------------------------------------------- out folders
NAMES = st.sampled_from(["summary.json", "daily.parquet", "notes.txt", "report.html",
                         "value.png", "sub", ".hidden", "thesis.docx", "trades.parquet"])


@FUZZ
@given(st.lists(st.tuples(NAMES, st.booleans()), max_size=5, unique_by=lambda t: t[0]),
       st.none() | st.lists(NAMES, max_size=6, unique=True), st.booleans())
def test_a_folder_is_replaced_only_when_everything_in_it_is_the_tools(
        entries: list[tuple[str, bool]], listed: list[str] | None, force: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        dest = Path(d) / "out"
        dest.mkdir()
        for name, is_dir in entries:
            (dest / name).mkdir() if is_dir else (dest / name).write_text("x")
        if listed is not None:
            (dest / MANIFEST).write_text(manifest_text("run", listed))
        names = {n for n, _ in entries}
        later = {"report.html", "value.png"}  # what `backtest report` adds afterwards
        allowed = not names or (listed is not None and names <= set(listed) | later)
        before = sorted(p.name for p in dest.iterdir())
        try:
            check_out(dest, "run", force=force)
        except OutFolderError as exc:
            assert not allowed and not force, exc.line()
        else:
            assert allowed or force
        assert sorted(p.name for p in dest.iterdir()) == before  # checking touches nothing


@pytest.mark.parametrize("manifest", ["", "{", "[]", json.dumps({"tool": "other"}),
                                      json.dumps({"tool": "pie-backtest", "files": "x"})])
def test_a_damaged_or_foreign_manifest_is_not_this_tools(tmp_path: Path, manifest: str) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("x")
    (dest / MANIFEST).write_text(manifest)
    with pytest.raises(OutFolderError, match="did not write|damaged"):
        check_out(dest, "run")
    assert sorted(p.name for p in dest.iterdir()) == [MANIFEST, "mine.txt"]
