"""FastAPI's (Starlette's) response names, for code ported from FastAPI. Each makes an
`HttpResponse` (`isinstance(x, JSONResponse)` is not a thing here), with Starlette's
arguments: `content`, `status_code`, `headers`, `media_type`.

```python
from armature import App
from armature.responses import HTMLResponse, RedirectResponse

app = App()

@app.get("/old")
async def old():
    return RedirectResponse("/new")

@app.get("/page", response_class=HTMLResponse)
async def page() -> str:
    return "<h1>Hi</h1>"
```
"""

from __future__ import annotations

import mimetypes
import os
from email.utils import formatdate
from hashlib import md5
from secrets import token_hex
from stat import S_ISREG
from typing import Any, Generator, Mapping, Optional, Union
from urllib.parse import quote

from ._armature import HttpResponse

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]

Headers = Optional[Mapping[str, str]]


def _with(res: HttpResponse, background: Any) -> HttpResponse:
    """`res`, running `background` (Starlette's `background=`: a `BackgroundTasks` or
    `BackgroundTask`) once it is handed to the server."""
    if background is not None:
        res.background = background
    return res


def _typed(res: HttpResponse, media_type: Optional[str]) -> HttpResponse:
    """`res` sent as `media_type`; a text type naming no charset with UTF-8's, as Starlette."""
    if media_type is not None:
        res._set_media_type(media_type)
    return res


def Response(content: Union[str, bytes, None] = None, status_code: int = 200, headers: Headers = None, media_type: Optional[str] = None, background: Any = None) -> HttpResponse:  # noqa: N802 - Starlette's name
    """Bytes or text as they are (Starlette's `Response`)."""
    return _with(HttpResponse(b"" if content is None else content, status=status_code, headers=headers, media_type=media_type), background)


def JSONResponse(content: Any = None, status_code: int = 200, headers: Headers = None, media_type: Optional[str] = None, background: Any = None) -> HttpResponse:  # noqa: N802
    """`content` as JSON, written as every other answer is (NaN refused, models by alias)."""
    return _with(_typed(HttpResponse.json(content, status=status_code, headers=headers), media_type), background)


def HTMLResponse(content: str = "", status_code: int = 200, headers: Headers = None, media_type: Optional[str] = None, background: Any = None) -> HttpResponse:  # noqa: N802
    return _with(_typed(HttpResponse.html(content, status=status_code, headers=headers), media_type), background)


def PlainTextResponse(content: str = "", status_code: int = 200, headers: Headers = None, media_type: Optional[str] = None, background: Any = None) -> HttpResponse:  # noqa: N802
    return _with(_typed(HttpResponse.text(content, status=status_code, headers=headers), media_type), background)


def RedirectResponse(url: str, status_code: int = 307, headers: Headers = None, background: Any = None) -> HttpResponse:  # noqa: N802
    """A redirect to `url` (307 by default, as Starlette's), escaped as Starlette escapes it."""
    res = HttpResponse(b"", status=status_code, headers=headers)
    res.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")
    return _with(res, background)


def StreamingResponse(content: Any, status_code: int = 200, headers: Headers = None, media_type: Optional[str] = None, background: Any = None) -> HttpResponse:  # noqa: N802
    """`HttpResponse.stream`: an async iterable (read on the loop) or a plain one (read in
    the thread pool), of bytes or text."""
    return _with(HttpResponse.stream(content, status=status_code, headers=headers, media_type=media_type), background)


