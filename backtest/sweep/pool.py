"""Process-pool start methods whose workers do not re-import the caller's script.

multiprocessing's forkserver and spawn methods send each new worker the path
of the parent's ``__main__`` module, and the worker imports it (as
``__mp_main__``) before it runs anything. A script that calls
``backtest.compare(...)`` at its top level, without the
``if __name__ == "__main__":`` guard, would then run again inside every
worker, try to start a pool of its own there and kill the worker: every
variant failed with ``BrokenProcessPool``.

Our workers run only functions of this package on picklable values, so they
never need the caller's ``__main__``. `context(import_main=False)` returns a
start-method context whose processes are launched with ``__main__`` hidden:
while the launch data is prepared, ``sys.modules["__main__"]`` is a stub with
no file, so the worker imports nothing of the caller's. The worker still gets
the parent's ``sys.path`` and working directory. The swap lasts the few
milliseconds of a worker's launch, under a lock; a function defined in the
caller's script (``LocalExecutor.map_unordered`` with a ``__main__`` function)
keeps the standard launch, since its workers need that module.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import types
from collections.abc import Iterator
from multiprocessing import context as mp_context
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

PRELOAD = ["backtest.sweep.runner", "backtest.montecarlo.runner", "backtest.engine.result",
           "backtest.io.inputs", "backtest.engine.summary", "backtest.app"]

_lock = threading.Lock()


@contextlib.contextmanager
def hidden_main() -> Iterator[None]:
    """`sys.modules["__main__"]` replaced by an empty stub for the block."""
    with _lock:
        real = sys.modules.get("__main__")
        stub = types.ModuleType("__main__")
        stub.__spec__ = None
        sys.modules["__main__"] = stub
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real
            else:  # pragma: no cover (an interpreter always has a __main__)
                del sys.modules["__main__"]


if sys.platform != "win32":  # multiprocessing has these classes on POSIX only

    class NoMainForkServerProcess(mp_context.ForkServerProcess):
        """A forkserver process launched with __main__ hidden (module level: it is pickled)."""

        @staticmethod
        def _Popen(process_obj: BaseProcess) -> Any:
            from multiprocessing import popen_forkserver

            class Popen(popen_forkserver.Popen):
                def _launch(self, process_obj: BaseProcess) -> None:
                    with hidden_main():
                        super()._launch(process_obj)  # type: ignore[misc]

            return Popen(process_obj)


    class NoMainSpawnProcess(mp_context.SpawnProcess):
        """A spawned process launched with __main__ hidden (POSIX)."""

        @staticmethod
        def _Popen(process_obj: BaseProcess) -> Any:
            from multiprocessing import popen_spawn_posix

            class Popen(popen_spawn_posix.Popen):
                def _launch(self, process_obj: BaseProcess) -> None:
                    with hidden_main():
                        super()._launch(process_obj)  # type: ignore[misc]

            return Popen(process_obj)


def context(import_main: bool = False) -> BaseContext:
    """forkserver where there is one (workers fork from a clean, preloaded server),
    else spawn; with `import_main=False` the workers never import ``__main__``."""
    methods = multiprocessing.get_all_start_methods()
    ctx: BaseContext
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        if not import_main:
            ctx = _with_process(ctx, NoMainForkServerProcess)
        return ctx
    ctx = multiprocessing.get_context("spawn")
    if not import_main and sys.platform != "win32":
        ctx = _with_process(ctx, NoMainSpawnProcess)
    return ctx


def _with_process(ctx: BaseContext, process: type) -> BaseContext:
    """A copy of `ctx` whose Process class is `process` (ctx itself is shared)."""
    cls = type(f"NoMain{type(ctx).__name__}", (type(ctx),), {"Process": process})
    out: BaseContext = cls()
    return out
