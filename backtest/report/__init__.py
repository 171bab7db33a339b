"""Reports: PNG charts and the HTML page, from a run's files.

`write_report(run_dir)` reads a run folder (the files `backtest run` writes),
draws the charts as PNGs and writes one self-contained ``report.html`` beside
them (images inlined as data URIs; it opens from disk with no network).
"""

from backtest.report.build import analyse, render_html, write_report
from backtest.report.data import RunData, load_run

__all__ = ["RunData", "analyse", "load_run", "render_html", "write_report"]
