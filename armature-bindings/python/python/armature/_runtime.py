"""The Python half of the bridge: what the Rust engine calls back into.

Everything here runs on the one thread that runs the asyncio loop (and holds the GIL while
Python code runs). Rust calls the handler and steps its coroutine; these functions take over
only when a coroutine really suspends, when a handler raised, or to drive a streamed body.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import weakref
from typing import Any

from ._armature import ChunkSender, HttpResponse, Responder
from .exceptions import HTTPException, RequestValidationError

logger = logging.getLogger("armature")

# Tasks must be referenced until they finish, or asyncio may collect them mid-flight.
_tasks: set[asyncio.Task[Any]] = set()


class _Resume:
    """Continues a coroutine that Rust already stepped once and that yielded `first`.

    The Task waits on `first` exactly as if the coroutine had yielded it to the Task, then
    keeps driving the same coroutine: what the Task sends goes to the coroutine, and what it
    throws (the exception of a failed future, a cancellation) is thrown into the coroutine,
    at the handler's own `await`, where its `try`/`except` and the `finally` of its
    dependencies see it. `yield from` cannot take over a coroutine that is already suspended
    (it starts with a `send(None)`), so this forwards by hand, as PEP 380 describes.
    """

    __slots__ = ("coro", "first")

    def __init__(self, coro: Any, first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self):  # type: ignore[no-untyped-def]
        coro = self.coro
        yielded, self.first = self.first, None
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - the coroutine decides what it handles
                try:
                    yielded = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as done:
                    return done.value


# Raised in a Task, these two leave the loop (asyncio re-raises them from `run_until_complete`),
# which would stop the server for every other request. From a handler they are a failure of
# that request: answered 500 and logged, like any other exception (as uvicorn does).
_FATAL_TO_THE_LOOP = (KeyboardInterrupt, SystemExit)


async def _resume(coro: Any, first: Any) -> Any:
    try:
        return await _Resume(coro, first)
    except _FATAL_TO_THE_LOOP as exc:
        return error(exc)


def _finish(task: asyncio.Task[Any], responder: Responder) -> None:
    if task.cancelled():
        responder.send_internal_error()
        return
    exc = task.exception()
    try:
        if exc is None:
            responder.send_value(task.result())
        else:
            responder.send_value(error(exc))
    except BaseException as conversion:  # noqa: BLE001 - must always answer
        try:
            responder.send_value(error(conversion))
        except BaseException:  # noqa: BLE001
            responder.send_internal_error()


def _spawn(coro: Any, responder: Responder) -> None:
    task = _task(coro)
    task.add_done_callback(lambda t: _finish(t, responder))


def _task(coro: Any) -> asyncio.Task[Any]:
    """`coro` as a Task of the running loop, kept (in `_tasks`) until it is done: shutdown
    waits for it, and the loop's weak reference alone would not keep it alive."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def soon(callback: Any) -> None:
    """Runs `callback` at the loop's next iteration (Rust posts the responses of the Tasks
    that finished in this one together)."""
    asyncio.get_running_loop().call_soon(callback)


def suspend(coro: Any, yielded: Any, responder: Responder) -> None:
    """A handler's coroutine suspended on `yielded`: finish it in a Task."""
    _spawn(_resume(coro, yielded), responder)


def awaitable(value: Any, responder: Responder) -> None:
    """A handler returned some other awaitable (a Future, say)."""

    async def wait() -> Any:
        try:
            return await value
        except _FATAL_TO_THE_LOOP as exc:
            return error(exc)

    _spawn(wait(), responder)


