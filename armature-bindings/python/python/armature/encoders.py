"""What the JSON serializer does with the types JSON lacks, as FastAPI's `jsonable_encoder`
does: handlers return a `datetime`, a `UUID` or a `Decimal` and the client gets the same JSON
it would from FastAPI.
"""

from __future__ import annotations

import dataclasses
import enum
import datetime
import decimal
import ipaddress
import pathlib
import re
import uuid
from collections import deque
from types import GeneratorType
from typing import Any

_AS_TEXT = (uuid.UUID, pathlib.PurePath, ipaddress.IPv4Address, ipaddress.IPv6Address,
            ipaddress.IPv4Network, ipaddress.IPv6Network, ipaddress.IPv4Interface, ipaddress.IPv6Interface)


def jsonable(obj: Any) -> Any:
    """A JSON-ready stand-in for `obj`, or a `TypeError` naming its type.

    - `datetime`, `date`, `time`: ISO 8601 text; `timedelta`: seconds (a float).
    - `Decimal`: an int when it has no fractional digits, else a float.
    - `UUID`, paths, IP addresses and networks: their text; a compiled regex: its pattern.
    - `set`, `frozenset`, `deque`, generators: lists; `bytes`: UTF-8 text.
    - dataclass instances: dicts of their fields.

    The result may hold more such values: the serializer converts those in turn.
    """
    if isinstance(obj, (datetime.date, datetime.time)):  # datetime is a date
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        exponent = obj.as_tuple().exponent
        return int(obj) if isinstance(exponent, int) and exponent >= 0 else float(obj)
    if isinstance(obj, _AS_TEXT):
        return str(obj)
    if isinstance(obj, re.Pattern):
        return obj.pattern
    if isinstance(obj, (set, frozenset, deque, GeneratorType)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).decode()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def jsonable_encoder(obj: Any, *, by_alias: bool = True, exclude_none: bool = False, exclude_unset: bool = False) -> Any:
    """FastAPI's `jsonable_encoder`: `obj` as plain JSON-ready Python (dicts, lists, text,
    numbers, `None`), recursively: Pydantic models as their JSON dump (by alias, unless
    `by_alias=False`), enums as their values, mapping keys as text, and what `jsonable`
    converts (dates, UUIDs, decimals, ...) converted. For storing a model in a JSON column
    or a cache, or comparing with a response in a test.

    ```python
    import datetime
    from armature.encoders import jsonable_encoder

    assert jsonable_encoder({"at": datetime.date(2026, 1, 2), "tags": {"a"}}) == {"at": "2026-01-02", "tags": ["a"]}
    ```
    """
    if isinstance(obj, enum.Enum):  # before `str`: a `str` enum is one
        return jsonable_encoder(obj.value, by_alias=by_alias, exclude_none=exclude_none, exclude_unset=exclude_unset)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is not None and not isinstance(obj, type):
        return dump(mode="json", by_alias=by_alias, exclude_none=exclude_none, exclude_unset=exclude_unset)
    if isinstance(obj, dict):
        encoded = {}
        for key, value in obj.items():
            if exclude_none and value is None:
                continue
            key = jsonable_encoder(key, by_alias=by_alias)
            encoded[key if isinstance(key, str) else str(key)] = jsonable_encoder(value, by_alias=by_alias, exclude_none=exclude_none, exclude_unset=exclude_unset)
        return encoded
    if isinstance(obj, (list, tuple)):
        return [jsonable_encoder(item, by_alias=by_alias, exclude_none=exclude_none, exclude_unset=exclude_unset) for item in obj]
    return jsonable_encoder(jsonable(obj), by_alias=by_alias, exclude_none=exclude_none, exclude_unset=exclude_unset)
