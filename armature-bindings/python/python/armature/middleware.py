"""The preset layers, configured from Python and run in Rust.

The stack is always, from the outside in: request id → logger → CORS → router, whatever
order `add_middleware` is called in. Request ids are always on (`x-request-id` on every
response, `req.request_id` in handlers); the logger and CORS when added.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

from ._armature import HttpRequest, HttpResponse
from ._runtime import error
from .exceptions import HTTPException, RequestValidationError
from .requests import Request, native


class CORSMiddleware:
    """Cross-origin resource sharing, by Armature's Rust CORS layer (Fetch-standard
    preflights, answered by the layer with 204). `"*"` in a list means any. Combinations
    browsers would reject (a wildcard with `allow_credentials=True`, say) are a `ValueError`
    when the app is built, where Starlette would silently mirror the origin."""

    def __init__(
        self,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: Optional[int] = 600,
    ) -> None:
        self.options: dict[str, Any] = {
            "allow_origins": list(allow_origins),
            "allow_methods": list(allow_methods),
            "allow_headers": list(allow_headers),
            "allow_credentials": bool(allow_credentials),
            "expose_headers": list(expose_headers),
            "max_age": max_age,
        }


class LoggerMiddleware:
    """One access-log line per request (target `armature::access`, to stderr) by the Rust
    logger layer: method, route template, status, latency, size, request id, peer.
    `format` is `"text"` or `"json"`; `ARMATURE_LOG` (or `RUST_LOG`) filters, default `info`."""

    def __init__(self, level: str = "info", format: str = "text") -> None:
        self.level = level
        self.format = format


def wrapped(endpoint: Callable[[HttpRequest], Any], middleware: Sequence[Callable[..., Any]], app: Any = None) -> Callable[[HttpRequest], Any]:
    """`endpoint` inside the app's `@app.middleware("http")` functions, the last added
    outermost, as Starlette stacks them. Each is handed a `Request` (of `app`)."""
    for func in middleware:
        endpoint = _around(endpoint, func, app)
    return endpoint


def _around(endpoint: Callable[[HttpRequest], Any], func: Callable[..., Any], app: Any) -> Callable[[HttpRequest], Any]:
    async def with_middleware(request: HttpRequest) -> Any:
        answered: list[HttpResponse] = []

        async def call_next(request: Any) -> HttpResponse:
            try:
                result = endpoint(native(request))
                if inspect.isawaitable(result):
                    result = await result
            except (HTTPException, RequestValidationError) as exc:
                # Their answers, as Starlette's exception middleware (inside this one) gives them.
                return error(exc)
            res = result if isinstance(result, HttpResponse) else HttpResponse.json(result)
            answered.append(res)
            return res

        answer = func(Request(request, app), call_next)
        if inspect.isawaitable(answer):
            answer = await answer
        # A response of the middleware's own still runs the handler's background tasks, as
        # in Starlette (where they run once the handler's response is read).
        if answered and isinstance(answer, HttpResponse) and answer is not answered[0]:
            inner = answered[0].background
            if inner is not None and answer.background is None:
                answer.background = inner
        return answer

    return with_middleware
