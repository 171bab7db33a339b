"""Writing a run's files (strategy-format.md) atomically.

Everything goes to a temporary folder beside the destination, which is then
renamed into place: a crash or an interrupt never leaves a half-written run,
and the previous run's folder stays intact until the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.analytics.tax import TAX_TABLES, TaxTables, run_tax_tables
from backtest.engine.result import RunResult
from backtest.io.out_folder import check_out, old_name, tmp_prefix, write_manifest

TABLES = ("daily", "trades", "allocations", "holdings", "drift", "events")


def write_tables(result: RunResult, summary: dict[str, Any], folder: Path,
                 tax_tables: TaxTables | None = None) -> None:
    """Write summary.json and the Parquet tables into an existing `folder`.

    The tax lot tables (`lots`, `realized`) are built from the fills with the
    lot method the summary was computed with (`tax_lot_method`)."""
    for name in TABLES:
        frame: pd.DataFrame = getattr(result, name)
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    tax = tax_tables or run_tax_tables(result,
                                       lot_method=summary.get("tax_lot_method", "brokerage"))
    for name in TAX_TABLES:
        getattr(tax, name).to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


@contextlib.contextmanager
def atomic_folder(dest: Path, *, kind: str | None = None,
                  force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces `dest` only if the block succeeds.

    With a `kind` ("run", "simulate", ...), `dest` is first checked
    (`out_folder.check_out`: only an empty folder or one this tool wrote is
    replaced, unless `force`; a symlink is followed), what interrupted writes
    left beside it is recovered, and the manifest is written last, so a
    folder with a manifest is complete. Without one (a sweep's variant
    folders, inside a folder already checked) the caller owns `dest`."""
    dest = Path(dest)
    if kind is not None:
        dest = check_out(dest, kind, force=force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix(dest), suffix=".tmp", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a run folder is not
    old: Path | None = None
    try:
        yield tmp
        if kind is not None:
            write_manifest(tmp, kind)
        if dest.exists():
            old = old_name(dest)
            os.replace(dest, old)
        os.replace(tmp, dest)
    except BaseException:
        # An error or an interrupt (also one between the two renames): drop the
        # new folder and put the previous one back if it was already moved aside.
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and old.exists() and not dest.exists():
                os.replace(old, dest)
        raise
    finally:
        if old is not None and old.exists() and not tmp.exists() and dest.exists():
            shutil.rmtree(old, ignore_errors=True)


def write_run(result: RunResult, summary: dict[str, Any], dest: Path,
              extra: Callable[[Path], object] | None = None,
              tax_tables: TaxTables | None = None, *, force: bool = False) -> Path:
    """Write the run to `dest` atomically; `extra(folder)` adds files (the report).

    `dest` is replaced only when it is empty or a folder this tool wrote
    (`force` replaces any folder); a symlink is followed."""
    with atomic_folder(dest, kind="run", force=force) as folder:
        write_tables(result, summary, folder, tax_tables)
        if extra is not None:
            extra(folder)
    return dest
