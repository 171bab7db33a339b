"""Where variants run: one interface, a local process pool and a Dask cluster.

The sweep only calls `map_unordered(fn, items)`, which yields `(item, result)`
pairs as they finish, the result being the exception when `fn(item)` raised.
Closing the iterator early (an interrupt) cancels what has not started.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar, runtime_checkable

from backtest.errors import BacktestError

T = TypeVar("T")


@runtime_checkable
class Executor(Protocol):
    """Runs `fn` over items; yields (item, result or exception) in finishing order."""

    workers: int

    def map_unordered(self, fn: Callable[[T], Any],
                      items: Iterable[T]) -> Iterator[tuple[T, Any]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs everything in this process, in order (debugging, tests, --workers 1)."""

    workers = 1

    def map_unordered(self, fn: Callable[[T], Any], items: Iterable[T]) -> Iterator[tuple[T, Any]]:
        for item in items:
            try:
                result = fn(item)
            except Exception as exc:
                result = exc
            yield item, result

    def close(self) -> None:
        pass

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _context(import_main: bool = False) -> multiprocessing.context.BaseContext:
    """forkserver where there is one (workers fork from a clean, preloaded server), else
    spawn; the workers import the caller's __main__ only when `import_main` (pool.py)."""
    from backtest.sweep.pool import context

    return context(import_main)


class LocalExecutor:
    """A process pool on this machine (`concurrent.futures.ProcessPoolExecutor`).

    At most `workers` tasks are in flight at a time, so an interrupt leaves
    little queued work to cancel. The pool starts on first use and is reused
    by later calls until `close()`.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self, import_main: bool = False) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=_context(import_main))
        return self._pool

    def map_unordered(self, fn: Callable[[T], Any], items: Iterable[T]) -> Iterator[tuple[T, Any]]:
        # A function of the caller's script needs its __main__ in the workers; ours
        # never do, so a script without the main guard is not re-run in them.
        pool = self._get_pool(import_main=getattr(fn, "__module__", None) == "__main__")
        todo = iter(items)
        running: dict[Future, T] = {}
        limit = self.workers * 2
        try:
            while True:
                while len(running) < limit:
                    item = next(todo, _END)
                    if item is _END:
                        break
                    running[pool.submit(fn, item)] = item
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    item = running.pop(fut)
                    exc = fut.exception()
                    yield item, (exc if exc is not None else fut.result())
        finally:
            for fut in running:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()


class DaskExecutor:
    """An existing Dask distributed cluster (`dask.distributed.Client(address)`).

    Pass a scheduler address (`tcp://10.0.0.5:8786`) or a connected `Client`.
    Workers must have this package installed and see the price data at the
    same paths; results come back to this process, which writes them.
    """

    def __init__(self, address: str | Any) -> None:
        self.address = address
        self._client: Any = None
        self._own = False

    @property
    def client(self) -> Any:
        """The connected Client (connects on first use)."""
        if self._client is None:
            try:
                from dask.distributed import Client
            except ImportError as exc:  # pragma: no cover (the extra is missing)
                raise ImportError("--scheduler needs Dask: "
                                  "pip install 'pie-backtest[dask]'") from exc
            if isinstance(self.address, Client):
                self._client = self.address
            else:
                try:
                    self._client, self._own = Client(self.address, timeout="10s"), True
                except OSError as exc:  # unreachable or not a scheduler: the user's input
                    raise BacktestError(f"cannot use the Dask scheduler: {exc}",
                                        source=str(self.address)) from None
        return self._client

    @property
    def workers(self) -> int:  # type: ignore[override]
        return max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, fn: Callable[[T], Any], items: Iterable[T]) -> Iterator[tuple[T, Any]]:
        from dask.distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        owner = {fut.key: item for fut, item in zip(futures, items, strict=True)}
        try:
            for fut in as_completed(futures):
                item = owner[fut.key]
                if fut.status == "error":
                    yield item, fut.exception()
                elif fut.status == "cancelled":
                    yield item, RuntimeError("cancelled by the Dask cluster")
                else:
                    yield item, fut.result()
                fut.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._own and self._client is not None:
            self._client.close()
            self._client, self._own = None, False

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor the CLI options ask for: Dask at `scheduler`, this process for
    one worker, else a local process pool (every core by default)."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers == 1:
        return SerialExecutor()
    return LocalExecutor(workers)