def error(exc: BaseException) -> HttpResponse:
    """The response for an exception raised by a handler or dependency."""
    if isinstance(exc, HTTPException):
        return HttpResponse.json({"detail": exc.detail}, status=exc.status_code, headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        return HttpResponse.json({"detail": exc.errors()}, status=422)
    unhandled(exc)
    return HttpResponse.text("Internal Server Error", status=500)


# Where the unhandled exceptions of the requests a `TestClient` runs go, by the thread of its
# loop: the client raises them in the test, as Starlette's does.
sinks: dict[int, list[BaseException]] = {}


def unhook(ident: int, sink: list[BaseException]) -> None:
    """Stops handing the exceptions of thread `ident` to `sink` (if it is still the one)."""
    if sinks.get(ident) is sink:
        del sinks[ident]


def unhandled(exc: BaseException, where: str = "a request handler") -> None:
    """Logs an exception no handler answered (or only the `Exception` handler did), or one a
    background task raised (`where`), and hands it to the `TestClient` running the request, if
    any (raised in the test, as Starlette's client does)."""
    logger.error("Exception in %s", where, exc_info=(type(exc), exc, exc.__traceback__))
    sink = sinks.get(threading.get_ident())
    if sink is not None:
        sink.append(exc)


# The WebSocket connections a `TestClient` session waits for, by the id its handshake sent
# (`x-armature-test-session`): set once the handler is done.
websocket_sessions: dict[str, threading.Event] = {}


def websocket_done(req: Any) -> None:
    """A WebSocket handler is done: tells the `TestClient` session waiting for it, if any."""
    key = req.header("x-armature-test-session")
    if key is not None:
        done = websocket_sessions.pop(key, None)
        if done is not None:
            done.set()


_END = object()


async def _each(chunks: Any) -> Any:
    """The chunks of an async or plain iterable; a plain one's each made in the default thread
    pool, off the loop."""
    if hasattr(chunks, "__aiter__"):
        async for chunk in chunks:
            yield chunk
    else:
        loop = asyncio.get_running_loop()
        items = iter(chunks)
        while (chunk := await loop.run_in_executor(None, next, items, _END)) is not _END:
            yield chunk


async def _close(chunks: Any) -> None:
    """Closes a generator of chunks left before its end, so its own `finally` runs now."""
    if hasattr(chunks, "aclose"):
        await chunks.aclose()
    elif hasattr(chunks, "close"):
        chunks.close()


def stream(chunks: Any, sender: ChunkSender, tasks: Any = None) -> None:
    """Drives the iterable (async or plain) of a streamed response, sending each chunk to
    Rust; then runs the response's background `tasks`, if any.

    As uvicorn's flow control, it waits while the client has not taken what was sent (past
    Rust's high-water mark), so a slow client slows the generator down instead of the whole
    body piling up in memory. As Starlette's `StreamingResponse`, a client that leaves before
    the end cancels the task wherever the generator waits (its `finally` runs), not only at
    its next chunk; the background tasks still run."""
    streaming = True
    gone = False

    def client_left() -> None:
        nonlocal gone
        if streaming:
            gone = True
            task.cancel()

    async def pump() -> None:
        nonlocal streaming
        loop = asyncio.get_running_loop()
        try:
            async for chunk in _each(chunks):
                if not sender.send(chunk):
                    break  # the client went away
                if sender.full():
                    room = loop.create_future()
                    if sender.wait(room):
                        await room
        except asyncio.CancelledError:
            if not gone:  # the server stops: the body is cut off
                streaming = False
                sender.close("cancelled")
                raise
            uncancel = getattr(task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
        except (Exception, *_FATAL_TO_THE_LOOP) as exc:  # noqa: BLE001 - logged, then the body is cut off
            streaming = False
            logger.error("Exception while streaming a response", exc_info=exc)
            sender.close(str(exc) or type(exc).__name__)
            return
        finally:
            streaming = False
            try:
                await _close(chunks)
            except Exception:  # noqa: BLE001
                pass
        sender.close()
        if tasks is not None:
            background(tasks)

    task = _task(pump())
    sender.on_gone(client_left)


def closing(chunks: Any, cleanup: Any) -> Any:
    """The streamed body `chunks` (async or plain iterable) as an async iterator that awaits
    `cleanup()` once it ends: read to the end, failed, closed early, or dropped unread (an HTTP
    middleware that answered with a response of its own)."""
    ran = False

    async def once() -> None:
        nonlocal ran
        if ran:
            return
        ran = True
        try:
            await cleanup()
        except Exception:  # noqa: BLE001 - the body is sent, or already failed: logged
            logger.exception("Exception in a dependency's exit code after a streamed response")

    async def body() -> Any:
        try:
            async for chunk in _each(chunks):
                yield chunk
        finally:
            try:
                await _close(chunks)
            finally:
                await once()

    gen = body()
    loop = asyncio.get_running_loop()
    # Never started, its `finally` never runs: the cleanup is then run when it is dropped.
    weakref.finalize(gen, lambda: loop.is_closed() or loop.call_soon_threadsafe(lambda: _task(once()))).atexit = False
    return gen


# Background tasks are numbered as they start, and those not done yet kept with their number
# (of every loop): a `TestClient` takes a number before a request and waits for the tasks
# numbered after it, on its loop, before the request returns, as Starlette's does. (Not for all
# of them: a background task may itself make a request with the client.)
background_numbers = itertools.count(1)
background_tasks: dict[asyncio.Task[Any], int] = {}


def background(tasks: Any) -> None:
    """Runs `tasks` (a `BackgroundTasks` or `BackgroundTask`: called, it gives the coroutine)
    on the loop, once the response is handed to the server: a `BackgroundTasks` parameter's,
    or a response's `background`."""
    task = _task(tasks())
    background_tasks[task] = next(background_numbers)
    task.add_done_callback(lambda done: background_tasks.pop(done, None))


async def body_iterator(body: bytes, stream: Any) -> Any:
    """`HttpResponse.body_iterator`: `body`, or the chunks of `stream` (async or plain
    iterable, of bytes or text) as bytes."""
    if stream is None:
        if body:
            yield body
        return
    if hasattr(stream, "__aiter__"):
        async for chunk in stream:
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
    else:
        for chunk in stream:
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
