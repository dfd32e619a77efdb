"""Reading a form body: `application/x-www-form-urlencoded` and `multipart/form-data`, with
the standard library only (FastAPI needs `python-multipart` for these).

```python
from armature.forms import parse

fields = parse("application/x-www-form-urlencoded", b"user=ann&tag=a&tag=b")
assert fields == {"user": ["ann"], "tag": ["a", "b"]}
```
"""

from __future__ import annotations

import io
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Optional, Union
from urllib.parse import parse_qsl

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

    __slots__ = ("filename", "content_type", "headers", "file")

    def __init__(self, file: io.BytesIO, *, filename: Optional[str] = None, content_type: Optional[str] = None, headers: Optional[dict[str, str]] = None) -> None:
        self.file = file
        self.filename = filename
        self.content_type = content_type
        self.headers = headers or {}

    @property
    def size(self) -> int:
        return len(self.file.getbuffer())

    async def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    async def seek(self, offset: int) -> None:
        self.file.seek(offset)

    async def write(self, data: bytes) -> None:
        self.file.write(data)

    async def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={self.size}, content_type={self.content_type!r})"


Value = Union[str, UploadFile]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)

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
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        raise HTTPException(400, "malformed multipart/form-data body: no boundary in its Content-Type")
    # Counted before parsing: the parser is Python, and slow on many small parts.
    if body.count(b"--" + boundary.group(1).encode("latin-1", "replace")) > 2 * MAX_FIELDS + 1:
        raise HTTPException(400, f"too many form fields (more than {MAX_FIELDS} fields and {MAX_FIELDS} files)")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if not message.is_multipart() or message.defects:
        raise HTTPException(400, "malformed multipart/form-data body")
    fields: dict[str, list[Value]] = {}
    texts = files = 0
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise HTTPException(400, "malformed multipart/form-data body: a part without a name")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename == "" and not payload:
            # An `<input type=file>` left empty: browsers send a nameless, empty file. As in
            # FastAPI, no file at all (the parameter's default, or "missing").
            continue
        files += filename is not None
        texts += filename is None
        if texts > MAX_FIELDS or files > MAX_FIELDS:
            raise HTTPException(400, f"too many form {'fields' if texts > MAX_FIELDS else 'files'} (more than {MAX_FIELDS})")
        if filename is not None:
            headers = {key.lower(): str(value) for key, value in part.items()}
            upload = UploadFile(io.BytesIO(payload), filename=filename, content_type=part.get_content_type(), headers=headers)
            fields.setdefault(name, []).append(upload)
            continue
        try:
            fields.setdefault(name, []).append(payload.decode(part.get_content_charset() or "utf-8"))
        except (UnicodeDecodeError, LookupError):
            raise HTTPException(400, f"malformed multipart/form-data body: field {name!r} is not text") from None
    return fields
