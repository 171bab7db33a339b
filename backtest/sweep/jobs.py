"""Cutting a sweep's variants into jobs: each job is one engine batch in one worker.

Variants whose accounts can share an engine batch (the same price data,
dates and tickers, hence the same sessions) go together; the worker checks
it again (`runner.run_job` batches the variants whose markets are the same
object and runs any other group as a batch of its own). A group is cut into
jobs of at most `MAX_BATCH` accounts, about `JOBS_PER_WORKER` jobs per
worker so every worker stays busy to the end, and of at least
`backtest.engine.batch.FAST_MIN` accounts (the size from which the engine
runs common sessions in array form) when the group has that many for every
worker; a smaller group is spread over the workers instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from backtest.sweep.runner import Job, Task

MAX_BATCH = 64  # accounts: bounds a worker's memory (each keeps its ledger until summarized:
# about 2.6 MB for a W1 account, 33 years of a 20-stock pie, so ~170 MB a batch)
JOBS_PER_WORKER = 4


def batch_key(task: Task) -> tuple[str, str, str]:
    """What decides a variant's market: its file's folder, data section and portfolio
    (the tickers). Variants differing only in account settings, cash flows and
    rebalancing share a key."""
    doc = task.document if isinstance(task.document, dict) else {}
    return (str(task.source),
            json.dumps(doc.get("data"), sort_keys=True, default=str),
            json.dumps(doc.get("portfolio"), sort_keys=True, default=str))


def make_jobs(tasks: Sequence[Task], workers: int = 1) -> list[Job]:
    """The jobs for `tasks` (grid order kept inside each job)."""
    groups: dict[tuple[str, str, str], list[Task]] = {}
    for t in tasks:
        groups.setdefault(batch_key(t), []).append(t)
    from backtest.engine.batch import FAST_MIN

    jobs: list[Job] = []
    for members in groups.values():
        n = len(members)
        if n >= FAST_MIN * workers:  # every worker gets batches big enough for arrays
            size = min(MAX_BATCH, max(FAST_MIN, math.ceil(n / (workers * JOBS_PER_WORKER))))
            count = n // size  # even jobs, none smaller: 20 -> 10 + 10, not 8 + 8 + 4
            if math.ceil(n / count) > MAX_BATCH:
                count = math.ceil(n / MAX_BATCH)
        else:  # too few for that: spread them over the workers
            count = min(n, workers)
        size = math.ceil(n / count)
        jobs.extend(Job(tuple(members[k:k + size])) for k in range(0, n, size))
    return jobs
