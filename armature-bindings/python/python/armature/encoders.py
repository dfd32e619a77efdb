"""What the JSON serializer does with the types JSON lacks, as FastAPI's `jsonable_encoder`
does: handlers return a `datetime`, a `UUID` or a `Decimal` and the client gets the same JSON
it would from FastAPI.
"""

from __future__ import annotations

import dataclasses
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
