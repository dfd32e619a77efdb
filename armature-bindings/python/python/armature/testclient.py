"""`TestClient`: requests through the whole Rust stack (layers, router, handlers), without
a socket, for pytest suites.

```python
from armature.testclient import TestClient

def test_user():
    with TestClient(app) as client:          # runs startup / shutdown hooks
        res = client.get("/users/7")
        assert res.status_code == 200
        assert res.json() == {"id": "7", "name": "Alice"}
```
"""

from __future__ import annotations

import asyncio
import base64
import io
import json as _json
import mimetypes
import os
import threading
import time
import uuid
import weakref
import zlib
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any, Iterator, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode, urljoin, urlsplit

from . import _runtime
from .app import App
from .websockets import WebSocketDisconnect


# Request headers: a mapping, or (name, value) pairs to send a name more than once; names and
# values `str` or `bytes`, as httpx takes them.
HeaderFields = Union[Mapping[Union[str, bytes], Union[str, bytes]], Sequence[Tuple[Union[str, bytes], Union[str, bytes]]]]

# `files=`: by field name, a file as httpx takes one: its bytes (or a binary file object),
# or `(filename, bytes or file[, content type])`.
Files = Union[Mapping[str, Any], Sequence[Tuple[str, Any]]]


# What httpx leaves as it is in a URL's path and query (the WHATWG percent-encode sets; `%`
# included, so escapes already there are kept); anything else is percent-encoded as UTF-8.
_QUERY_SAFE = "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) not in ' "#<>')
_PATH_SAFE = "".join(c for c in _QUERY_SAFE if c not in "?`{}")


def _encoded(url: str) -> tuple[str, str]:
    """The path (`/` when empty) and query of `url`, percent-encoded as httpx sends them."""
    parts = urlsplit(url)
    return quote(parts.path or "/", safe=_PATH_SAFE), quote(parts.query, safe=_QUERY_SAFE)


