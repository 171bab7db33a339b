"""Where variants run: one interface, a local process pool and a Dask cluster.

The sweep only calls `map_unordered(fn, items)`, which yields `(item, result)`
pairs as they finish, the result being the exception when `fn(item)` raised.
Closing the iterator early (an interrupt) cancels what has not started.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
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


def _watch_parent(conn: Any, parent: int) -> None:
    """Worker initializer: end this worker as soon as the process that owns the pool dies.

    A killed parent (`kill -9`, out of memory) never shuts its pool down: the
    workers, and through them the forkserver and the resource tracker, would
    live on. The parent holds the write end of a pipe whose read end `conn` a
    thread here waits on: the kernel closes it when the parent dies, for any
    reason, and the read returns. Where the worker's own parent is the
    forkserver (not the pool's owner), PR_SET_PDEATHSIG also ends it with
    the forkserver (Linux). Workers ignore SIGINT (see below)."""
    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            conn.recv_bytes()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
    # Ctrl-C reaches the whole process group: the parent alone decides (it cancels
    # and ends the workers), so a worker never dies mid-task printing a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux") and os.getppid() != parent:
        with contextlib.suppress(Exception):
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _start_servers(ctx: multiprocessing.context.BaseContext) -> None:
    """Start the resource tracker, then the forkserver with SIGINT blocked, a mask it
    keeps across exec and its workers inherit: Ctrl-C reaches the whole process
    group, and only this process acts on it; a server hit while it starts would
    die printing a traceback. Here a SIGINT only waits, and becomes a
    KeyboardInterrupt once the server is up. (The resource tracker shields its
    own start the same way, and unblocks SIGINT after: hence first.)"""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    if ctx.get_start_method() != "forkserver" or not hasattr(signal, "pthread_sigmask"):
        return
    from multiprocessing import forkserver

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done. Submitting may start a worker
    process; interrupted halfway, that worker would be missing from the pool's list,
    outlive the cleanup and print a traceback once its parent is gone. (Python-level
    handlers: a thread's signal mask cannot hold back the main thread's handler.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in held}
    for s, handler in before.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(s, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for s, handler in before.items():
            if handler is not None:
                signal.signal(s, handler)
        for s in got[:1]:  # now, as if it had just arrived
            handler = before[s]
            if callable(handler):
                handler(s, None)
            else:
                os.kill(os.getpid(), s)


class LocalExecutor:
    """A process pool on this machine (`concurrent.futures.ProcessPoolExecutor`).

    At most `workers` tasks are in flight at a time, so an interrupt leaves
    little queued work to cancel. The pool starts on first use and is reused
    by later calls until `close()`.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Any, Any] | None = None
        self._abandoned = False

    def _get_pool(self, import_main: bool = False) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = _context(import_main)
            _start_servers(ctx)
            reader, writer = ctx.Pipe(duplex=False)  # the workers' lifeline (_watch_parent)
            self._lifeline = (reader, writer)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=_watch_parent,
                                             initargs=(reader, os.getpid()))
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
                    with _signals_deferred():  # may start a worker: never half-started
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
            if running:  # an interrupt (or the caller stopped early): no waiting at close
                self._abandoned = True

    def close(self) -> None:
        """Shut the pool down: wait for running tasks, or after an interrupt end the
        workers at once (their results are no longer wanted)."""
        if self._pool is not None:
            if self._abandoned:
                for proc in list(getattr(self._pool, "_processes", {}).values()):
                    with contextlib.suppress(Exception):
                        proc.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._abandoned = False
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None

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
                except (OSError, ValueError, TypeError) as exc:  # unreachable, not a scheduler
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


SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def check_address(address: str) -> None:
    """A Dask scheduler address: `tcp://host:port` (or tls://, ws://, ...), else `BacktestError`."""
    text = str(address).strip()
    scheme, sep, rest = text.partition("://")
    host, colon, port = rest.rpartition(":")
    if (not sep or scheme not in SCHEMES or not colon or not host or not port.isdigit()
            or not 0 < int(port) < 65536 or any(c.isspace() or c == "/" for c in host)):
        raise BacktestError("--scheduler is not a Dask scheduler address like "
                            "tcp://127.0.0.1:8786 (scheme://host:port, scheme one of "
                            f"{', '.join(SCHEMES)})", source=repr(text)[1:-1] or "''")


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor the CLI options ask for: Dask at `scheduler`, this process for
    one worker, else a local process pool (every core by default)."""
    if scheduler:
        check_address(scheduler)
        return DaskExecutor(scheduler)
    if workers == 1:
        return SerialExecutor()
    return LocalExecutor(workers)
