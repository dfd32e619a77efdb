"""The preset layers, configured from Python and run in Rust.

The stack is always, from the outside in: request id → logger → CORS → router, whatever
order `add_middleware` is called in. Request ids are always on (`x-request-id` on every
response, `req.request_id` in handlers); the logger and CORS when added.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence
from urllib.parse import quote

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


class GZipMiddleware:
    """Starlette's `GZipMiddleware`, by tower-http's compression layer in Rust: answers of
    `minimum_size` bytes or more are gzipped (at `compresslevel`, 1 to 9) for clients whose
    `Accept-Encoding` allows it, with `Vary: Accept-Encoding`; images, gRPC, event streams
    and `206` ranges (a `FileResponse`'s) are sent as they are. A `compresslevel` outside 1
    to 9 is a `ValueError`."""

    def __init__(self, minimum_size: int = 500, compresslevel: int = 9) -> None:
        if not isinstance(minimum_size, int) or minimum_size < 0:
            raise ValueError(f"GZipMiddleware(minimum_size=...): a number of bytes, 0 or more, got {minimum_size!r}")
        if not isinstance(compresslevel, int) or not 1 <= compresslevel <= 9:
            raise ValueError(f"GZipMiddleware(compresslevel=...): 1 to 9, got {compresslevel!r}")
        self.minimum_size = min(minimum_size, 2**32 - 1)
        self.compresslevel = compresslevel


class LoggerMiddleware:
    """One access-log line per request (target `armature::access`, to stderr) by the Rust
    logger layer: method, route template, status, latency, size, request id, peer.
    `format` is `"text"` or `"json"`; `ARMATURE_LOG` (or `RUST_LOG`) filters, default `info`."""

    def __init__(self, level: str = "info", format: str = "text") -> None:
        self.level = level
        self.format = format


class BaseHTTPMiddleware:
    """Starlette's `BaseHTTPMiddleware`: subclass it, write `async def dispatch(self, request,
    call_next)` as an `@app.middleware("http")` function, and add it with
    `app.add_middleware(MyMiddleware, **options)` (it is made with the app first, then the
    options, as in Starlette). `BaseHTTPMiddleware(app, dispatch=f)` wraps a function.

    ```python
    import time
    from armature import App
    from armature.middleware import BaseHTTPMiddleware

    class Timing(BaseHTTPMiddleware):
        def __init__(self, app, header: str = "X-Process-Time") -> None:
            super().__init__(app)
            self.header = header

        async def dispatch(self, request, call_next):
            start = time.perf_counter()
            response = await call_next(request)
            response.headers[self.header] = f"{time.perf_counter() - start:.6f}"
            return response

    app = App()
    app.add_middleware(Timing, header="X-Time")
    ```
    """

    def __init__(self, app: Any = None, dispatch: Optional[Callable[..., Any]] = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def dispatch(self, request: Any, call_next: Callable[[Any], Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: override dispatch(self, request, call_next)")


class TrustedHostMiddleware(BaseHTTPMiddleware):
    """Starlette's `TrustedHostMiddleware`: a request whose `Host` is not one of
    `allowed_hosts` (exact names, `*.example.com` for subdomains, `*` for any) gets
    `400 Invalid host header`. With `www_redirect` (the default), a request for `example.com`
    when only `www.example.com` is allowed is redirected there."""

    def __init__(self, app: Any = None, allowed_hosts: Optional[Sequence[str]] = None, www_redirect: bool = True) -> None:
        super().__init__(app)
        hosts = list(allowed_hosts or ["*"])
        for pattern in hosts:
            if "*" in pattern[1:] or (pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")):
                raise ValueError(f"TrustedHostMiddleware: a wildcard is '*' or a leading '*.', got {pattern!r}")
        self.allowed_hosts = [pattern.lower() for pattern in hosts]
        self.allow_any = "*" in hosts
        self.www_redirect = www_redirect

    def _allowed(self, host: str) -> bool:
        return any(host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])) for pattern in self.allowed_hosts)

    async def dispatch(self, request: Any, call_next: Callable[[Any], Any]) -> Any:
        if self.allow_any:
            return await call_next(request)
        # The host the request's URL names (`:authority` over HTTP/2, else `Host`): the one
        # `request.url` and `url_for` build links with.
        host = (request.url.hostname or "").lower()
        if self._allowed(host):
            return await call_next(request)
        if self.www_redirect and f"www.{host}" in self.allowed_hosts:
            url = request.url
            netloc = f"www.{url.netloc}"
            query = f"?{url.query}" if url.query else ""
            # `url.path` is decoded: encoded again, so a space or a CR/LF sent as `%20` or
            # `%0D%0A` is a valid Location, not a broken or split header.
            path = quote(url.path, safe="/!$&'()*+,;=:@-._~")
            return HttpResponse(b"", status=307, headers={"location": f"{url.scheme}://{netloc}{path}{query}"})
        return HttpResponse.text("Invalid host header", status=400)


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
            # A `FileResponse` has answered a `Range` header by now in Starlette: the
            # middleware sees its `206` (or `416`, `400`).
            res._answer_range(native(request))
            answered.append(res)
            return res

        answer = func(Request(request, app), call_next)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, HttpResponse):
            # As in Starlette, where the server could not send it: a 500, and the reason logged.
            name = getattr(func, "__qualname__", repr(func))
            raise TypeError(f"HTTP middleware {name} returned {type(answer).__name__}, not a response: return `await call_next(request)` or a Response")
        # A response of the middleware's own still runs the handler's background tasks, as
        # in Starlette (where they run once the handler's response is read).
        if answered and answer is not answered[0]:
            inner = answered[0].background
            if inner is not None and answer.background is None:
                answer.background = inner
        return answer

    return with_middleware