def _primitive(value: Any) -> Any:
    """A `params` or form value as httpx writes it: `None` empty, booleans `true` / `false`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _urlencoded(data: Any) -> str:
    """`params` or a form, a mapping (a list value sends a name more than once) or pairs,
    encoded as httpx encodes them."""
    pairs = data.items() if isinstance(data, Mapping) else data
    return urlencode(
        [(name, _primitive(v)) for name, value in pairs for v in (value if isinstance(value, (list, tuple)) else [value])]
    )


def _pairs(headers: Optional[HeaderFields]) -> list[tuple[str, str]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    return [(_text(name), _text(value)) for name, value in pairs]


def _text(field: Union[str, bytes]) -> str:
    """A header name or value as given, `bytes` decoded: the client sends text as UTF-8, so
    bytes that are not UTF-8 are refused rather than changed."""
    if not isinstance(field, (bytes, bytearray)):
        return field
    try:
        return bytes(field).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"header field {bytes(field)!r} is not UTF-8, which the TestClient sends") from None


def _multipart(data: Mapping[str, Any], files: Files) -> tuple[bytes, str]:
    """A `multipart/form-data` body of the fields `data` and the files `files`, and its
    content type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()

    def part(disposition: str, content: bytes, content_type: Optional[str] = None) -> None:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n".encode())
        if content_type is not None:
            out.write(f"Content-Type: {content_type}\r\n".encode())
        out.write(b"\r\n" + content + b"\r\n")

    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"')

    for name, values in data.items():
        for value in values if isinstance(values, (list, tuple)) else [values]:
            text = value if isinstance(value, (bytes, bytearray)) else str(_primitive(value)).encode()
            part(f'name="{quoted(name)}"', bytes(text))
    for name, file in files.items() if isinstance(files, Mapping) else files:
        # A file object alone is named after its file, as httpx names it.
        filename, content, content_type = os.path.basename(getattr(file, "name", None) or "upload"), file, None
        if isinstance(file, tuple):
            filename, content, *rest = file
            content_type = rest[0] if rest else None
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode()
        if content_type is None:
            content_type = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
        part(f'name="{quoted(name)}"; filename="{quoted(filename or "")}"', bytes(content), content_type)
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _decoded(content: bytes, headers: list[tuple[str, str]]) -> bytes:
    """`content` without the `gzip` / `deflate` content codings its headers name, as httpx
    hands it over (the `content-encoding` header is kept); another coding is left as it is."""
    codings = [c.strip().lower() for name, value in headers if name.lower() == "content-encoding" for c in value.split(",")]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            content = zlib.decompress(content, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            try:
                content = zlib.decompress(content)
            except zlib.error:
                content = zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some send
        elif coding != "identity":
            break
    return content


def _set_cookies(headers: list[tuple[str, str]]) -> Iterator[tuple[str, Optional[str]]]:
    """The cookies the `Set-Cookie` headers set, by name, with their values; `None` for those
    they delete (`Max-Age=0` or less, or an `Expires` in the past, as `delete_cookie` sends)."""
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(value)
        except CookieError:
            continue
        for key, morsel in cookie.items():
            expires = morsel["expires"]
            max_age = str(morsel["max-age"] or "").strip()
            gone = max_age.lstrip("-").isdigit() and int(max_age) <= 0
            if expires:
                try:
                    gone = gone or parsedate_to_datetime(expires).timestamp() <= time.time()
                except (TypeError, ValueError):
                    pass
            yield key, None if gone else morsel.value


class Headers(Mapping[str, str]):
    """Response headers, case-insensitive; repeated headers joined with `", "`."""

    def __init__(self, raw: list[tuple[str, str]]) -> None:
        self.raw = raw
        merged: dict[str, str] = {}
        for name, value in raw:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        self._merged = merged

    def __getitem__(self, name: str) -> str:
        return self._merged[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged)

    def __len__(self) -> int:
        return len(self._merged)

    def get_list(self, name: str) -> list[str]:
        return [v for n, v in self.raw if n.lower() == name.lower()]


class HTTPStatusError(Exception):
    """What `Response.raise_for_status()` raises for a 4xx or 5xx answer (httpx's name)."""

    def __init__(self, message: str, response: "Response") -> None:
        super().__init__(message)
        self.response = response


class Response:
    """What `TestClient` returns, as httpx's: `status_code`, `reason_phrase`, `headers`,
    `cookies`, `content`, `text`, `json()`, `url`, `is_success`, `is_redirect`, `is_error`,
    `raise_for_status()`."""

    def __init__(self, status_code: int, headers: list[tuple[str, str]], content: bytes, url: str = "") -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self.content = content
        self.url = url

    @property
    def reason_phrase(self) -> str:
        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies this response sets (not those it deletes), as httpx's."""
        return {key: value for key, value in _set_cookies(self.headers.raw) if value is not None}

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    def raise_for_status(self) -> "Response":
        """`HTTPStatusError` for a 4xx or 5xx answer; the response itself otherwise."""
        if self.is_error:
            kind = "Client error" if self.status_code < 500 else "Server error"
            raise HTTPStatusError(f"{kind} '{self.status_code} {self.reason_phrase}' for url '{self.url}'", self)
        return self

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


class TestClient:
    """Sends requests through `app`'s Rust stack; handlers run on the client's own event
    loop thread, as they would on a server's. Use it as a context manager to run the
    startup and shutdown hooks."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: App,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        headers: Optional[HeaderFields] = None,
        cookies: Optional[Mapping[str, str]] = None,
        follow_redirects: bool = True,
    ) -> None:
        """As Starlette's: an exception no handler answered (or only an `Exception` handler
        did) is raised in the test, unless `raise_server_exceptions=False` (then it is the
        `500` a client gets). `headers` go with every request; `cookies` start the client's
        cookie jar (`client.cookies`), which keeps what responses set, as a browser does."""
        self.app = app
        self.base_url = base_url
        self.raise_server_exceptions = raise_server_exceptions
        self.headers = _pairs(headers)
        self.cookies: dict[str, str] = dict(cookies or {})
        self.follow_redirects = follow_redirects
        self._engine = app.build_engine()
        self._loop = asyncio.new_event_loop()
        self._loop.add_reader(self._engine.fileno(), self._engine.drain)
        self._thread = threading.Thread(target=self._loop.run_forever, name="armature-testclient", daemon=True)
        self._thread.start()
        self._closed = False
        # The app on a loopback port, started by the first `websocket_connect`: the server's
        # handle and what is set once it has stopped.
        self._ws_server: Optional[tuple[Any, threading.Event]] = None
        # What the requests' handlers raised and nothing answered (see `_runtime.unhandled`).
        self._unhandled: list[BaseException] = []
        assert self._thread.ident is not None
        _runtime.sinks[self._thread.ident] = self._unhandled
        # Unhooked when the client is closed, or collected unclosed.
        weakref.finalize(self, _runtime.unhook, self._thread.ident, self._unhandled)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> "TestClient":
        self._run(self.app.startup())
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._run(self.app.shutdown())
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        if self._ws_server is not None:
            handle, stopped = self._ws_server
            handle.shutdown()
            stopped.wait(timeout=10)

        async def settle() -> None:
            from ._runtime import _tasks

            if _tasks:
                await asyncio.wait(list(_tasks), timeout=5)
            self._loop.remove_reader(self._engine.fileno())

        try:
            self._run(settle())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            if self._thread.ident is not None:
                _runtime.unhook(self._thread.ident, self._unhandled)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        headers: Optional[HeaderFields] = None,
        json: Any = None,
        content: Union[bytes, str, None] = None,
        data: Optional[Mapping[str, Any]] = None,
        files: Optional[Files] = None,
        cookies: Optional[Mapping[str, str]] = None,
        follow_redirects: Optional[bool] = None,
        auth: Optional[Tuple[Union[str, bytes], Union[str, bytes]]] = None,
        timeout: Any = None,
    ) -> Response:
        """Sends one request through the stack. `data` is sent as a form
        (`application/x-www-form-urlencoded`), or with `files` as `multipart/form-data`, as
        httpx does: `files={"doc": ("notes.txt", b"...", "text/plain")}` (the content type
        may be left out; a list of `(name, file)` pairs sends a name more than once).
        `cookies` go with this request besides the client's jar. `auth=(user, password)` sends
        HTTP Basic credentials, as httpx does; `timeout` is accepted and unused (nothing here
        waits on a network).
        Redirects are followed (as Starlette's TestClient does; `follow_redirects=False` not),
        up to 20: `307`/`308` with the same method and body, the others as a `GET`."""
        if follow_redirects is None:
            follow_redirects = self.follow_redirects
        headers = [*self.headers, *_pairs(headers)]
        if auth is not None:
            if not (isinstance(auth, tuple) and len(auth) == 2):
                raise TypeError(f"auth: a (username, password) tuple, not {auth!r}")
            user, password = (part.encode() if isinstance(part, str) else bytes(part) for part in auth)
            credentials = base64.b64encode(user + b":" + password).decode()
            headers = [(name, value) for name, value in headers if name.lower() != "authorization"]
            headers.append(("authorization", f"Basic {credentials}"))
        if files is not None:
            body, content_type = _multipart(data or {}, files)
            headers = [("content-type", content_type), *headers]
            content, data = body, None
        res = self._send(method, url, params=params, headers=headers, json=json, content=content, data=data, cookies=cookies)
        for _ in range(20):
            location = res.headers.get("location")
            if not follow_redirects or res.status_code not in (301, 302, 303, 307, 308) or location is None:
                return res
            if res.status_code not in (307, 308):
                method, json, content, data = "GET", None, None, None
                # The body is gone, and what said what it was.
                headers = [(name, value) for name, value in headers if name.lower() not in ("content-type", "content-length")]
            # A relative `Location` is resolved against the URL it came from, as httpx does.
            res = self._send(method, urljoin(res.url, location), params=None, headers=headers, json=json, content=content, data=data, cookies=cookies)
        raise RuntimeError(f"more than 20 redirects from {url}")

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]],
        headers: Optional[HeaderFields],
        json: Any,
        content: Union[bytes, str, None],
        data: Optional[Mapping[str, Any]],
        cookies: Optional[Mapping[str, str]],
    ) -> Response:
        # Relative to the base URL, with `.` and `..` segments resolved, as httpx sends it.
        target, query = _encoded(urljoin(f"{self.base_url.rstrip('/')}/", url))
        if params:
            extra = _urlencoded(params)
            query = f"{query}&{extra}" if query else extra
        if query:
            target = f"{target}?{query}"
        host = urlsplit(self.base_url).netloc or "testserver"
        # What Starlette's client (httpx) sends unless told otherwise.
        sent: dict[str, str] = {"host": host, "accept": "*/*", "accept-encoding": "gzip, deflate", "connection": "keep-alive", "user-agent": "testclient"}
        body = b""
        if json is not None:
            from ._armature import dumps

            body = dumps(json)
            sent["content-type"] = "application/json"
        elif data is not None:
            body = _urlencoded(data).encode()
            sent["content-type"] = "application/x-www-form-urlencoded"
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        if body:
            sent["content-length"] = str(len(body))
        given = [(name.lower(), value) for name, value in _pairs(headers)]
        # The jar (as it is now: a redirect's cookies go with the request that follows it)
        # and this request's own, unless a `Cookie` header is given.
        self._add_cookies(given, cookies)
        # A header given replaces the one made here; a name given twice is sent twice.
        fields = [(name, value) for name, value in sent.items() if all(name != g for g, _ in given)] + given
        verb = method.upper()
        self._unhandled.clear()
        # As Starlette's client: the background tasks the request started have run when it
        # returns (they start before its response ends), and what they raised is raised here.
        fence = next(_runtime.background_numbers)
        # The app sees the base URL's scheme (`https://...`: `request.url.is_secure`), as the
        # absolute form of the target carries it.
        scheme = urlsplit(self.base_url).scheme or "http"
        sent_target = target if scheme == "http" else f"{scheme}://{host}{target}"
        status, raw_headers, content_bytes = self._engine.request(verb, sent_target, fields, body)
        self._run(self._background_done(fence))
        if self._unhandled and self.raise_server_exceptions:
            raise self._unhandled[0]
        self._keep_cookies(raw_headers)
        if verb == "HEAD":
            content_bytes = b""
        elif status in (204, 304) or status < 200:
            # What a server sends: no body, and no length for one (RFC 9110 §8.6, §15.4.5).
            content_bytes = b""
            raw_headers = [(name, value) for name, value in raw_headers if name.lower() != "content-length"]
        else:
            content_bytes = _decoded(content_bytes, raw_headers)
        return Response(status, raw_headers, content_bytes, f"{self.base_url.rstrip('/')}{target}")

    async def _background_done(self, fence: int) -> None:
        """Waits for this loop's background tasks numbered after `fence`: those started while
        the request ran (and, with requests sent at once from several threads, theirs)."""
        while pending := [t for t, n in tuple(_runtime.background_tasks.items()) if n > fence and t.get_loop() is self._loop and not t.done()]:
            await asyncio.wait(pending)

    def _add_cookies(self, given: list[tuple[str, str]], cookies: Optional[Mapping[str, str]]) -> None:
        """Adds the `Cookie` header of the jar and of `cookies` to the header fields `given`,
        unless they have one."""
        jar = {**self.cookies, **(cookies or {})}
        if jar and all(name != "cookie" for name, _ in given):
            given.append(("cookie", "; ".join(f"{name}={value}" for name, value in jar.items())))

    def _keep_cookies(self, raw_headers: list[tuple[str, str]]) -> None:
        """Keeps the cookies a response sets in the jar; drops those it deletes."""
        for key, value in _set_cookies(raw_headers):
            if value is None:
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = value

    def websocket_connect(
        self,
        url: str,
        subprotocols: Optional[Sequence[str]] = None,
        *,
        headers: Optional[HeaderFields] = None,
        cookies: Optional[Mapping[str, str]] = None,
    ) -> "WebSocketTestSession":
        """Opens a WebSocket to the app, as Starlette's: use the session as a context manager
        (`with client.websocket_connect("/ws") as ws: ws.send_text("hi")`). It is a real
        connection (the app served on a loopback port, a real client), so the handshake, the
        frames and the closing handshake are the ones a browser gets. A handshake the app
        refuses raises `WebSocketDisconnect` (a close before `accept`, with its code) or
        `WebSocketDenialResponse` (any other HTTP answer); an exception the handler raised
        is raised here (unless `raise_server_exceptions=False`)."""
        from ._armature import WebSocketClient

        host, port = self._websocket_server()
        path, query = _encoded(url)
        target = f"{path}?{query}" if query else path
        # The app sees the client's base URL's host (`ws://testserver/...`), as in Starlette.
        given = [("host", urlsplit(self.base_url).netloc or "testserver")]
        given += [(name.lower(), value) for name, value in [*self.headers, *_pairs(headers)]]
        # The handler tells when it is done (see `WebSocketTestSession.__exit__`).
        session = uuid.uuid4().hex
        done = _runtime.websocket_sessions[session] = threading.Event()
        given.append(("x-armature-test-session", session))
        self._add_cookies(given, cookies)
        self._unhandled.clear()
        connected = WebSocketClient.connect(f"ws://{host}:{port}{target}", given, list(subprotocols or ()))
        if isinstance(connected, tuple):
            status, raw_headers, body = connected
            # Refused: what the handler raised (if it ran) was recorded before its answer.
            _runtime.websocket_sessions.pop(session, None)
            self._raise_unhandled()
            refused = Response(status, raw_headers, body, f"ws://{host}:{port}{target}")
            if status == 403:
                try:
                    code = refused.json().get("code")
                except ValueError:
                    code = None
                if isinstance(code, int):
                    raise WebSocketDisconnect(code, refused.json().get("reason"))
            raise WebSocketDenialResponse(refused)
        return WebSocketTestSession(connected, self, done)

    def _websocket_server(self) -> tuple[str, int]:
        """The app served on a loopback port (started on first use, stopped by `close`)."""
        if self._ws_server is None:
            from ._armature import Listener

            stopped = threading.Event()
            handle = self._engine.serve(Listener("127.0.0.1", 0), lambda _error: stopped.set(), threads=1, shutdown_timeout=5.0)
            self._ws_server = (handle, stopped)
        host, port = self._ws_server[0].address
        return host, port

    def _raise_unhandled(self) -> None:
        """Raises the first exception the app's handlers raised and nothing answered."""
        if self._unhandled and self.raise_server_exceptions:
            exc = self._unhandled[0]
            self._unhandled.clear()
            raise exc

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)


