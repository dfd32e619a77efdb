"""`@app.exception_handler(SomeError)`: turning what handlers raise into answers, as FastAPI's
exception handlers do.

```python
from armature import App, HttpResponse, Request

class OutOfStock(Exception):
    def __init__(self, item: str) -> None:
        self.item = item

app = App()

@app.exception_handler(OutOfStock)
async def out_of_stock(request: Request, exc: OutOfStock) -> HttpResponse:
    return HttpResponse.json({"detail": f"{exc.item} is out of stock"}, status=409)
```

A handler gets the request as a `Request` (`armature.requests`), as Starlette's do:
`await request.body()` reads what was sent. `http_exception_handler` and
`request_validation_exception_handler` are the default answers, as FastAPI's, for a handler
of yours to end with (`return await http_exception_handler(request, exc)`).
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Union

from ._armature import HttpRequest
from .exceptions import HTTPException, RequestValidationError
from ._runtime import error, unhandled
from .requests import Request

Handler = Callable[[HttpRequest, Any], Union[Any, Awaitable[Any]]]

# Answered by their own handlers unless one is registered for the class itself or a subclass:
# a handler for `Exception` does not take them over (as in FastAPI, where they have defaults).
_WITH_DEFAULTS = (HTTPException, RequestValidationError)


async def http_exception_handler(request: Any, exc: HTTPException) -> Any:
    """FastAPI's answer to an `HTTPException`: its status, `{"detail": ...}` and headers."""
    return error(exc)


async def request_validation_exception_handler(request: Any, exc: RequestValidationError) -> Any:
    """FastAPI's answer to a `RequestValidationError`: `422` and `{"detail": exc.errors()}`."""
    return error(exc)


class ExceptionHandlers:
    """The handlers of an app, by exception class."""

    def __init__(self) -> None:
        self.handlers: dict[type, Handler] = {}
        # By status code (`@app.exception_handler(404)`): for an `HTTPException` of that
        # status, before any by class, as in Starlette.
        self.by_status: dict[int, Handler] = {}

    def add(self, exc_class: Any, handler: Handler) -> None:
        if isinstance(exc_class, int) and not isinstance(exc_class, bool):
            if not 400 <= exc_class <= 599:
                raise ValueError(f"an exception handler's status code is an error status (400 to 599), not {exc_class}")
            self.by_status[exc_class] = handler
            return
        if not (inspect.isclass(exc_class) and issubclass(exc_class, Exception)):
            raise TypeError(f"an exception handler is for a subclass of Exception or an error status code, not {exc_class!r}")
        if not callable(handler):
            raise TypeError(f"the handler for {exc_class.__name__} must be callable (request, exc) -> response, got {handler!r}")
        self.handlers[exc_class] = handler

    def lookup(self, exc: BaseException) -> Any:
        """The handler for `exc`: the one of its status code for an `HTTPException`, else the
        one of its nearest class that has one, else a `500` handler for any other exception."""
        if self.by_status and isinstance(exc, HTTPException):
            handler = self.by_status.get(exc.status_code)
            if handler is not None:
                return HTTPException, handler
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return cls, handler
            if cls in _WITH_DEFAULTS:
                return None
        # As Starlette: a `500` handler answers what nothing else did, as one for `Exception`.
        handler = self.by_status.get(500)
        return None if handler is None else (Exception, handler)

    def shape_http_errors(self) -> bool:
        """Whether a handler may answer the router's `404` or `405`: one registered for their
        status codes, or for `HTTPException` itself (or a base of it other than `Exception`)."""
        return bool(self.by_status.keys() & {404, 405}) or any(cls is not Exception and issubclass(HTTPException, cls) for cls in self.handlers)

    def catch_all(self, endpoint: Callable[[HttpRequest], Any], app: Any = None) -> Callable[[HttpRequest], Any]:
        """`endpoint` (the HTTP middleware around the guarded handler) inside the handler for
        `Exception` (or `500`), if any, as Starlette's `ServerErrorMiddleware`: what the
        middleware or another exception handler raises is answered by it too (and logged)."""
        handler = self.handlers.get(Exception) or self.by_status.get(500)
        if handler is None:
            return endpoint

        async def caught(req: HttpRequest) -> Any:
            try:
                return await _settled(endpoint(req))
            except _WITH_DEFAULTS:
                raise
            except Exception as exc:  # noqa: BLE001 - answered by the catch-all
                unhandled(exc)
                return await _settled(handler(Request(req, app), exc))

        return caught

    def guard(self, endpoint: Callable[[HttpRequest], Any], app: Any = None) -> Callable[[HttpRequest], Any]:
        """`endpoint`, with what it raises given to the matching handler, with a `Request`
        (of `app`) as Starlette's handlers get."""
        if not self.handlers and not self.by_status:
            return endpoint

        async def guarded(req: HttpRequest) -> Any:
            try:
                return await _settled(endpoint(req))
            except Exception as exc:  # noqa: BLE001 - looked up, re-raised when unhandled
                found = self.lookup(exc)
                if found is None:
                    raise
                cls, handler = found
                if cls is Exception:
                    # A catch-all answers, and the failure is still logged (as Starlette does).
                    unhandled(exc)
                return await _settled(handler(Request(req, app), exc))

        return guarded


async def _settled(value: Any) -> Any:
    """`value`, awaited if it is awaitable (a handler may be sync or async)."""
    return await value if inspect.isawaitable(value) else value