def FileResponse(  # noqa: N802
    path: Union[str, os.PathLike[str]],
    status_code: int = 200,
    headers: Headers = None,
    media_type: Optional[str] = None,
    filename: Optional[str] = None,
    content_disposition_type: str = "attachment",
    background: Any = None,
) -> HttpResponse:
    """The file at `path`, streamed in 64 KiB chunks from the thread pool; its type guessed
    from `filename` or the path (`application/octet-stream` when neither tells, as in
    Starlette 1.x); with `filename`, a `Content-Disposition` naming it unless `headers` has
    one. As Starlette's, it
    carries the file's `Content-Length`, `Last-Modified`, an `ETag` of its modification time
    and size, and `Accept-Ranges: bytes` (a file that changes size while it is sent is cut off,
    not sent short). A path that is not a file is a `RuntimeError` (so a 500), as in Starlette.

    As Starlette's (0.39 on), it answers a `GET` or `HEAD` with a `Range` header: `bytes=0-99`,
    `bytes=100-` or `bytes=-100` is a `206` with `Content-Range` and those bytes alone, read
    from the file at that offset; several ranges a `206` of `multipart/byteranges` (overlapping
    ones merged; more than 100 ignored). A header that is not `bytes=...`, names no range or a
    range that ends before it starts is a `400`; one that starts past the end of the file a
    `416` with `Content-Range: bytes */<size>`. An `If-Range` that is neither the `ETag` nor
    the `Last-Modified` (or a weak `W/` one) sends the whole file, `200`, as does any
    `status_code` but 200. The request's headers are read once the response is sent (after
    HTTP middleware, which sees the `200` made here). No `304`s, as in Starlette."""
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    if stat is None or not S_ISREG(stat.st_mode):
        raise RuntimeError(f"File at path {os.fspath(path)} does not exist.")
    if media_type is None:
        media_type = mimetypes.guess_type(filename or os.fspath(path))[0] or "application/octet-stream"
    body = _FileBody(path, stat.st_size)
    res = HttpResponse.stream(body, status=status_code, headers=headers, media_type=media_type, length=stat.st_size)
    given = res.headers
    if "accept-ranges" not in given:
        given["accept-ranges"] = "bytes"
    if "last-modified" not in given:
        given["last-modified"] = formatdate(stat.st_mtime, usegmt=True)
    if "etag" not in given:
        # Starlette's: a digest of the modification time and the size.
        given["etag"] = '"' + md5(f"{stat.st_mtime}-{stat.st_size}".encode(), usedforsecurity=False).hexdigest() + '"'
    if filename is not None:
        quoted = quote(filename)
        if quoted != filename:
            disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
        else:
            disposition = f'{content_disposition_type}; filename="{filename}"'
        if "content-disposition" not in given:
            given["content-disposition"] = disposition
    # Rust asks `body` for the ranges a request names when it sends the response (the request
    # is not known here); the headers set so far are the file's own.
    res._serve_file(body)
    return _with(res, background)


_CHUNK = 64 * 1024

# Starlette's `FileResponse.max_ranges`: a `Range` header naming more is ignored.
_MAX_RANGES = 100

_TEXT = "text/plain; charset=utf-8"


class _MalformedRange(Exception):
    """Starlette's `MalformedRangeHeader`: answered `400` with `content`."""

    def __init__(self, content: str = "Malformed range header.") -> None:
        self.content = content


class _Unsatisfiable(Exception):
    """Starlette's `RangeNotSatisfiable`: answered `416`."""


