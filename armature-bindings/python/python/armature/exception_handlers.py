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
`await request.body()` reads what was sent.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Awaitable, Callable, Union

from ._armature import HttpRequest
from .exceptions import HTTPException, RequestValidationError
from .requests import Request

logger = logging.getLogger("armature")

Handler = Callable[[HttpRequest, Any], Union[Any, Awaitable[Any]]]

# Answered by their own handlers unless one is registered for the class itself or a subclass:
# a handler for `Exception` does not take them over (as in FastAPI, where they have defaults).
_WITH_DEFAULTS = (HTTPException, RequestValidationError)


class ExceptionHandlers:
    """The handlers of an app, by exception class."""

    def __init__(self) -> None:
        self.handlers: dict[type, Handler] = {}

    def add(self, exc_class: Any, handler: Handler) -> None:
        if isinstance(exc_class, int):
            raise TypeError(
                f"exception handlers are registered by exception class, not status code ({exc_class}): "
                "Armature's router answers 404 and 405 in Rust; register HTTPException to shape raised ones"
            )
        if not (inspect.isclass(exc_class) and issubclass(exc_class, Exception)):
            raise TypeError(f"an exception handler is for a subclass of Exception, not {exc_class!r}")
        if not callable(handler):
            raise TypeError(f"the handler for {exc_class.__name__} must be callable (request, exc) -> response, got {handler!r}")
        self.handlers[exc_class] = handler

    def lookup(self, exc: BaseException) -> Any:
        """The handler for `exc`: the one of its nearest class that has one."""
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return cls, handler
            if cls in _WITH_DEFAULTS:
                return None
        return None

    def guard(self, endpoint: Callable[[HttpRequest], Any], app: Any = None) -> Callable[[HttpRequest], Any]:
        """`endpoint`, with what it raises given to the matching handler, with a `Request`
        (of `app`) as Starlette's handlers get."""
        if not self.handlers:
            return endpoint

        async def guarded(req: HttpRequest) -> Any:
            try:
                result = endpoint(req)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except Exception as exc:  # noqa: BLE001 - looked up, re-raised when unhandled
                found = self.lookup(exc)
                if found is None:
                    raise
                cls, handler = found
                if cls is Exception:
                    # A catch-all answers, and the failure is still logged (as Starlette does).
                    logger.error("Exception in a request handler", exc_info=(type(exc), exc, exc.__traceback__))
                answer = handler(Request(req, app), exc)
                if inspect.isawaitable(answer):
                    answer = await answer
                return answer

        return guarded
