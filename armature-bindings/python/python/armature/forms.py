"""Reading a form body: `application/x-www-form-urlencoded` and `multipart/form-data`, with
the standard library only (FastAPI needs `python-multipart` for these).

```python
from armature.forms import parse

fields = parse("application/x-www-form-urlencoded", b"user=ann&tag=a&tag=b")
assert fields == {"user": ["ann"], "tag": ["a", "b"]}
```
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Optional, Union
from urllib.parse import parse_qsl

from .exceptions import HTTPException

Value = Union[str, bytes]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def parse(content_type: Optional[str], body: bytes) -> dict[str, list[Value]]:
    """The fields of a form body, each name's values in order. A file part of a multipart
    body is its bytes; every other value is text. An empty body is an empty form whatever
    its type; a body that is not a form is refused with `415`, a malformed one with `400`."""
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
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return fields


def _multipart(content_type: str, body: bytes) -> dict[str, list[Value]]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart() or message.defects:
        raise HTTPException(400, "malformed multipart/form-data body")
    fields: dict[str, list[Value]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise HTTPException(400, "malformed multipart/form-data body: a part without a name")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            fields.setdefault(name, []).append(payload)
            continue
        try:
            fields.setdefault(name, []).append(payload.decode(part.get_content_charset() or "utf-8"))
        except (UnicodeDecodeError, LookupError):
            raise HTTPException(400, f"malformed multipart/form-data body: field {name!r} is not text") from None
    return fields
