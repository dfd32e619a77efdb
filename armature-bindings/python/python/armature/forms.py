"""Reading a form body: `application/x-www-form-urlencoded` with the standard library, and
`multipart/form-data` with `python-multipart`, the parser Starlette (so FastAPI) uses.

```python
from armature.forms import parse

fields = parse("application/x-www-form-urlencoded", b"user=ann&tag=a&tag=b")
assert fields == {"user": ["ann"], "tag": ["a", "b"]}
```
"""

from __future__ import annotations

import io
from typing import Optional, Union
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .exceptions import HTTPException


class UploadFile:
    """A file part of a `multipart/form-data` body, as FastAPI's (Starlette's) `UploadFile`:
    `filename`, `content_type`, `headers`, `size`, the bytes in `file` (a binary file
    object), and `await read()`, `seek()`, `write()`, `close()`.

    ```python
    from armature import App, File, UploadFile

    app = App()

    @app.post("/avatar")
    async def avatar(upload: UploadFile = File()) -> dict:
        data = await upload.read()
        return {"name": upload.filename, "type": upload.content_type, "size": len(data)}
    ```
    """

    __slots__ = ("filename", "content_type", "headers", "file", "size")

    def __init__(self, file: io.BytesIO, *, size: Optional[int] = None, filename: Optional[str] = None, content_type: Optional[str] = None, headers: Optional[dict[str, str]] = None) -> None:
        self.file = file
        # An attribute, as Starlette's (grown by `write`): still there once the file is closed.
        self.size: Optional[int] = len(file.getbuffer()) if size is None else size
        self.filename = filename
        self.content_type = content_type
        self.headers = headers or {}

    async def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    async def seek(self, offset: int) -> None:
        self.file.seek(offset)

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        self.file.write(data)

    async def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={self.size}, content_type={self.content_type!r})"


Value = Union[str, UploadFile]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

# At most this many fields (and as many files) in one form, as Starlette: parsing is Python
# work, and a 16 MiB body of empty fields would otherwise keep the loop busy.
MAX_FIELDS = 1000


def parse(content_type: Optional[str], body: bytes) -> dict[str, list[Value]]:
    """The fields of a form body, each name's values in order. A file part of a multipart
    body is an `UploadFile`; every other value is text. An empty body is an empty form whatever
    its type; a body that is not a form is refused with `415`, a malformed one (or one of
    more than `MAX_FIELDS` fields) with `400`."""
    if not body:
        return {}
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == _URLENCODED:
        return _urlencoded(body)
    if media == _MULTIPART:
        return _multipart(content_type or "", body)
    raise HTTPException(415, f"Unsupported Media Type: expected a form ({_URLENCODED} or {_MULTIPART}), got {content_type or 'none'}")


def _urlencoded(body: bytes) -> dict[str, list[Value]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "malformed form body: not UTF-8") from None
    fields: dict[str, list[Value]] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise HTTPException(400, f"too many form fields (more than {MAX_FIELDS})") from None
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _multipart(content_type: str, body: bytes) -> dict[str, list[Value]]:
    """A `multipart/form-data` body, parsed as Starlette parses it, with `python-multipart`:
    a part's headers as sent (no `Content-Type` is `None`), its bytes as sent (no transfer
    decoding), a file's name without the directories old browsers put in front."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "malformed multipart/form-data body: no boundary in its Content-Type")
    parts: list[tuple[list[tuple[bytes, bytes]], list[bytes]]] = []
    header = [b"", b""]  # the name and value of the header being read
    ended = False

    def on_part_begin() -> None:
        if len(parts) >= 2 * MAX_FIELDS:
            raise HTTPException(400, f"too many form fields (more than {MAX_FIELDS} fields and {MAX_FIELDS} files)")
        parts.append(([], []))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1][0].append((header[0].lower(), header[1]))
        header[0] = header[1] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].append(data[start:end])

    def on_end() -> None:
        nonlocal ended
        ended = True

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise HTTPException(400, "malformed multipart/form-data body") from None
    if not ended:
        raise HTTPException(400, "malformed multipart/form-data body: no closing boundary")
    fields: dict[str, list[Value]] = {}
    texts = files = 0
    for headers, chunks in parts:
        disposition = next((value for field, value in headers if field == b"content-disposition"), None)
        _, params = parse_options_header(disposition)
        name = params.get(b"name")
        if disposition is None or name is None:
            raise HTTPException(400, "malformed multipart/form-data body: a part without a name")
        key = name.decode("utf-8", "replace")
        payload = b"".join(chunks)
        raw_filename = params.get(b"filename")
        filename = None if raw_filename is None else raw_filename.decode("utf-8", "replace")
        if filename == "" and not payload:
            # An `<input type=file>` left empty: browsers send a nameless, empty file. As in
            # FastAPI, no file at all (the parameter's default, or "missing").
            continue
        files += filename is not None
        texts += filename is None
        if texts > MAX_FIELDS or files > MAX_FIELDS:
            raise HTTPException(400, f"too many form {'fields' if texts > MAX_FIELDS else 'files'} (more than {MAX_FIELDS})")
        part_type = next((value for field, value in headers if field == b"content-type"), None)
        if filename is not None:
            decoded = {field.decode("latin-1"): value.decode("latin-1") for field, value in headers}
            content = None if part_type is None else part_type.decode("latin-1")
            fields.setdefault(key, []).append(UploadFile(io.BytesIO(payload), filename=filename, content_type=content, headers=decoded))
            continue
        charset = parse_options_header(part_type)[1].get(b"charset", b"utf-8").decode("latin-1") if part_type else "utf-8"
        try:
            fields.setdefault(key, []).append(payload.decode(charset))
        except (UnicodeDecodeError, LookupError):
            raise HTTPException(400, f"malformed multipart/form-data body: field {key!r} is not text") from None
    return fields