class WebSocketDenialResponse(WebSocketDisconnect):
    """The app answered a `websocket_connect` handshake with HTTP (a `404`, an
    `HTTPException`'s status, a `500`): `response` is that answer (`status_code`, `headers`,
    `json()`, ...), as Starlette's."""

    def __init__(self, response: Response) -> None:
        super().__init__(1006, f"refused with {response.status_code}")
        self.response = response

    def __getattr__(self, name: str) -> Any:
        # The response's `status_code`, `headers`, `content`, `text`, `json()`, ...
        if name == "response":
            raise AttributeError(name)
        return getattr(self.response, name)


class WebSocketTestSession:
    """One WebSocket to the app (`TestClient.websocket_connect`), as Starlette's test session:
    `send_text`, `send_bytes`, `send_json`, `receive_text`, `receive_bytes`, `receive_json`,
    `receive()` and `close()`. Receiving after the app closed raises `WebSocketDisconnect`
    with its code; the app's unhandled exception is raised instead, as in Starlette."""

    __test__ = False

    def __init__(self, client: Any, test_client: TestClient, handler_done: threading.Event) -> None:
        self._client = client
        self._test_client = test_client
        self._handler_done = handler_done
        self._closed = False

    @property
    def accepted_subprotocol(self) -> Optional[str]:
        return self._client.subprotocol

    def __enter__(self) -> "WebSocketTestSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        """Closes, waits for the app's handler to finish (its cleanup after the disconnect
        included) and raises what it raised, as Starlette's session does."""
        self.close()
        if not self._handler_done.wait(timeout=10):
            raise TimeoutError("the app's WebSocket handler did not finish within 10 s of the close")
        if exc[0] is None:
            self._test_client._raise_unhandled()

    def send_text(self, data: str) -> None:
        self._client.send(str(data))

    def send_bytes(self, data: bytes) -> None:
        self._client.send(bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = _json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._client.send(text if mode == "text" else text.encode())

    def receive(self) -> dict[str, Any]:
        """The next message: `{"type": "websocket.send", "text": ...}` (or `"bytes"`), or
        `{"type": "websocket.close", "code": ..., "reason": ...}` once the app closed."""
        event = self._client.receive()
        if event[0] == "close":
            self._closed = True
            return {"type": "websocket.close", "code": event[1], "reason": event[2]}
        return {"type": "websocket.send", event[0]: event[1]}

    def _message(self) -> dict[str, Any]:
        message = self.receive()
        if message["type"] == "websocket.close":
            self._test_client._raise_unhandled()
            raise WebSocketDisconnect(message["code"], message["reason"])
        return message

    def receive_text(self) -> str:
        message = self._message()
        if "text" not in message:
            raise TypeError("expected a text message, got a binary one")
        return message["text"]

    def receive_bytes(self) -> bytes:
        message = self._message()
        if "bytes" not in message:
            raise TypeError("expected a binary message, got a text one")
        return message["bytes"]

    def receive_json(self, mode: str = "text") -> Any:
        message = self._message()
        data = message.get("text") if mode == "text" else message.get("bytes")
        if data is None:
            raise TypeError(f"expected a {mode} message")
        return _json.loads(data)

    def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Closes (and waits for the app's close in return); once only."""
        if not self._closed:
            self._closed = True
            self._client.close(code, reason or "")
