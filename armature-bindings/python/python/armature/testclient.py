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
import io
import json as _json
import mimetypes
import os
import threading
import uuid
from typing import Any, Iterator, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode, urlsplit

from .app import App


# Request headers: a mapping, or (name, value) pairs to send a name more than once.
HeaderFields = Union[Mapping[str, str], Sequence[Tuple[str, str]]]

# `files=`: by field name, a file as httpx takes one: its bytes (or a binary file object),
# or `(filename, bytes or file[, content type])`.
Files = Union[Mapping[str, Any], Sequence[Tuple[str, Any]]]


def _pairs(headers: Optional[HeaderFields]) -> list[tuple[str, str]]:
    return list(headers.items() if isinstance(headers, Mapping) else headers or ())


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
            text = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
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


class Response:
    """What `TestClient` returns: `status_code`, `headers`, `content`, `text`, `json()`."""

    def __init__(self, status_code: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self.content = content

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

    def __init__(self, app: App, base_url: str = "http://testserver") -> None:
        self.app = app
        self.base_url = base_url
        self._engine = app.build_engine()
        self._loop = asyncio.new_event_loop()
        self._loop.add_reader(self._engine.fileno(), self._engine.drain)
        self._thread = threading.Thread(target=self._loop.run_forever, name="armature-testclient", daemon=True)
        self._thread.start()
        self._closed = False

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
        follow_redirects: bool = True,
    ) -> Response:
        """Sends one request through the stack. `data` is sent as a form
        (`application/x-www-form-urlencoded`), or with `files` as `multipart/form-data`, as
        httpx does: `files={"doc": ("notes.txt", b"...", "text/plain")}` (the content type
        may be left out; a list of `(name, file)` pairs sends a name more than once).
        Redirects are followed (as Starlette's TestClient does), up to 20: `307`/`308` with
        the same method and body, the others as a `GET`."""
        if files is not None:
            body, content_type = _multipart(data or {}, files)
            headers = [("content-type", content_type), *_pairs(headers)]
            content, data = body, None
        res = self._send(method, url, params=params, headers=headers, json=json, content=content, data=data)
        for _ in range(20):
            location = res.headers.get("location")
            if not follow_redirects or res.status_code not in (301, 302, 303, 307, 308) or location is None:
                return res
            if res.status_code not in (307, 308):
                method, json, content, data = "GET", None, None, None
            res = self._send(method, location, params=None, headers=headers, json=json, content=content, data=data)
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
    ) -> Response:
        parts = urlsplit(url)
        target = parts.path or "/"
        query = parts.query
        if params:
            extra = urlencode(params, doseq=True)
            query = f"{query}&{extra}" if query else extra
        if query:
            target = f"{target}?{query}"
        host = urlsplit(self.base_url).netloc or "testserver"
        sent: dict[str, str] = {"host": host}
        body = b""
        if json is not None:
            from ._armature import dumps

            body = dumps(json)
            sent["content-type"] = "application/json"
        elif data is not None:
            body = urlencode(data, doseq=True).encode()
            sent["content-type"] = "application/x-www-form-urlencoded"
        elif content is not None:
            body = content.encode() if isinstance(content, str) else bytes(content)
        if body:
            sent["content-length"] = str(len(body))
        given = [(name.lower(), value) for name, value in _pairs(headers)]
        # A header given replaces the one made here; a name given twice is sent twice.
        fields = [(name, value) for name, value in sent.items() if all(name != g for g, _ in given)] + given
        status, raw_headers, content_bytes = self._engine.request(method.upper(), target, fields, body)
        if status in (204, 304) or status < 200:
            # What a server sends: no body, and no length for one (RFC 9110 §8.6, §15.4.5).
            content_bytes = b""
            raw_headers = [(name, value) for name, value in raw_headers if name.lower() != "content-length"]
        return Response(status, raw_headers, content_bytes)

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