class _FileBody:
    """A `FileResponse`'s body (the iterable its stream reads in the thread pool): the whole
    file, or what `_ranged` decided a request's `Range` header asks for. Read once."""

    __slots__ = ("path", "size", "parts", "_reading")

    def __init__(self, path: Union[str, os.PathLike[str]], size: int) -> None:
        self.path = path
        self.size = size
        # `None`: the whole file; else the body in order: `bytes` as they are, `(start, end)`
        # the file's bytes from `start` up to `end`.
        self.parts: Optional[list[Union[bytes, tuple[int, int]]]] = None
        self._reading: Optional[Generator[bytes, None, None]] = None

    def __iter__(self) -> Generator[bytes, None, None]:
        self._reading = self._read()
        return self._reading

    def close(self) -> None:
        """Closes the file now, not when collected (a client that left before the end)."""
        if self._reading is not None:
            self._reading.close()

    def _read(self) -> Generator[bytes, None, None]:
        if self.parts is None:
            with open(self.path, "rb") as file:
                while chunk := file.read(_CHUNK):
                    yield chunk
            return
        file = None
        try:
            for part in self.parts:
                if isinstance(part, bytes):
                    yield part
                    continue
                start, end = part
                if file is None:
                    file = open(self.path, "rb")  # noqa: SIM115 - closed below
                file.seek(start)
                while start < end:
                    chunk = file.read(min(_CHUNK, end - start))
                    if not chunk:
                        # Shorter than it was: the server cuts the body off (its length is declared).
                        return
                    start += len(chunk)
                    yield chunk
        finally:
            if file is not None:
                file.close()

    def _ranged(self, http_range: str, if_range: Optional[str], etag: Optional[str], last_modified: Optional[str], content_type: Optional[str]) -> Optional[tuple[int, int, list[tuple[str, str]]]]:
        """Called by Rust for a `GET` or `HEAD` with `Range: http_range` (and `If-Range`, if
        any) to this response, still `200`, with these headers: `None` to send the whole file,
        else the status, the body's length and the headers to set (replacing those of the same
        name), and this body reads that answer. Starlette's `FileResponse.__call__`."""
        if if_range is not None and (if_range.startswith("W/") or if_range not in (last_modified, etag)):
            return None
        size = self.size
        try:
            ranges = _parse_range(http_range, size)
        except _MalformedRange as exc:
            text = exc.content.encode()
            self.parts = [text]
            return 400, len(text), [("content-type", _TEXT)]
        except _Unsatisfiable:
            self.parts = []
            return 416, 0, [("content-type", _TEXT), ("content-range", f"bytes */{size}")]
        if not ranges:
            return None
        if len(ranges) == 1:
            start, end = ranges[0]
            self.parts = [(start, end)]
            return 206, end - start, [("content-range", f"bytes {start}-{end - 1}/{size}")]
        # As browsers', a boundary of about 100 random bits.
        boundary = token_hex(13)
        parts: list[Union[bytes, tuple[int, int]]] = []
        length = 0
        for start, end in ranges:
            head = f"--{boundary}\r\nContent-Type: {content_type or ''}\r\nContent-Range: bytes {start}-{end - 1}/{size}\r\n\r\n".encode("latin-1")
            parts += [head, (start, end), b"\r\n"]
            length += len(head) + end - start + 2
        tail = f"--{boundary}--".encode("latin-1")
        parts.append(tail)
        self.parts = parts
        return 206, length + len(tail), [("content-type", f"multipart/byteranges; boundary={boundary}")]


def _parse_range(http_range: str, size: int) -> list[tuple[int, int]]:
    """The `(start, end)` byte ranges (`end` excluded) of a `Range` header for a file of
    `size` bytes, as Starlette's `FileResponse._parse_range_header` reads them: several sorted
    and merged where they overlap or touch; none (the whole file) past `_MAX_RANGES`. Parts
    that are not ranges are skipped; `_MalformedRange` when none is left or one ends before it
    starts, or the unit is not `bytes`; `_Unsatisfiable` when one starts past the end."""
    try:
        units, spec = http_range.split("=", 1)
    except ValueError:
        raise _MalformedRange() from None
    if units.strip().lower() != "bytes":
        raise _MalformedRange("Only support bytes range")
    if spec.count(",") + 1 > _MAX_RANGES:
        return []
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part or part == "-" or "-" not in part:
            continue
        start_text, end_text = (text.strip() for text in part.split("-", 1))
        try:
            start = int(start_text) if start_text else max(size - int(end_text), 0)
            end = int(end_text) + 1 if start_text and end_text and int(end_text) < size else size
        except ValueError:
            continue
        ranges.append((start, end))
    if not ranges:
        raise _MalformedRange("Range header: range must be requested")
    if any(not 0 <= start < size for start, _ in ranges):
        raise _Unsatisfiable()
    if any(start >= end for start, end in ranges):
        raise _MalformedRange("Range header: start must be less than end")
    if len(ranges) == 1:
        return ranges
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged
