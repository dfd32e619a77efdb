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
from typing import Any, Callable, Optional

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


def jsonable_encoder(
    obj: Any,
    include: Any = None,
    exclude: Any = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: Optional[dict[Any, Callable[[Any], Any]]] = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    """FastAPI's `jsonable_encoder`: `obj` as plain JSON-ready Python (dicts, lists, text,
    numbers, `None`), recursively: Pydantic models as their JSON dump (by alias, unless
    `by_alias=False`), enums as their values, mapping keys as text, and what `jsonable`
    converts (dates, UUIDs, decimals, ...) converted. For storing a model in a JSON column
    or a cache, or comparing with a response in a test. As FastAPI's, `include` / `exclude`
    pick a model's fields or a dict's keys (of each item of a list), and `custom_encoder`
    maps types to functions that encode them (`sqlalchemy_safe` is accepted).

    ```python
    import datetime
    from armature.encoders import jsonable_encoder

    assert jsonable_encoder({"at": datetime.date(2026, 1, 2), "tags": {"a"}}) == {"at": "2026-01-02", "tags": ["a"]}
    ```
    """
    options = {"by_alias": by_alias, "exclude_unset": exclude_unset, "exclude_defaults": exclude_defaults, "exclude_none": exclude_none, "custom_encoder": custom_encoder}
    if custom_encoder:
        encode = custom_encoder.get(type(obj)) or next((f for t, f in custom_encoder.items() if isinstance(obj, t)), None)
        if encode is not None:
            return encode(obj)
    if isinstance(obj, enum.Enum):  # before `str`: a `str` enum is one
        return jsonable_encoder(obj.value, **options)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is not None and not isinstance(obj, type):
        if include is not None and not isinstance(include, (set, dict)):
            include = set(include)
        if exclude is not None and not isinstance(exclude, (set, dict)):
            exclude = set(exclude)
        dumped = dump(mode="json", include=include, exclude=exclude, by_alias=by_alias, exclude_unset=exclude_unset, exclude_defaults=exclude_defaults, exclude_none=exclude_none)
        return jsonable_encoder(dumped, **options) if custom_encoder else dumped
    if isinstance(obj, dict):
        encoded = {}
        for key, value in obj.items():
            if (exclude_none and value is None) or (include is not None and key not in include) or (exclude is not None and key in exclude):
                continue
            key = jsonable_encoder(key, by_alias=by_alias, custom_encoder=custom_encoder)
            encoded[key if isinstance(key, str) else str(key)] = jsonable_encoder(value, **options)
        return encoded
    if isinstance(obj, (list, tuple)):
        return [jsonable_encoder(item, include, exclude, **options) for item in obj]
    return jsonable_encoder(jsonable(obj), **options)
