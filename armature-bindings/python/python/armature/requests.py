"""`Request`: FastAPI's (Starlette's) request object, for handlers, dependencies and HTTP
middleware written against it: `await request.body()`, `await request.json()`,
`await request.form()`, `request.state`, `request.app`.

A parameter annotated `Request` gets one; a parameter annotated `HttpRequest` (or an
unannotated `req` / `request`) gets Armature's own request, whose `json()` and `text()` are
plain methods. Both read the same bytes: the body is in memory when the handler runs.

```python
from armature import App, Request

app = App()

@app.post("/echo")
async def echo(request: Request) -> dict:
    data = await request.json()
    return {"got": data, "path": request.url.path, "agent": request.headers.get("user-agent")}
```
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Optional

from ._armature import HttpRequest
from . import forms
from .datastructures import FormData


class Request:
    """The request, as Starlette's `Request`: `method`, `url`, `base_url`, `headers`, `query_params`,
    `path_params`, `cookies`, `client`, `state` (per request, shared with the middleware and
    dependencies), `app`, and the coroutines `body()`, `json()`, `form()`, `stream()` and
    `is_disconnected()`. Anything else is read from the `HttpRequest` it wraps (`route`,
    `request_id`, `param(name)`, ...).

    `json()` raises `json.JSONDecodeError` on a body that is not JSON (a `500` unless handled),
    as Starlette's does; `form()` answers `415` for a body that is not a form and `400` for
    a malformed one, as declared `Form()` parameters do."""

    __slots__ = ("_req", "_app", "_json", "_form")

    def __init__(self, req: HttpRequest, app: Any = None) -> None:
        self._req = req
        self._app = app
        self._json: Any = _UNREAD
        self._form: Optional[FormData] = None

    @property
    def app(self) -> Any:
        """The `App` serving the request (`request.app.state.pool`)."""
        if self._app is None:
            raise AttributeError("this request was not handed over by an App")
        return self._app

    @property
    def method(self) -> str:
        return self._req.method

    @property
    def url(self) -> Any:
        return self._req.url

    @property
    def headers(self) -> Any:
        return self._req.headers

    @property
    def query_params(self) -> Any:
        return self._req.query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self._req.path_params

    @property
    def cookies(self) -> dict[str, str]:
        return self._req.cookies

    @property
    def client(self) -> Any:
        return self._req.client

    @property
    def state(self) -> Any:
        return self._req.state

    @property
    def base_url(self) -> Any:
        """The app's URL, as Starlette's: `http://host/` (with `root_path`), no query."""
        url = self._req.url
        return type(url)(url.scheme, url.netloc, (getattr(self._app, "root_path", "") or "") + "/", "")

    def url_for(self, name: str, /, **path_params: Any) -> Any:
        """The absolute URL of the route (or mount) called `name`, as Starlette's:
        `request.url_for("get_user", user_id=7)`; `str()` of it is
        `http://host/users/7`. `NoMatchFound` when there is none."""
        path = self.app.url_path_for(name, **path_params)
        url = self._req.url
        root = getattr(self._app, "root_path", "") or ""
        return type(url)(url.scheme, url.netloc, root + path, "")

    async def body(self) -> bytes:
        """The body's bytes."""
        return bytes(self._req.body)

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in chunks (one here: it is already in memory), then `b""`, as Starlette's."""
        body = bytes(self._req.body)
        if body:
            yield body
        yield b""

    async def json(self) -> Any:
        """The body parsed as JSON (once; later calls return the same value)."""
        if self._json is _UNREAD:
            self._json = json.loads(bytes(self._req.body))
        return self._json

    async def form(self) -> FormData:
        """The body parsed as a form (`application/x-www-form-urlencoded` or
        `multipart/form-data`): each field's last value by `form[name]`, all by
        `form.getlist(name)`; file parts are `UploadFile`s."""
        if self._form is None:
            fields = forms.parse(self._req.header("content-type"), bytes(self._req.body))
            self._form = FormData([(name, value) for name, values in fields.items() for value in values])
        return self._form

    async def is_disconnected(self) -> bool:
        """Whether the client has gone before the answer."""
        return await self._req.is_disconnected()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._req, name)

    def __repr__(self) -> str:
        return f"<Request {self._req.method} {self._req.path}>"


_UNREAD = object()


def native(request: Any) -> HttpRequest:
    """The `HttpRequest` of `request` (a `Request` or an `HttpRequest`)."""
    return request._req if isinstance(request, Request) else request
