"""Path convertors, as Starlette's `starlette.convertors`: what `{name:kind}` in a route's path
takes, what the handler gets, and how `url_path_for` writes a value back.

The five of Starlette (`str`, `path`, `int`, `float`, `uuid`) are checked in Rust. Register
one of your own with `register_url_convertor`, before the routes that use it are added::

    from datetime import date
    from armature.convertors import Convertor, register_url_convertor

    class DateConvertor(Convertor[date]):
        regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

        def convert(self, value: str) -> date:
            return date.fromisoformat(value)

        def to_string(self, value: date) -> str:
            return value.isoformat()

    register_url_convertor("date", DateConvertor())

    @app.get("/days/{day:date}")
    async def day(day: date) -> dict: ...

Its `regex` is checked in Rust too (by the `regex` crate, so without look-around or
back-references), whole, against one path segment, percent-decoded (Armature's router matches a
parameter within a segment, so only a `%2F` in it gives the regex a `/`; `{name:path}` takes
the rest of the path). A value it does not match is a path no route matches (`404`), or falls
through to the next route of the same shape. `convert` makes the handler's value and
`request.path_params`' (an exception it raises is a `500`); `to_string` writes one back in
`url_path_for`.

Routes are checked against the convertors registered when the app is built: register them
first (a key registered again replaces its convertor for every route, where Starlette keeps the
one a route was added with). `str` and `path` cannot be replaced: Armature's router matches
those itself.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T")

__all__ = ["CONVERTOR_TYPES", "Convertor", "FloatConvertor", "IntegerConvertor", "PathConvertor", "StringConvertor", "UUIDConvertor", "register_url_convertor"]


class Convertor(Generic[T]):
    """A kind of path parameter: `regex`, the text it takes (whole), `convert`, the handler's
    value of that text, and `to_string`, the text of a value."""

    regex: ClassVar[str] = ""

    def convert(self, value: str) -> T:
        raise NotImplementedError()

    def to_string(self, value: T) -> str:
        raise NotImplementedError()


class StringConvertor(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        value = str(value)
        if "/" in value or not value:
            raise ValueError(f"{{...:str}} takes a non-empty value without '/': {value!r}")
        return value


class PathConvertor(Convertor[str]):
    regex = ".*"

    def convert(self, value: str) -> str:
        return str(value)

    def to_string(self, value: str) -> str:
        return str(value)


class IntegerConvertor(Convertor[int]):
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        value = int(value)
        if value < 0:
            raise ValueError(f"{{...:int}} takes no negative integer: {value}")
        return str(value)


class FloatConvertor(Convertor[float]):
    regex = r"[0-9]+(\.[0-9]+)?"

    def convert(self, value: str) -> float:
        return float(value)

    def to_string(self, value: float) -> str:
        value = float(value)
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise ValueError(f"{{...:float}} takes a finite number, not negative: {value}")
        return ("%0.20f" % value).rstrip("0").rstrip(".")


class UUIDConvertor(Convertor[uuid.UUID]):
    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_string(self, value: uuid.UUID) -> str:
        return str(value)


# Starlette's own, checked in Rust by name (not by their `regex`), unless replaced.
BUILT_IN: dict[str, Convertor[Any]] = {
    "str": StringConvertor(),
    "path": PathConvertor(),
    "int": IntegerConvertor(),
    "float": FloatConvertor(),
    "uuid": UUIDConvertor(),
}

CONVERTOR_TYPES: dict[str, Convertor[Any]] = dict(BUILT_IN)


def register_url_convertor(key: str, convertor: Convertor[Any]) -> None:
    """Makes `{name:key}` in a route's path take what `convertor.regex` matches, as Starlette's
    `register_url_convertor`. Register it before adding the routes that use it (an unknown
    convertor is a `ValueError` when the route is added)."""
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"register_url_convertor: the key is a name like 'date', got {key!r}")
    if key in ("str", "path"):
        raise ValueError(f"register_url_convertor: {key!r} cannot be replaced: Armature's router matches {{name}} and {{name:path}} itself")
    regex = getattr(convertor, "regex", None)
    if not isinstance(regex, str) or not regex:
        raise TypeError(f"register_url_convertor({key!r}): the convertor needs a `regex` string (Starlette's Convertor), got {convertor!r}")
    if not callable(getattr(convertor, "convert", None)):
        raise TypeError(f"register_url_convertor({key!r}): the convertor needs a `convert(value)` method")
    CONVERTOR_TYPES[key] = convertor


def built_in(key: str) -> bool:
    """Whether `{name:key}` is one of Starlette's five as they come (checked in Rust by name)."""
    return BUILT_IN.get(key) is not None and CONVERTOR_TYPES.get(key) is BUILT_IN[key]
