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
from stat import S_ISREG
from typing import Any, Iterator, Mapping, Optional, Union
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
    from its name; with `filename`, a `Content-Disposition` naming it. As Starlette's, it
    carries the file's `Content-Length`, `Last-Modified` and an `ETag` of its modification time
    and size (a file that changes size while it is sent is cut off, not sent short). A path
    that is not a file is a `RuntimeError` (so a 500), as in Starlette."""
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    if stat is None or not S_ISREG(stat.st_mode):
        raise RuntimeError(f"File at path {os.fspath(path)} does not exist.")
    if media_type is None:
        media_type = mimetypes.guess_type(filename or os.fspath(path))[0] or "text/plain"
    res = HttpResponse.stream(_chunks(path), status=status_code, headers=headers, media_type=media_type, length=stat.st_size)
    given = res.headers
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
        res.headers["content-disposition"] = disposition
    return _with(res, background)


def _chunks(path: Union[str, os.PathLike[str]]) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(64 * 1024):
            yield chunk
