"""`App`: the routes, the preset layers, lifecycle hooks, and serving."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import os
import signal
import sys
import threading
from typing import Any, AsyncContextManager, Awaitable, Callable, Mapping, Optional, Sequence, TypeVar, Union

from ._armature import Engine, Listener
from ._threads import DaemonThreads
from .convertors import CONVERTOR_TYPES, built_in
from .datastructures import State
from .encoders import jsonable
from .exception_handlers import ExceptionHandlers
from .exceptions import HTTPException
from .staticfiles import StaticFiles
from .middleware import BaseHTTPMiddleware, CORSMiddleware, GZipMiddleware, LoggerMiddleware, wrapped
from .params import Depends
from .ratelimit import options_of
from .routing import APP_DOCUMENTATION, WEBSOCKET_METHOD, Router, _only_documentation

F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("armature")

Hook = Callable[[], Union[None, Awaitable[None]]]


async def _call_hook(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind in ("auto", "uvloop"):
        try:
            import uvloop  # type: ignore[import-not-found]

            return uvloop.new_event_loop()  # type: ignore[no-any-return]
        except ImportError:
            if kind == "uvloop":
                raise
    return asyncio.new_event_loop()


class App(Router):
    """An application: a `Router` plus middleware, hooks and `run()`.

    State is per process: with `workers=N` each worker process has its own copy of
    everything your module created (connections, caches, counters).

    `redirect_slashes` (on, as in FastAPI): a path that matches a route only with its
    trailing slash added or removed is answered with a redirect to it (`308`, query kept).

    `lifespan`, as FastAPI's: a function of the app returning an async context manager,
    entered before the first request and left after the last (before the `on_startup` hooks,
    after the `on_shutdown` ones). A mapping it yields is set on `app.state`, and, as in
    Starlette, a shallow copy of it is each request's (and WebSocket's) `request.state`.

    ```python
    from contextlib import asynccontextmanager

    from armature import App

    @asynccontextmanager
    async def lifespan(app: App):
        app.state.pool = {"connected": True}  # say, a database pool
        yield
        app.state.pool["connected"] = False

    app = App(lifespan=lifespan)
    ```
    """

    def __init__(
        self,
        *,
        on_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        dependencies: Sequence[Depends] = (),
        max_body_size: int = 16 * 1024 * 1024,
        redirect_slashes: bool = True,
        exception_handlers: Optional[Mapping[Any, Any]] = None,
        lifespan: Optional[Callable[["App"], AsyncContextManager[Any]]] = None,
        **documentation: Any,
    ) -> None:
        _only_documentation(documentation, "App", APP_DOCUMENTATION)
        super().__init__(dependencies=dependencies)
        if lifespan is not None and not callable(lifespan):
            raise TypeError(f"App(lifespan=...): a function of the app returning an async context manager, got {lifespan!r}")
        self.lifespan = lifespan
        self._lifespan: Optional[AsyncContextManager[Any]] = None
        # What the lifespan yielded: copied into every request's `request.state`.
        self._request_state: dict[str, Any] = {}
        # Anything the app keeps for its handlers (`app.state.pool = ...`), as Starlette's.
        self.state = State()
        self.http_middleware: list[Callable[..., Any]] = []
        # `app.mount(path, StaticFiles(...))`: directories served under paths.
        self.mounts: list[tuple[str, StaticFiles, Optional[str]]] = []
        self.title = documentation.pop("title", "Armature")
        self.version = documentation.pop("version", "0.1.0")
        # As FastAPI's, an empty URL (from settings, say) is none, and without the document
        # there are no docs, unless they were asked for.
        self.openapi_url = documentation.pop("openapi_url", "/openapi.json") or None
        self.docs_url = documentation.pop("docs_url", "/docs" if self.openapi_url is not None else None) or None
        for name in ("openapi_url", "docs_url"):
            url = getattr(self, name)
            if url is not None and (not isinstance(url, str) or not url.startswith("/") or url == "/"):
                raise ValueError(f"App({name}=...): a path like '/docs', or None to turn it off; got {url!r}")
        if self.docs_url is not None and self.openapi_url is None:
            raise ValueError("App(docs_url=...) needs the document it shows: openapi_url=None turns off both")
        # FastAPI's `root_path`: the prefix a proxy in front serves the app under (and strips).
        # Routes stay as declared; the docs page's links and the document's `servers` get it.
        self.root_path = documentation.pop("root_path", "") or ""
        if not isinstance(self.root_path, str) or (self.root_path and not self.root_path.startswith("/")):
            raise ValueError(f"App(root_path=...): a path prefix like '/api', got {self.root_path!r}")
        self.root_path = self.root_path.rstrip("/")
        # The rest of FastAPI's keywords: `description`, `openapi_tags`, `servers`, ... for the
        # document; the others are accepted and have no effect (`redoc_url`: no ReDoc here).
        redoc_url = documentation.get("redoc_url")
        if redoc_url:
            # Said once, when the app is made: a FastAPI app ported here would find a 404 there.
            logger.warning(
                "App(redoc_url=%r): Armature serves no ReDoc page, so nothing is served there; "
                "Swagger UI is at docs_url (%r). Pass redoc_url=None to silence this.",
                redoc_url,
                self.docs_url,
            )
        self.documentation = documentation
        # `response_class` of the routes (here and included) that name none, as FastAPI's.
        default_response_class = documentation.pop("default_response_class", None)
        if default_response_class is not None:
            self.defaults["default_response_class"] = default_response_class
        # The operation ids of the routes (here and included) that name no such function.
        generate_unique_id = documentation.pop("generate_unique_id_function", None)
        if generate_unique_id is not None:
            self.defaults["generate_unique_id_function"] = generate_unique_id
        # FastAPI's `app.dependency_overrides[dependency] = stand_in`, for tests: read at
        # every request, so it may change while the app serves.
        self.dependency_overrides: dict[Any, Callable[..., Any]] = {}
        self._openapi: Optional[dict[str, Any]] = None
        self.exception_handlers = ExceptionHandlers()
        for exc_class, handler in (exception_handlers or {}).items():
            self.exception_handlers.add(exc_class, handler)
        self.on_startup: list[Hook] = list(on_startup)
        self.on_shutdown: list[Hook] = list(on_shutdown)
        self.max_body_size = max_body_size
        self.redirect_slashes = redirect_slashes
        self._cors: Optional[CORSMiddleware] = None
        self._logger: Optional[LoggerMiddleware] = None
        self._gzip: Optional[GZipMiddleware] = None

    # ----------------------------------------------------------------- configuration

    def add_middleware(self, middleware: Any, **options: Any) -> None:
        """Adds middleware: an instance (`add_middleware(CORSMiddleware(...))`) or, as in
        FastAPI, the class and its options (`add_middleware(CORSMiddleware, allow_origins=[...])`).
        `CORSMiddleware`, `LoggerMiddleware` and `GZipMiddleware` are Rust layers; a `BaseHTTPMiddleware`
        subclass (made with the app, then the options) runs its `dispatch` as an
        `@app.middleware("http")` function does, the last added outermost. Pure ASGI
        middleware is a `TypeError`: there is no ASGI here."""
        if inspect.isclass(middleware):
            if issubclass(middleware, BaseHTTPMiddleware):
                middleware = middleware(self, **options)
            elif issubclass(middleware, (CORSMiddleware, LoggerMiddleware, GZipMiddleware)):
                middleware = middleware(**options)
        if isinstance(middleware, CORSMiddleware):
            self._cors = middleware
        elif isinstance(middleware, LoggerMiddleware):
            self._logger = middleware
        elif isinstance(middleware, GZipMiddleware):
            self._gzip = middleware
        elif isinstance(middleware, BaseHTTPMiddleware):
            self.http_middleware.append(middleware.dispatch_func)
        else:
            raise TypeError(
                f"unsupported middleware {middleware!r}: use CORSMiddleware or LoggerMiddleware (Rust layers), "
                "a BaseHTTPMiddleware subclass or @app.middleware('http') (ASGI middleware has no ASGI to run in here)"
            )

    def mount(self, path: str, app: Any, name: Optional[str] = None) -> None:
        """Starlette's `app.mount(path, StaticFiles(directory=...), name=...)`: the files of a
        directory served under `path` (`/static` serves `/static/...`). Mounted at `/` (a
        single-page app: `app.mount("/", StaticFiles(directory="dist", html=True))`), it
        answers what no route matches, so the routes come first whatever the order. Only
        `StaticFiles` mounts here; a path a route or another mount has is a `ValueError` when
        the app is built."""
        if not isinstance(app, StaticFiles):
            raise TypeError(f"app.mount({path!r}, ...): only StaticFiles can be mounted, not {app!r}")
        if not path.startswith("/") or (path.endswith("/") and path != "/"):
            raise ValueError(f"app.mount: a path like '/static' (starting with '/', not ending with '/'), or '/', got {path!r}")
        if path == "/" and any(p == "/" for p, _, _ in self.mounts):
            raise ValueError("app.mount('/', ...): one mount at '/' only")
        self.mounts.append((path, app, name))

    def exception_handler(self, exc_class: Any) -> Callable[[F], F]:
        """`@app.exception_handler(SomeError)`: `async def handler(request, exc)` (or a plain
        `def`) answers requests whose handler or dependencies raised `SomeError` (or a
        subclass); it returns what a route may return. The nearest class with a handler wins.
        Registering `HTTPException` or `RequestValidationError` replaces their default
        answers; a handler for `Exception` answers every other failure (which is still
        logged). A status code (`@app.exception_handler(404)`) answers the `HTTPException`s of
        that status, the router's `404` and `405` included, as in Starlette."""

        def decorate(handler: F) -> F:
            self.add_exception_handler(exc_class, handler)
            return handler

        return decorate

    def middleware(self, middleware_type: str) -> Callable[[F], F]:
        """`@app.middleware("http")`, as FastAPI's: `async def f(request, call_next)` runs
        around every route's handler; `await call_next(request)` gives the handler's answer
        as an `HttpResponse` (an `HTTPException` or a validation error already turned into
        its answer, as in Starlette), which `f` may change (`response.headers["X-Time"] = ...`)
        or replace. The last one added runs first. The router's 404s and 405s reach it too
        (as `HTTPException`s); the Rust layers' answers (413, 429, CORS preflights) do not:
        they never reach Python."""
        if middleware_type != "http":
            raise ValueError(f'app.middleware({middleware_type!r}): only "http" middleware is supported')

        def decorate(func: F) -> F:
            if not callable(func):
                raise TypeError(f"app.middleware('http'): {func!r} is not callable")
            self.http_middleware.append(func)
            return func

        return decorate

    def add_exception_handler(self, exc_class: Any, handler: Callable[..., Any]) -> None:
        """`app.add_exception_handler(SomeError, handler)`: see `exception_handler`."""
        self.exception_handlers.add(exc_class, handler)

    def on_event(self, event: str) -> Callable[[Hook], Hook]:
        """`@app.on_event("startup")` / `@app.on_event("shutdown")`."""

        def decorate(hook: Hook) -> Hook:
            self.add_event_handler(event, hook)
            return hook

        return decorate

    def add_event_handler(self, event: str, hook: Hook) -> None:
        if event == "startup":
            self.on_startup.append(hook)
        elif event == "shutdown":
            self.on_shutdown.append(hook)
        else:
            raise ValueError(f"unknown event {event!r}: 'startup' or 'shutdown'")

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI 3.1 document (made once, on first use, kept as
        `app.openapi_schema`), served at `openapi_url` with Swagger UI at `docs_url`; see
        `armature.openapi`. As in FastAPI, an app may replace it: `app.openapi = custom`, a
        function returning the document (`armature.openapi.get_openapi` builds one)."""
        if self._openapi is None:
            from .openapi import document

            self._openapi = document(self)
        return self._openapi

    @property
    def openapi_schema(self) -> Optional[dict[str, Any]]:
        """The document once made (`None` before), as FastAPI's; set it to replace it."""
        return self._openapi

    @openapi_schema.setter
    def openapi_schema(self, doc: Optional[dict[str, Any]]) -> None:
        self._openapi = doc

    def build_engine(self) -> Engine:
        """Compiles the routes and layers in Rust (a `ValueError` names conflicting routes)."""
        docs = None
        if self.openapi_url is not None:
            try:
                spec = json.dumps(self.openapi(), default=jsonable)
            except Exception:  # noqa: BLE001 - the docs must not keep the app from serving
                logger.exception("Could not build the OpenAPI document: %s and %s are off", self.openapi_url, self.docs_url)
            else:
                docs = (spec, self.openapi_url, self.docs_url, self.root_path)
        # WebSocket routes answer by themselves: no HTTP middleware or exception handler.
        answered = [self._seeded(r.endpoint(self) if r.method == WEBSOCKET_METHOD else self._answering(r.endpoint(self))) for r in self.routes]
        # The router's 404 and 405 go through the HTTP middleware and exception handlers
        # when there are any to see them; otherwise Rust answers them alone.
        unmatched = bool(self.http_middleware) or self.exception_handlers.shape_http_errors()
        if unmatched:
            answered += [self._seeded(self._answering(_refuse(status, detail))) for status, detail in ((404, "Not Found"), (405, "Method Not Allowed"))]
        checked = [_for_rust(r.checked()) for r in self.routes]
        return Engine(
            # Patterns without their convertors (`/items/{id}`): Rust checks those per route.
            [(r.method, r.path_format) for r in self.routes],
            answered,
            cors=self._cors.options if self._cors else None,
            logger=(self._logger.level, self._logger.format) if self._logger else None,
            max_body_size=self.max_body_size,
            limits=[options_of(r.handler) for r in self.routes],
            redirect_slashes=self.redirect_slashes,
            docs=docs,
            unmatched=unmatched,
            mounts=[(path, files.directory, files.html, files.follow_symlink) for path, files, _ in self.mounts],
            gzip=(self._gzip.minimum_size, self._gzip.compresslevel) if self._gzip else None,
            convertors=checked if any(checked) else None,
        )

    def _seeded(self, endpoint: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """`endpoint`, its request's `state` starting as a copy of what the lifespan yielded
        (Starlette's lifespan state), when there is a lifespan."""
        if self.lifespan is None:
            return endpoint

        def seed(request: Any) -> Any:
            if self._request_state:
                vars(request.state).update(self._request_state)
            return endpoint(request)

        return seed

    def _answering(self, endpoint: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """`endpoint` behind the app's exception handlers and HTTP middleware."""
        handlers = self.exception_handlers
        return handlers.catch_all(wrapped(handlers.guard(endpoint, self), self.http_middleware, self), self)

    async def startup(self) -> None:
        if self.lifespan is not None:
            manager = self.lifespan(self)
            if not hasattr(manager, "__aenter__"):
                raise TypeError(f"App(lifespan=...): {self.lifespan!r} returned {manager!r}, not an async context manager (decorate it with @contextlib.asynccontextmanager)")
            state = await manager.__aenter__()
            self._lifespan = manager
            if isinstance(state, Mapping):
                self._request_state = dict(state)
                for name, value in state.items():
                    setattr(self.state, name, value)
        for hook in self.on_startup:
            await _call_hook(hook)

    async def shutdown(self) -> None:
        for hook in self.on_shutdown:
            try:
                await _call_hook(hook)
            except Exception:  # noqa: BLE001 - run every hook
                logger.exception("Exception in a shutdown hook")
        manager, self._lifespan = self._lifespan, None
        if manager is not None:
            try:
                await manager.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 - shutting down all the same
                logger.exception("Exception in the lifespan's shutdown")

    # ----------------------------------------------------------------- serving

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        workers: int = 1,
        threads: int = 1,
        shutdown_timeout: float = 10.0,
        loop: str = "auto",
        ws_ping_interval: Optional[float] = 20.0,
        ws_ping_timeout: Optional[float] = 20.0,
    ) -> None:
        """Serves until SIGINT/SIGTERM (Ctrl-C), then shuts down gracefully: stops accepting,
        lets in-flight requests finish (up to `shutdown_timeout` seconds), closes open
        WebSockets (`1012`), runs the shutdown hooks and returns.

        WebSockets are pinged every `ws_ping_interval` seconds, and one that answers nothing
        for `ws_ping_timeout` more is closed (`1011`), as uvicorn's options of the same names
        (`ws_ping_interval=None`: no pings; `ws_ping_timeout=None`: a silent client is not
        closed).

        `workers=N` forks N processes, each with its own `SO_REUSEPORT` socket on the port and
        its own Python loop and tokio runtime (state is per process). `threads` is the number
        of tokio I/O threads per process. `loop` is `"auto"` (uvloop when installed),
        `"uvloop"` or `"asyncio"`. `port=0` picks a free port; the address is printed.
        """
        for name, value in (("ws_ping_interval", ws_ping_interval), ("ws_ping_timeout", ws_ping_timeout)):
            if value is not None and not value > 0:  # NaN fails this too
                raise ValueError(f"{name} must be a number of seconds above 0, or None, got {value}")
        pings = (ws_ping_interval, ws_ping_timeout)
        if not shutdown_timeout >= 0:  # NaN fails this too
            raise ValueError(f"shutdown_timeout must be a number of seconds, 0 or more (inf: no limit), got {shutdown_timeout}")
        listener = Listener(host, port)
        if workers <= 1:
            self._serve(listener, threads, shutdown_timeout, loop, pings=pings)
            return
        listeners = [listener] + [listener.replicate() for _ in range(workers - 1)]
        _announce(listener, workers)
        children: list[int] = []
        for index, own in enumerate(listeners):
            pid = os.fork()
            if pid == 0:  # the worker
                for other in listeners:
                    if other is not own:
                        other.close()
                code = 0
                try:
                    self._serve(own, threads, shutdown_timeout, loop, announce=False, pings=pings)
                except BaseException:  # noqa: BLE001
                    logger.exception("worker %d failed", index)
                    code = 1
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
            children.append(pid)
        for own in listeners:
            own.close()
        failed = _supervise(children)
        if failed:
            raise RuntimeError(f"{failed} of {workers} workers failed (see the log above)")

    def _serve(self, listener: Listener, threads: int, shutdown_timeout: float, loop_kind: str, announce: bool = True, pings: tuple[Optional[float], Optional[float]] = (20.0, 20.0)) -> None:
        engine = self.build_engine()
        loop = _new_loop(loop_kind)
        asyncio.set_event_loop(loop)
        # Daemon threads: a handler stuck in a blocking call cannot keep the process alive.
        loop.set_default_executor(DaemonThreads())
        try:
            loop.add_reader(engine.fileno(), engine.drain)
            loop.run_until_complete(self.startup())
            stopped: asyncio.Future[Optional[str]] = loop.create_future()

            def on_stopped(error: Optional[str]) -> None:
                if not stopped.done():
                    stopped.set_result(error)

            handle = engine.serve(listener, on_stopped, threads=threads, shutdown_timeout=shutdown_timeout, ws_ping_interval=pings[0], ws_ping_timeout=pings[1])
            # When the shutdown began: what is still running gets the rest of its time, not more.
            deadline = [math.inf]
            # The shutdown hooks, once they run: a second signal cancels them too.
            hooks: list[asyncio.Task[Any]] = []

            def shut_down() -> None:
                from ._runtime import _tasks

                if deadline[0] == math.inf:
                    deadline[0] = loop.time() + shutdown_timeout
                    handle.shutdown()
                    return
                # A second signal (Ctrl-C again) stops the waiting, as in uvicorn: what still
                # runs is cancelled (its requests answered 500), then the hooks run (or, if they
                # are running, they are cancelled).
                logger.warning("second signal: cancelling %d running task(s)", len(_tasks) + len(hooks))
                deadline[0] = loop.time()
                for task in [*_tasks, *hooks]:
                    task.cancel()

            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, shut_down)
            if announce:
                _announce(listener, 1)
            error = loop.run_until_complete(stopped)
            # Handlers and background tasks still running get the rest of the shutdown time;
            # then they are cancelled (their clients are gone by then).
            from ._runtime import _tasks

            if _tasks:
                left = deadline[0] - loop.time() if deadline[0] != math.inf else shutdown_timeout
                timeout = None if math.isinf(left) else max(0.0, left)
                _, pending = loop.run_until_complete(asyncio.wait(list(_tasks), timeout=timeout))
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
            # The shutdown hooks get what is left of the shutdown time (at least a second, and
            # all of it if it is infinite); past it, or on a second signal, they are cancelled:
            # a hook that never returns cannot keep the process from exiting.
            hooks.append(loop.create_task(self.shutdown()))
            left = deadline[0] - loop.time() if deadline[0] != math.inf else shutdown_timeout
            done, _ = loop.run_until_complete(asyncio.wait(hooks, timeout=None if math.isinf(left) else max(1.0, left)))
            if not done:
                logger.warning("shutdown hooks still running after shutdown_timeout: cancelled")
                hooks[0].cancel()
                loop.run_until_complete(asyncio.wait(hooks, timeout=1.0))
            elif not hooks[0].cancelled():
                hooks[0].result()  # a hook's exception, as before
            if error:
                raise RuntimeError(f"server failed: {error}")
        finally:
            loop.remove_reader(engine.fileno())
            loop.close()
            asyncio.set_event_loop(None)


