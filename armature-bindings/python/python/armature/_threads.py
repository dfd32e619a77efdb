"""The thread pool plain `def` handlers, dependencies and background tasks run in.

`concurrent.futures.ThreadPoolExecutor` (asyncio's default) joins its threads when the
interpreter exits, so one handler stuck in a blocking call kept the process alive long after
`shutdown_timeout`. These threads are daemons: once `run()` returns, the process exits,
whatever they are doing. Like FastAPI's (anyio's), the pool has 40 threads, so 40 blocking
handlers run at once however few CPUs there are.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

THREADS = 40


class DaemonThreads(ThreadPoolExecutor):
    """A pool of up to `max_workers` daemon threads, started as work arrives.

    A `ThreadPoolExecutor` only in name (asyncio's `set_default_executor` insists on one): it
    replaces the work of `submit` and `shutdown` and never starts the base class's threads.
    """

    def __init__(self, max_workers: int = THREADS, name: str = "armature-sync") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._max = max_workers
        self._name = name
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            future: Future[Any] = Future()
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._run, name=f"{self._name}-{self._threads}", daemon=True).start()
        return future

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits it
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stops the threads once the queued work is done; `wait` is not honoured for work
        still running (the point of daemon threads): it returns at once."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            for _ in range(self._threads):
                self._work.put(None)
