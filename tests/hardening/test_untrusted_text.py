"""Untrusted text: names from strategy files and tickers from price data are
text, never markup, code or paths, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from backtest.cli import cli
from backtest.cli.run import slug
from backtest.errors import BacktestError

DATES = [d for d in pd.bdate_range("2024-01-02", "2024-02-28")
         if str(d.date()) not in ("2024-01-15", "2024-02-19")]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JINJA = "{{ 7*7 }}"
SVG = "<svg onload=alert(1)>"
NAME = f"{SCRIPT} {JINJA} {{% raw %}} ${{HOME}} $(touch pwned)"


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_prices(path: Path, tickers: list[str]) -> None:
    # with opens: a morning window on prices without them warns (a second stderr line)
    rows = [{"date": d, "ticker": t, "close": 10.0 + k + 0.1 * i, "open": 10.0 + k + 0.1 * i}
            for k, t in enumerate(tickers) for i, d in enumerate(DATES)]
    pd.DataFrame(rows).to_parquet(path, index=False)


def write_strategy(folder: Path, name: str, slices: dict, tickers: list[str] | None = None,
                   file: str = "s.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    leaves = tickers if tickers is not None else list(_leaves(slices))
    write_prices(folder / "p.parquet", leaves)
    doc = {"name": name, "data": {"prices": "p.parquet"},
           "cashflows": [{"deposit": 1000, "date": "2024-01-02"},
                         {"deposit": 100, "every": "week", "start": "2024-01-09"}],
           "portfolio": {"slices": slices}}
    path = folder / file
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def _leaves(slices: dict):
    for k, v in slices.items():
        if isinstance(v, dict):
            yield from _leaves(v["slices"])
        else:
            yield k


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def test_names_and_tickers_are_only_ever_escaped_in_the_report(tmp_path: Path) -> None:
    slices = {IMG: 20, JINJA: 20, "..": 20,
              SVG: {"target": 40, "slices": {"$\\frac$": 50, "&amp;": 50}}}
    # the data also has tickers the strategy does not use, one shaped like a path
    strategy = write_strategy(tmp_path / "in", NAME, slices,
                              tickers=[*_leaves(slices), "../x", "/etc/passwd"])
    out = tmp_path / "out"
    result = invoke("run", strategy, "--out", out)
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()

    assert "<script" not in html  # the page has no scripts of its own either
    for raw in ("<img src=x", "onerror=alert(1)>", SVG, "<svg"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;svg onload=alert(1)&gt;" in html
    assert "&amp;amp;" in html  # an entity-looking name is escaped too, not passed through
    # jinja never evaluated the text: it is there verbatim, never as 49
    assert html.count(JINJA) >= 2  # the title and the slice
    assert "{% raw %}" in html
    # the run's name is kept exactly as written
    assert json.loads((out / "summary.json").read_text())["name"] == NAME
    # no file is named after a slice or ticker, nothing is written outside --out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["p.parquet", "s.yaml"]
    assert all(p.suffix in (".parquet", ".png", ".html", ".json") for p in out.iterdir())
    assert not any(p.is_dir() for p in out.iterdir())
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {marker}']",
])
def test_python_tags_are_rejected_with_one_line(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    strategy = write_strategy(tmp_path, "T", {"AAA": 100})
    text = strategy.read_text().replace("name: T", "name: " + tag.format(marker=marker))
    strategy.write_text(text)
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 str(strategy), "line ", "YAML error")
    assert "python/" in line
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "folder"), [
    ("../../etc", "etc"),
    ("..", "run"),
    ("/", "run"),
    ("a/../../b", "a-b"),
    ("~root/.ssh", "root-ssh"),
    ("C:\\Windows\\System32", "c-windows-system32"),
    ("x" * 300, "x" * 80),
    ("Ünïcødé ✓", "n-c-d"),
])
def test_the_default_out_folder_stays_inside_reports(tmp_path: Path, monkeypatch, name: str,
                                                    folder: str) -> None:
    strategy = write_strategy(tmp_path / "in", name, {"AAA": 100})
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke("run", strategy, "--no-report")
    assert result.exit_code == 0, result.output
    assert [p.name for p in work.iterdir()] == ["reports"]
    assert [p.name for p in (work / "reports").iterdir()] == [folder]
    assert (work / "reports" / folder / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "work"]


def test_slug_never_makes_a_path() -> None:
    for name in ("..", ".", "../x", "a/b", "\x00", "-" * 10, "x" * 10_000):
        s = slug(name)
        assert s not in ("", ".", "..") and "/" not in s and "\\" not in s
        assert len(s) <= 80


def test_out_writes_only_the_folder_it_names(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path / "in", "T", {"AAA": 100})
    out = tmp_path / "deep" / "er" / "run"
    result = invoke("run", strategy, "--out", out, "--no-report")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.parent.iterdir()] == ["run"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "in"]


def test_out_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path / "in", "T", {"AAA": 100})
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_one_line_error(invoke("run", strategy, "--out", blocker / "run", "--no-report"),
                          str(blocker / "run"), "cannot write the run's files")
    assert blocker.read_text() == "not a folder"


def test_control_characters_in_a_strategy_name_are_refused(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path, "Red \x1b]0;pwned\x07 title", {"AAA": 100})
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 "name: ", "control or invisible characters")
    assert "\x1b" not in line and "\\x1b" in line


def test_control_characters_in_a_slice_name_are_refused(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path, "T", {"AAA": 50, "B\u202eB": 50})
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 "portfolio.slices.", "control or invisible characters")
    assert "\u202e" not in line


def test_a_ticker_with_a_newline_in_the_data_is_refused_on_one_line(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path, "T", {"AAA": 100}, tickers=["AAA", "EVIL\nerror: fake"])
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 "p.parquet: row ", "control or invisible characters")
    assert "'EVIL\\nerror: fake'" in line
    assert not (tmp_path / "out").exists()


def test_a_ticker_ending_in_nul_characters_is_refused_naming_its_row(tmp_path: Path) -> None:
    # numpy's element-wise == drops trailing NULs, which once left the row unfound
    # (an IndexError); the rows are DATES for AAA, then DATES for the bad ticker
    strategy = write_strategy(tmp_path, "T", {"AAA": 100}, tickers=["AAA", "B\x00\x00"])
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 f"p.parquet: row {len(DATES) + 1}",
                                 "control or invisible characters")
    assert "'B\\x00\\x00'" in line


def test_wide_form_column_with_a_terminal_escape_is_refused(tmp_path: Path) -> None:
    strategy = write_strategy(tmp_path, "T", {"AAA": 100})
    wide = pd.DataFrame({"date": DATES, "AAA": 10.0, "\x1b[2J": 5.0})
    wide.to_parquet(tmp_path / "p.parquet", index=False)
    line = assert_one_line_error(invoke("run", strategy, "--out", tmp_path / "out"),
                                 "p.parquet", "control or invisible characters")
    assert "\x1b" not in line


def test_every_error_line_is_one_printable_line() -> None:
    err = BacktestError("ticker A\nB\r\x1b[31m\u202e", source="f\n.parquet", where="row 1")
    assert err.line() == "f\\n.parquet: row 1: ticker A\\nB\\r\\x1b[31m\\u202e"
    assert str(err) == err.line()
