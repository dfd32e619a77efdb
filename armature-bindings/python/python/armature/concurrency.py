"""Running blocking code off the event loop, as `starlette.concurrency` (and
`fastapi.concurrency`) do.

```python
from armature.concurrency import run_in_threadpool

@app.get("/report")
async def report() -> dict:
    rows = await run_in_threadpool(slow_query, "2026-12")  # the loop serves others meanwhile
    return {"rows": len(rows)}
```
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from typing import Any, Callable, ContextManager, Optional, TypeVar

T = TypeVar("T")

__all__ = ["run_in_threadpool"]


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)` in the app's thread pool (40 daemon threads), in a copy of the
    caller's context: a `contextvars.ContextVar` set by middleware or an async dependency is
    seen there, as with Starlette's (anyio's). What `func` sets in its context stays there.
    Plain `def` handlers, dependencies and background tasks run this way."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def enter_in_threadpool(manager: ContextManager[T], stack: contextlib.AsyncExitStack) -> T:
    """Enters `manager` (a plain `def` dependency with `yield`) in the thread pool and has
    `stack` exit it off the loop too, as FastAPI's `contextmanager_in_threadpool`: the code
    before and after its `yield` may block (open and close a database session) without
    stopping the loop.

    The exit runs on a thread of its own, not the pool's: with every pool thread blocked in
    an `__enter__` waiting for what an `__exit__` gives back (a connection pool's last
    connection), an exit queued behind them would never run. A cancelled request (a shutdown)
    does not cancel its exit either."""
    value = await run_in_threadpool(manager.__enter__)

    async def exit_(exc_type: Optional[type], exc: Optional[BaseException], tb: Any) -> Optional[bool]:
        return await _in_own_thread(manager.__exit__, exc_type, exc, tb)

    stack.push_async_exit(exit_)
    return value


async def _in_own_thread(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` on a new daemon thread, in a copy of the caller's context; it runs to
    its end even if the awaiting task is cancelled."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: Optional[BaseException]) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def run() -> None:
        try:
            outcome: tuple[Any, Optional[BaseException]] = (context.run(func, *args), None)
        except BaseException as error:  # noqa: BLE001 - handed to whoever awaits it
            outcome = (None, error)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass  # the loop has closed: nobody waits any more

    threading.Thread(target=run, name="armature-exit", daemon=True).start()
    return await asyncio.shield(future)