def _for_rust(checked: Optional[list[str]]) -> Optional[list[Any]]:
    """A route's convertors as Rust checks them: Starlette's by name, a registered one as
    `(key, regex, convertor)`."""
    if checked is None:
        return None
    return [key if built_in(key) else (key, CONVERTOR_TYPES[key].regex, CONVERTOR_TYPES[key]) for key in checked]


def _refuse(status: int, detail: str) -> Callable[[Any], Any]:
    """The endpoint of the requests the router refuses with `status`: raises the
    `HTTPException` Starlette's router raises, for the HTTP middleware and exception handlers
    to see (the router adds `Allow` to a `405`)."""

    async def refuse(req: Any) -> Any:
        raise HTTPException(status, detail)

    return refuse


def _announce(listener: Listener, workers: int) -> None:
    host, port = listener.address
    shown = f"[{host}]" if ":" in host else host
    plural = "es" if workers > 1 else ""
    print(f"armature: serving on http://{shown}:{port} ({workers} process{plural}, pid {os.getpid()})", flush=True)


def _supervise(children: list[int]) -> int:
    """The parent of the workers: forwards SIGINT/SIGTERM, waits for them all and returns how
    many failed (so the parent's own exit status says so to a supervisor)."""

    def forward(signum: int, _frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = 0
    try:
        remaining = set(children)
        while remaining:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            remaining.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0:
                failed += 1
                logger.error("worker %d exited with status %d", pid, os.waitstatus_to_exitcode(status))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return failed
