"""The output-folder rule, for every command that writes a folder.

An --out folder is replaced (run, simulate) or written into (compare) only
when it is missing, empty or marked by this tool's manifest, and then only
when it holds nothing the tool did not write; anything else is one line,
exit status 2 and nothing touched, unless --force. The current folder, one
above it and a folder holding the job's inputs are never replaced. A
symlinked --out is followed. Leftovers of killed writes are finished or
cleaned by the next write.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_run_bad_inputs import write_inputs

from backtest.cli import cli
from backtest.io.out_folder import MANIFEST, check_out, read_manifest, recover
from backtest.io.run_output import atomic_folder


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


# each command's arguments before --out (small and quick)
COMMANDS = {
    "run": lambda s: ["run", s, "--no-report"],
    "simulate": lambda s: ["simulate", s, "--paths", "2", "--years", "0.1", "--workers", "1",
                           "-q", "--block", "5"],
    "compare": lambda s: ["compare", s, "--vary", "account.cash_minimum=0,5", "--workers", "1",
                          "-q", "--no-report"],
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("in"))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_folder_of_the_users_is_never_touched(tmp_path: Path, inputs: Path,
                                                command: str) -> None:
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.docx").write_bytes(b"years of work")
    (mine / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = digest(mine)
    line = one_line(invoke(*COMMANDS[command](inputs), "--out", mine), str(mine),
                    "did not write", "nothing was touched", "--force")
    assert MANIFEST in line
    assert digest(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary folder


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_empty_own_and_forced_folders_are_written(tmp_path: Path, inputs: Path,
                                                          command: str) -> None:
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    args = COMMANDS[command](inputs)
    res = invoke(*args, "--out", out)
    assert res.exit_code == 0, res.output
    assert read_manifest(out)["kind"] == command
    res = invoke(*args, "--out", out)  # its own output: replaced (or resumed) again
    assert res.exit_code == 0, res.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "old.txt").write_text("x")
    res = invoke(*args, "--out", foreign, "--force")
    assert res.exit_code == 0, res.output
    assert read_manifest(foreign)["kind"] == command
    if command != "compare":  # replaced as a whole: the foreign file is gone
        assert not (foreign / "old.txt").exists()


def test_a_file_added_to_a_run_folder_is_kept(tmp_path: Path, inputs: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", inputs, "--out", out, "--no-report").exit_code == 0
    files = json.loads((out / MANIFEST).read_text())["files"]
    assert "daily.parquet" in files and "summary.json" in files
    (out / "notes.md").write_text("why I chose these weights")
    before = digest(out)
    one_line(invoke("run", inputs, "--out", out, "--no-report"), "'notes.md'",
             "did not write", "nothing was touched")
    assert digest(out) == before
    # the report's own files, added later by `backtest report`, are the tool's
    (out / "notes.md").unlink()
    assert invoke("report", out).exit_code == 0
    assert (out / "report.html").is_file()
    assert invoke("run", inputs, "--out", out, "--no-report").exit_code == 0


def test_compare_does_not_write_into_a_run_folder(tmp_path: Path, inputs: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", inputs, "--out", out, "--no-report").exit_code == 0
    before = digest(out)
    one_line(invoke(*COMMANDS["compare"](inputs), "--out", out), "'run' output",
             "not a 'compare' one")
    assert digest(out) == before


@pytest.mark.parametrize("where", [".", "..", "/"])
def test_the_current_folder_and_above_are_never_replaced(tmp_path: Path, inputs: Path,
                                                         monkeypatch, where: str) -> None:
    work = tmp_path / "project" / "work"
    work.mkdir(parents=True)
    (work / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    before = digest(tmp_path)
    one_line(invoke("run", inputs, "--out", where, "--force", "--no-report"),
             "never replaced, even with --force")
    assert digest(tmp_path) == before


def test_a_folder_holding_the_inputs_is_never_replaced(tmp_path: Path) -> None:
    strategy = write_inputs(tmp_path / "project")
    before = digest(tmp_path)
    one_line(invoke("run", strategy, "--out", tmp_path / "project", "--force", "--no-report"),
             "holds an input of this job", "even with --force")
    one_line(invoke("run", strategy, "--out", tmp_path, "--force", "--no-report"),
             "holds an input of this job")
    assert digest(tmp_path) == before


def test_a_symlinked_out_is_followed_not_replaced(tmp_path: Path, inputs: Path) -> None:
    target = tmp_path / "big-disk" / "runs"
    target.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(target)
    for _ in range(2):  # a first run, then a replace through the link
        res = invoke("run", inputs, "--out", link, "--no-report")
        assert res.exit_code == 0, res.output
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert (target / "summary.json").is_file() and read_manifest(target)["kind"] == "run"
    assert sorted(p.name for p in target.parent.iterdir()) == ["runs"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_out_under_a_regular_file_is_one_line(tmp_path: Path, inputs: Path,
                                              command: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    one_line(invoke(*COMMANDS[command](inputs), "--out", blocker / "out"),
             str(blocker / "out"), "is a file, not a folder")
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_out_in_a_read_only_folder_is_one_line(tmp_path: Path, inputs: Path,
                                               command: str) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line(invoke(*COMMANDS[command](inputs), "--out", ro / "out"), "read-only")
    finally:
        ro.chmod(0o755)


def test_report_into_a_read_only_folder_is_one_line(tmp_path: Path, inputs: Path,
                                                    monkeypatch) -> None:
    """Whatever the permissions say (root ignores them), a failing write is one line."""
    import backtest.report.build as build

    out = tmp_path / "run"
    assert invoke("run", inputs, "--out", out, "--no-report").exit_code == 0

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(build, "atomic_write", refuse)
    one_line(invoke("report", out), str(out), "cannot write the report", "Permission denied")


# --------------------------------------------------------------------------- leftovers
def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_write_between_the_renames_is_restored(tmp_path: Path) -> None:
    """Killed after the earlier output was moved aside, before the new one was renamed
    in: the next look at the destination puts the earlier output back."""
    dest = tmp_path / "run"
    pid = dead_pid()
    old = tmp_path / f".run.old-{pid}"
    old.mkdir()
    (old / "summary.json").write_text("earlier")
    half = tmp_path / f".run.{pid}.k2j4h5g6.tmp"
    half.mkdir()
    (half / "daily.parquet").write_bytes(b"half")
    done = recover(dest)
    assert (dest / "summary.json").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert len(done) == 2


def test_a_killed_write_after_the_renames_keeps_the_new_output(tmp_path: Path) -> None:
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "summary.json").write_text("new")
    old = tmp_path / f".run.old-{dead_pid()}"
    old.mkdir()
    (old / "summary.json").write_text("earlier")
    with atomic_folder(dest, kind="run", force=True) as folder:
        (folder / "summary.json").write_text("newer")
    assert (dest / "summary.json").read_text() == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_leftovers_of_a_live_process_are_left_alone(tmp_path: Path) -> None:
    """Another run writing the same destination right now keeps its folders."""
    live = tmp_path / f".run.{os.getppid()}.abcdefgh.tmp"
    live.mkdir()
    other = tmp_path / f".other.{dead_pid()}.abcdefgh.tmp"  # another destination's
    other.mkdir()
    assert recover(tmp_path / "run") == []
    assert live.is_dir() and other.is_dir()


def test_check_out_names_what_is_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(Exception, match="is a file, not a folder"):
        check_out(tmp_path / "f", "run")
    assert check_out(tmp_path / "new" / "deeper", "run") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing


# --------------------------------------------------------------------------- compare resume
@pytest.mark.parametrize("damage", ["truncated-parquet", "bad-summary", "summary-list",
                                    "no-daily"])
def test_a_damaged_variant_folder_is_rerun(tmp_path: Path, inputs: Path, damage: str) -> None:
    out = tmp_path / "cmp"
    args = [*COMMANDS["compare"](inputs), "--out", out]
    assert invoke(*args).exit_code == 0
    variants = sorted((out / "variants").iterdir())
    assert len(variants) == 2
    good = digest(variants[1])
    v = variants[0]
    if damage == "truncated-parquet":
        data = (v / "daily.parquet").read_bytes()
        (v / "daily.parquet").write_bytes(data[: len(data) // 2])
    elif damage == "bad-summary":
        (v / "summary.json").write_text('{"final_value": 1')
    elif damage == "summary-list":
        (v / "summary.json").write_text("[1, 2]")
    else:
        (v / "daily.parquet").unlink()
    res = invoke(*args)
    assert res.exit_code == 0, (res.output, res.exception)
    assert "1 variant already finished (skipped), 1 to run" in res.stderr
    assert digest(variants[1]) == good
    import pandas as pd

    assert len(pd.read_parquet(v / "daily.parquet")) > 0
    assert json.loads((v / "summary.json").read_text())["final_value"] > 0
    assert not [p for p in (out / "variants").iterdir() if p.name.startswith(".")]


def test_a_sweep_folder_is_replaced_by_a_run_only_with_force(tmp_path: Path,
                                                              inputs: Path) -> None:
    """A sweep's folder may also hold the user's files (compare --force writes into a
    folder): a run or simulate never replaces it without --force."""
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    assert invoke(*COMMANDS["compare"](inputs), "--out", out, "--force").exit_code == 0
    assert invoke(*COMMANDS["compare"](inputs), "--out", out).exit_code == 0  # resumes
    before = digest(out)
    one_line(invoke("run", inputs, "--out", out, "--no-report"), "'compare' output",
             "only with --force")
    assert digest(out) == before
