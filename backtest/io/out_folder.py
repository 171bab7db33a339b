"""Which output folders the tool may replace, and cleaning up after interrupted writes.

Every folder that `run`, `compare` and `simulate` write holds a manifest,
`.pie-backtest.json` (tool, version, kind). A destination may be replaced
(or, for `compare`, written into) only when it does not exist, is empty, or
holds that manifest: anything else is a folder of the user's, and is refused
with one line unless `force` is set. A symlinked destination is followed
(its target is written), never replaced by a folder.

Atomic writes leave two kinds of leftovers when a process is killed
(`kill -9`, a power cut): `.<name>.<pid>.<random>.tmp` (a half-written new
output) and `.<name>.old-<pid>` (the earlier output moved aside just before
the new one was renamed in). `recover` handles those of dead processes: the
earlier output is put back when the destination is missing (the new one was
never complete), dropped when the destination is there (it is complete,
since the manifest is written last and the rename is atomic), and
half-written folders are removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backtest import __version__
from backtest.errors import BacktestError

MANIFEST = ".pie-backtest.json"
TOOL = "pie-backtest"
MAX_MANIFEST = 64 * 1024  # a manifest is a few lines; a bigger "manifest" is not ours


WHAT = {"run": "the run's files", "simulate": "the simulation's files",
        "compare": "the comparison's files"}


class OutFolderError(BacktestError):
    """An output folder the tool must not touch (or cannot write)."""


# Files `backtest report DIR` may add to a run folder after the manifest was written.
LATER_FILES = re.compile(r"report\.html|[a-z_]+\.png")


def manifest_text(kind: str, files: Sequence[str] = ()) -> str:
    return json.dumps({"tool": TOOL, "version": __version__, "kind": kind,
                       "files": sorted(files)}, indent=1) + "\n"


def write_manifest(folder: Path, kind: str) -> None:
    """Mark `folder` as written by this tool, listing what it holds (written last, so a
    folder with a manifest is complete)."""
    folder = Path(folder)
    files = [n for n in os.listdir(folder) if n != MANIFEST]
    (folder / MANIFEST).write_text(manifest_text(kind, files))


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest when it is one of this tool's, else None."""
    path = Path(folder) / MANIFEST
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_MANIFEST:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return None
    return data


def resolve_out(dest: str | Path) -> Path:
    """`dest`, or the folder a symlink at `dest` points to (followed, never replaced)."""
    dest = Path(dest)
    if dest.is_symlink():
        return Path(os.path.realpath(dest))
    return dest


def check_out(dest: str | Path, kind: str, *, force: bool = False,
              kinds: tuple[str, ...] | None = None, replace: bool = True,
              inputs: Sequence[str | Path | None] = ()) -> Path:
    """The destination to write (a symlink followed), checked before any work starts.

    Raises `OutFolderError` (one line) when `dest` is a file, lies under a file,
    cannot be created or written, or is a non-empty folder without this tool's
    manifest (unless `force`). `kinds`: the manifests' kinds that may be
    replaced [default: any of this tool's]. `replace`: the folder is replaced
    by a new one made beside it (so its parent must be writable too).
    `inputs`: the files the job reads; a folder holding one of them, the current
    folder, one above it, or the root is never replaced, even with `force`."""
    given = Path(dest)
    dest = resolve_out(given)
    recover(dest)
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise OutFolderError("is a file, not a folder; give a folder for --out", source=given)
        _check_not_precious(dest, given, inputs)
        if not force:
            _check_owned(dest, given, kind, kinds)
        what = WHAT.get(kind, "the output")
        _check_writable(dest, given, what)
        if replace:
            _check_writable(dest.parent, given, what)
        return dest
    parent = _existing_parent(dest)
    what = WHAT.get(kind, "the output")
    if not parent.is_dir():
        raise OutFolderError(f"cannot write {what}: {parent} is a file, not a folder",
                             source=given)
    _check_writable(parent, given, what)
    return dest


def _check_not_precious(dest: Path, given: Path, inputs: Sequence[str | Path | None]) -> None:
    real = Path(os.path.realpath(dest))
    cwd = Path(os.path.realpath(os.getcwd()))
    if real == cwd or real in cwd.parents or real.parent == real:
        raise OutFolderError("is the current folder, one above it or the root: it is never "
                             "replaced, even with --force; choose a new folder for --out",
                             source=given)
    for item in inputs:
        if item is None:
            continue
        path = Path(os.path.realpath(item))
        if path == real or real in path.parents:
            raise OutFolderError(f"holds an input of this job ({item}): it is never "
                                 "replaced, even with --force; choose another --out",
                                 source=given)


def _check_owned(dest: Path, given: Path, kind: str, kinds: tuple[str, ...] | None) -> None:
    try:
        entries = os.listdir(dest)
    except OSError as exc:
        raise OutFolderError(f"cannot read the folder: {exc.strerror or exc}",
                             source=given) from None
    if not entries:
        return
    found = read_manifest(dest)
    if found is None:
        raise OutFolderError(
            f"is a folder this tool did not write ({len(entries)} entr"
            f"{'y' if len(entries) == 1 else 'ies'}, no {MANIFEST}); nothing was touched: "
            "choose another --out, empty it, or add --force to replace it", source=given)
    if kinds is not None and found.get("kind") not in kinds:
        raise OutFolderError(
            f"holds a '{found.get('kind')}' output, not a '{kind}' one; nothing was touched: "
            "choose another --out, or add --force", source=given)
    listed = found.get("files")
    if kinds is None and found.get("kind") == "compare":
        raise OutFolderError("holds a 'compare' output (a sweep, resumable); it is replaced "
                             "only with --force; nothing was touched", source=given)
    if kinds is None:  # replaced: only what the tool wrote may go
        if not isinstance(listed, list):
            raise OutFolderError(f"has a damaged {MANIFEST} (no list of its files); nothing "
                                 "was touched: choose another --out, or add --force",
                                 source=given)
        ours = {str(n) for n in listed} | {MANIFEST}
        extra = sorted(n for n in entries if n not in ours and not LATER_FILES.fullmatch(n))
        if extra:
            raise OutFolderError(
                f"holds {extra[0]!r}{f' and {len(extra) - 1} more' if len(extra) > 1 else ''}"
                ", which this tool did not write; nothing was touched: move it away, choose "
                "another --out, or add --force", source=given)


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_writable(folder: Path, given: Path, what: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutFolderError(f"cannot write {what}: {folder} is read-only "
                             "(permission denied)", source=given)


def claim(dest: str | Path, kind: str, *, force: bool = False,
          kinds: tuple[str, ...] | None = None) -> Path:
    """Check `dest` and make it a folder of `kind` to be written into (compare)."""
    dest = check_out(dest, kind, force=force, kinds=kinds, replace=False)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        found = read_manifest(dest)
        if found is None or found.get("kind") != kind:
            # no file list: what a sweep's folder holds grows with it, and may be the
            # user's too (with --force); such a folder is never replaced without --force
            (dest / MANIFEST).write_text(manifest_text(kind))
    except OSError as exc:
        raise OutFolderError(f"cannot write the folder: {exc.strerror or exc}",
                             source=dest) from None
    return dest


# --------------------------------------------------------------------------- leftovers
_TMP = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp")
_OLD = re.compile(r"\.(?P<name>.+)\.old-(?P<pid>\d+)")


def tmp_prefix(dest: Path) -> str:
    """The name prefix of the temporary folder beside `dest` (with this process's id)."""
    return f".{dest.name}.{os.getpid()}."


def old_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.old-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as exc:
        return exc.errno != errno.ESRCH
    return True


def leftovers(dest: Path) -> tuple[list[Path], list[Path]]:
    """(half-written tmp folders, moved-aside old outputs) of dead processes beside `dest`."""
    dest = Path(dest)
    try:
        names = os.listdir(dest.parent)
    except OSError:
        return [], []
    tmps, olds = [], []
    for n in names:
        m = _TMP.fullmatch(n)
        if m and m["name"] == dest.name and not pid_alive(int(m["pid"])):
            tmps.append(dest.parent / n)
            continue
        m = _OLD.fullmatch(n)
        if m and m["name"] == dest.name and not pid_alive(int(m["pid"])):
            olds.append(dest.parent / n)
    return tmps, olds


def recover(dest: str | Path) -> list[str]:
    """Finish or clean what interrupted writes of `dest` left; return what was done."""
    dest = Path(dest)
    tmps, olds = leftovers(dest)
    done: list[str] = []
    for tmp in tmps:
        shutil.rmtree(tmp, ignore_errors=True)
        done.append(f"removed the half-written {tmp.name}")
    # the newest moved-aside output is the one the interrupted write replaced
    olds.sort(key=lambda p: _mtime(p), reverse=True)
    for old in olds:
        if not dest.exists() and not dest.is_symlink() and old.is_dir():
            with contextlib.suppress(OSError):
                os.replace(old, dest)
                done.append(f"restored the earlier output from {old.name}")
                continue
        shutil.rmtree(old, ignore_errors=True)
        done.append(f"removed {old.name}")
    return done


def recover_children(folder: str | Path) -> None:
    """`recover` for every entry of `folder` (the variants of a sweep)."""
    folder = Path(folder)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    seen = set()
    for n in names:
        m = _TMP.fullmatch(n) or _OLD.fullmatch(n)
        if m and m["name"] not in seen:
            seen.add(m["name"])
            recover(folder / m["name"])


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
