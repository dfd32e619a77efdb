"""Dependency injection and parameter binding: what a handler's signature asks for.

Each route's signature is read once, when the app is built, into a plan; per request the
plan fills the arguments from the path, the query, headers, cookies, the JSON body (Pydantic
models) and `Depends()` providers. Errors are collected and answered with FastAPI's `422` body.
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import functools
import inspect
import json
import logging
import typing
import uuid
from typing import Any, Callable, Optional, Union

try:  # `A | B` (Python 3.10+)
    from types import UnionType as _UnionType
except ImportError:  # pragma: no cover - Python 3.9
    _UnionType = None  # type: ignore[assignment,misc]

from . import convertors, forms, responses
from .concurrency import enter_in_threadpool, run_in_threadpool
from ._armature import HttpRequest, HttpResponse
from .requests import Request
from .websockets import WebSocket
from .exceptions import HTTPException, RequestValidationError

logger = logging.getLogger("armature")


# The status of the `HttpResponse` parameter until the handler sets one: 999, which no answer
# keeps (FastAPI's `response.status_code` is `None` until set).
_UNSET_STATUS = 999


def carried(result: Any, response: HttpResponse, status_code: Optional[int]) -> HttpResponse:
    """`result` as the answer (as JSON unless `response_class` made it one already), with the
    headers (and status, if set) of the `HttpResponse` parameter the handler was given, as
    FastAPI merges its `response: Response`."""
    answer = result if isinstance(result, HttpResponse) else HttpResponse.json(result, status=status_code or 200)
    if response.status != _UNSET_STATUS:
        answer.status = response.status
    for name, value in response._header_items():
        if name != "content-type":
            answer.set_header(name, value)
    return answer


class Depends:
    """Marks a parameter as provided by `dependency` (a function, async function,
    generator or async generator for setup/cleanup, or a class). Without an argument the
    parameter's annotation is the dependency. With `use_cache` (the default) one request
    calls each dependency once."""

    __slots__ = ("dependency", "use_cache", "scopes")

    def __init__(self, dependency: Optional[Callable[..., Any]] = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache
        # The OAuth2 scopes `Security(dependency, scopes=[...])` asks for (none for `Depends`).
        self.scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__name__", repr(self.dependency))
        if self.scopes:
            return f"Security({name}, scopes={list(self.scopes)!r})"
        return f"Depends({name})"


class SecurityScopes:
    """FastAPI's `SecurityScopes`: declared as a dependency's parameter
    (`security_scopes: SecurityScopes`), the scopes that the `Security(..., scopes=[...])`
    markers on the way from the route to this dependency ask for, outermost first, so that the
    dependency can check a token against them. `scope_str` is them joined by spaces, as in a
    `WWW-Authenticate: Bearer scope="..."` challenge.

    ```python
    async def current_user(scopes: SecurityScopes, token: str = Depends(oauth2)) -> User:
        if not set(scopes.scopes) <= token_scopes(token):
            raise HTTPException(401, "Not enough permissions",
                                headers={"WWW-Authenticate": f'Bearer scope="{scopes.scope_str}"'})
        ...

    @app.get("/items")
    async def items(user: User = Security(current_user, scopes=["items"])) -> list[Item]: ...
    ```
    """

    def __init__(self, scopes: Optional[list[str]] = None) -> None:
        self.scopes: list[str] = list(scopes or [])
        self.scope_str: str = " ".join(self.scopes)

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"


def _is_async_callable(func: Any) -> bool:
    """Whether calling `func` makes a coroutine, as Starlette's `is_async_callable`: an
    `async def` function, a `partial` of one, or an object whose `__call__` is one."""
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or (callable(func) and inspect.iscoroutinefunction(getattr(func, "__call__", None)))


class BackgroundTasks:
    """Work to run after the response has been handed to the server. Ask for it as a
    parameter (`tasks: BackgroundTasks`) and `add_task(func, *args, **kwargs)`; async
    functions run on the loop, plain ones in the default thread pool."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.tasks.append((func, args, kwargs))

    async def __call__(self) -> None:
        for func, args, kwargs in self.tasks:
            try:
                if _is_async_callable(func):
                    await func(*args, **kwargs)
                else:
                    await run_in_threadpool(func, *args, **kwargs)
            except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - a failing task must not stop the others, nor the server
                from ._runtime import unhandled

                unhandled(exc, "a background task")


class BackgroundTask(BackgroundTasks):
    """Starlette's `BackgroundTask(func, *args, **kwargs)`: one function to run after the
    response, given as a response's `background=`
    (`JSONResponse({"ok": True}, background=BackgroundTask(notify, user_id))`)."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.add_task(func, *args, **kwargs)


class Param:
    """Where a parameter is read from, and what it must hold: what `Query()`, `Path()`,
    `Header()`, `Cookie()`, `Body()`, `Form()` and `File()` return. Use one as the parameter's default
    (`q: str = Query(max_length=50)`) or inside `Annotated` (`q: Annotated[str, Query(max_length=50)]`,
    the default then after `=`)."""

    __slots__ = ("source", "default", "default_factory", "alias", "convert_underscores", "constraints", "embed", "documentation")

    def __init__(self, source: str, default: Any, default_factory: Optional[Callable[[], Any]], alias: Optional[str], options: dict[str, Any], convert_underscores: bool = True, embed: bool = False) -> None:
        where = source.capitalize() + "()"
        if default is ...:
            default = _MISSING
        if default is not _MISSING and default_factory is not None:
            raise TypeError(f"{where}: give default or default_factory, not both")
        if default_factory is not None and not callable(default_factory):
            raise TypeError(f"{where}: default_factory must be callable, got {default_factory!r}")
        if alias is not None and (not isinstance(alias, str) or not alias):
            raise TypeError(f"{where}: alias must be a non-empty string, got {alias!r}")
        constraints: dict[str, Any] = {}
        documentation: dict[str, Any] = {}
        for key, value in options.items():
            key = "pattern" if key == "regex" else key  # FastAPI's older spelling
            if key in _CONSTRAINTS:
                if value is not None:
                    constraints[key] = value
            elif key in _DOCUMENTATION:
                documentation[key] = value
            else:
                raise TypeError(f"{where}: unexpected keyword argument {key!r}")
        self.source = source
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.convert_underscores = convert_underscores
        self.constraints = constraints
        self.embed = embed
        # For the OpenAPI document: `description`, `examples`, `deprecated`, ...
        self.documentation = documentation

    def __repr__(self) -> str:
        return f"{self.source.capitalize()}({'' if self.default is _MISSING else repr(self.default)})"


# What Pydantic checks (`Field(...)` keywords); the rest is documentation, for the OpenAPI
# document. Anything else is a TypeError.
_CONSTRAINTS = frozenset(
    {"gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern", "strict", "allow_inf_nan", "max_digits", "decimal_places"}
)
_DOCUMENTATION = frozenset(
    {"title", "description", "examples", "example", "openapi_examples", "deprecated", "include_in_schema", "json_schema_extra"}
)


def Query(default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None, alias: Optional[str] = None, **options: Any) -> Any:
    """A query parameter (`?name=value`), as FastAPI's `Query`: `alias` is the name in the
    URL when it is not the parameter's; `default` (`...` or none: required) or
    `default_factory`; constraints `gt`, `ge`, `lt`, `le`, `multiple_of`, `min_length`,
    `max_length`, `pattern`, `strict`, checked by Pydantic with its error messages; a `list`,
    `set` or `tuple` annotation takes every value (`?tag=a&tag=b`).

    ```python
    @app.get("/items")
    async def items(q: Annotated[str | None, Query(max_length=50)] = None, page: int = Query(1, ge=1)):
        ...
    ```
    """
    return Param("query", default, default_factory, alias, options)


def Path(default: Any = ..., *, alias: Optional[str] = None, **options: Any) -> Any:
    """A path parameter (`{item_id}` in the route), with constraints as for `Query`
    (`item_id: int = Path(ge=1)`). A path parameter is always there, so it has no default.
    Declaring `Path()` for a name the route's path lacks is a `ValueError` when the app is
    built."""
    if default is not ...:
        raise TypeError(f"Path(): a path parameter is always required, so it cannot have a default (got {default!r})")
    return Param("path", _MISSING, None, alias, options)


def Header(
    default: Any = ...,
    *,
    default_factory: Optional[Callable[[], Any]] = None,
    alias: Optional[str] = None,
    convert_underscores: bool = True,
    **options: Any,
) -> Any:
    """A request header, as FastAPI's `Header`: `user_agent: str = Header()` reads
    `User-Agent` (underscores become hyphens unless `convert_underscores=False`; names are
    case-insensitive; `alias` names the header outright). A repeated header gives its first
    value, or every value with a `list` annotation. Defaults and constraints as for `Query`."""
    return Param("header", default, default_factory, alias, options, convert_underscores)


def Body(
    default: Any = ...,
    *,
    default_factory: Optional[Callable[[], Any]] = None,
    embed: bool = False,
    alias: Optional[str] = None,
    media_type: str = "application/json",
    **options: Any,
) -> Any:
    """A value read from the JSON body, as FastAPI's `Body`: any type, not only models
    (`importance: int = Body()`), with constraints as for `Query`. One body parameter is the
    whole body unless `embed=True`; with several, or any embedded, the body is an object
    holding each under its name (or `alias`). Only JSON bodies are read (`media_type` is
    documentation)."""
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise TypeError(f"Body(): only JSON bodies are read here, not {media_type!r}")
    if not isinstance(embed, bool):
        raise TypeError(f"Body(): embed must be True or False, got {embed!r}")
    return Param("body", default, default_factory, alias, options, embed=embed)


def Form(default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None, alias: Optional[str] = None, **options: Any) -> Any:
    """A field of a form body (`application/x-www-form-urlencoded` or `multipart/form-data`),
    as FastAPI's `Form`: `username: str = Form()`. A `list` annotation takes every value of
    the name; a file part is its bytes (`upload: bytes = Form()`) or an `UploadFile`. Defaults and constraints
    as for `Query`. A body of another type is refused with `415`, a malformed one with `400`;
    a handler cannot read both `Form()` and JSON `Body()` parameters."""
    return Param("form", default, default_factory, alias, options)


def File(default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None, alias: Optional[str] = None, **options: Any) -> Any:
    """A file part of a `multipart/form-data` body, as FastAPI's `File`: annotate the
    parameter `UploadFile` (name, type and bytes; `list[UploadFile]` for several) or `bytes`
    (the content alone). A text field where a file is expected is a `422`."""
    return Param("file", default, default_factory, alias, options)


def Cookie(default: Any = ..., *, default_factory: Optional[Callable[[], Any]] = None, alias: Optional[str] = None, **options: Any) -> Any:
    """A cookie of the `Cookie` header, as FastAPI's `Cookie` (`session: str | None = Cookie(None)`).
    Defaults and constraints as for `Query`. All cookies at once: `request.cookies`."""
    return Param("cookie", default, default_factory, alias, options)


# ----------------------------------------------------------------------------- conversions

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}
_MISSING = object()
# A default that leaves the argument out of the call (the callee has its own).
_OMIT = object()


def _error(kind: str, loc: list[Any], msg: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin is Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _scalar(annotation: Any) -> Callable[[str, list[Any]], Any]:
    """A converter from a string (path or query value) to `annotation`, with the error
    types and messages Pydantic (and so FastAPI) uses."""
    if annotation in (str, inspect.Parameter.empty, Any):
        return lambda raw, loc: raw

    if annotation is int:

        def to_int(raw: str, loc: list[Any]) -> Any:
            # ASCII digits only: Python's int() also reads other scripts' digits, Pydantic not.
            if raw.isascii():
                text = raw.strip()
                try:
                    return int(text)
                except ValueError:
                    # As Pydantic (lax mode): a fraction of zeros is whole, "5.0" and "5.00" are
                    # 5; "5.5" and "5." are not integers.
                    whole, point, fraction = text.partition(".")
                    if point and fraction and not fraction.strip("0") and whole == whole.rstrip():
                        with contextlib.suppress(ValueError):
                            return int(whole)
            raise _Invalid(_error("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", raw))

        return to_int

    if annotation is float:

        def to_float(raw: str, loc: list[Any]) -> Any:
            try:
                if not raw.isascii():
                    raise ValueError(raw)
                return float(raw.strip())
            except ValueError:
                raise _Invalid(_error("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", raw))

        return to_float

    if annotation is bool:

        def to_bool(raw: str, loc: list[Any]) -> Any:
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise _Invalid(_error("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", raw))

        return to_bool

    # Anything else (UUID, Enum, date, Literal, constrained types): Pydantic decides.
    return _pydantic(annotation)


def _pydantic(annotation: Any) -> Callable[[Any, list[Any]], Any]:
    """A converter that hands the value (a string, or a list of them) to Pydantic."""
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(annotation)

    def validate(raw: Any, loc: list[Any]) -> Any:
        try:
            return adapter.validate_python(raw)
        except ValidationError as exc:
            errors = json.loads(exc.json(include_url=False))
            raise _Invalid(*[{**e, "loc": loc + list(e["loc"])} for e in errors])

    return validate


def _converter(annotation: Any, checks: tuple[Any, ...], many: bool) -> Callable[[Any, list[Any]], Any]:
    """How a path, query, header or cookie value becomes the parameter's value: `str`, `int`,
    `float` and `bool` by hand (the common case, and the quickest), the rest and anything
    constrained (`Query(ge=1)`, `Annotated[int, Field(ge=1)]`: `checks`) by Pydantic. With
    `many`, the value is a list of strings."""
    if checks:
        return _pydantic(typing.Annotated[(annotation, *checks)])
    if not many:
        return _scalar(annotation)
    if (typing.get_origin(annotation) or annotation) is list:
        return _each(_scalar(_item(annotation)))
    # A set or tuple is Pydantic's to make from the list: `Set[int]` a set, `Tuple[int, ...]`
    # a tuple, `Tuple[int, str]` checked place by place.
    return _pydantic(annotation)


# The type of the value each of Starlette's path convertors (`/items/{id:int}`) gives, the
# handler's when it has no annotation; a registered convertor's is whatever its `convert`
# returns (`Any`).
_VALUE_TYPES = {"str": str, "path": str, "int": int, "float": float, "uuid": uuid.UUID}


def _value_type(convertor: str) -> Any:
    return _VALUE_TYPES[convertor] if convertors.built_in(convertor) else Any


def _converted(convertor: str, annotation: Any, checks: tuple[Any, ...]) -> Callable[[Any, list[Any]], Any]:
    """How a path parameter with a convertor (`{id:int}`) becomes the handler's value: the
    convertor's value, as is when the annotation is its type (or none), else checked against
    the annotation by Pydantic, as FastAPI does (`{id:int}` with `id: str` is then a `422`)."""
    make = convertors.CONVERTOR_TYPES[convertor].convert
    if not checks and annotation in (_value_type(convertor), inspect.Parameter.empty, Any):
        return lambda raw, loc: make(raw)
    validate = _pydantic(typing.Annotated[(annotation, *checks)] if checks else annotation)
    return lambda raw, loc: validate(make(raw), loc)


def _item(annotation: Any) -> Any:
    """The item type of `list[T]` (and tuple, set, ...): `T`, or `str` when not given."""
    return (typing.get_args(annotation)[:1] or (str,))[0]


def _is_many(annotation: Any) -> bool:
    """Whether a query, header or form parameter takes every value of its name: a list, set or
    tuple annotation, bare (`tags: list`) or not (`List[str]`, `Set[int]`, `Tuple[int, ...]`)."""
    return (typing.get_origin(annotation) or annotation) in (list, tuple, set, frozenset)


def _each(one: Callable[[Any, list[Any]], Any]) -> Callable[[list[Any], list[Any]], list[Any]]:
    """A converter of a list of values, `one` by one, each error located by its index."""
    return lambda values, loc: [one(v, loc + [i]) for i, v in enumerate(values)]


class _Invalid(Exception):
    def __init__(self, *errors: dict[str, Any]) -> None:
        self.errors = list(errors)


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and hasattr(annotation, "model_validate_json") and hasattr(annotation, "model_fields")


def _is_body(annotation: Any) -> bool:
    """Whether a parameter is read from the body, as FastAPI reads it: what a query string
    cannot carry — a model, a dataclass, a mapping (`dict`, a `TypedDict`), a union with one
    of those in it, and a list, set or tuple of them."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_body(typing.get_args(annotation)[0])
    if origin is Union or (_UnionType is not None and origin is _UnionType):
        return any(_is_body(a) for a in typing.get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        return any(_is_body(a) for a in typing.get_args(annotation) if a is not Ellipsis)
    target = origin or annotation
    if not inspect.isclass(target):
        return False
    return _is_model(target) or dataclasses.is_dataclass(target) or issubclass(target, collections.abc.Mapping)


def _fresh(default: Any) -> Any:
    """A default to hand one request: a copy when it is a mutable container, so what a handler
    does to it (`tags.append(...)`) is not seen by the next request."""
    return default.copy() if isinstance(default, (list, dict, set, bytearray)) else default


def _form_converter(annotation: Any, checks: tuple[Any, ...], many: bool, where: str, file: bool) -> Callable[[Any, list[Any]], Any]:
    """How a form field becomes the parameter's value: an `UploadFile` stays one (and only a
    file part is accepted for it), `bytes` takes a file's content or a field's text, and any
    other type takes text fields as a query parameter does."""
    item = _item(annotation) if many else annotation
    if file and item not in (forms.UploadFile, bytes):
        raise TypeError(f"{where}: a File() parameter is an UploadFile or bytes (or a list of them), not {annotation!r}")
    if item is forms.UploadFile:
        if checks:
            raise TypeError(f"{where}: an UploadFile takes no constraints")

        def upload(value: Any, loc: list[Any]) -> Any:
            if isinstance(value, forms.UploadFile):
                return value
            raise _Invalid(_error("value_error", loc, f"Value error, Expected UploadFile, received: {type(value)}", value))

        return _each(upload) if many else upload

    convert = _converter(annotation, checks, many)

    def text(value: Any, loc: list[Any]) -> Any:
        if not isinstance(value, forms.UploadFile):
            return value
        if item is bytes:
            return value.file.getvalue()
        raise _Invalid(_error("value_error", loc, "Value error, Expected a text field, received a file", value.filename))

    if many:
        texts = _each(text)
        return lambda values, loc: convert(texts(values, loc), loc)
    return lambda value, loc: convert(text(value, loc), loc)


# ----------------------------------------------------------------------------- plans

REQUEST, BACKGROUND, DEPENDENCY, PATH, QUERY, BODY, HEADER, COOKIE, FORM, RESPONSE, STARLETTE, WEBSOCKET, SCOPES = range(13)

_SOURCES = {"path": PATH, "query": QUERY, "header": HEADER, "cookie": COOKIE, "body": BODY, "form": FORM, "file": FORM}


class _Param:
    __slots__ = ("name", "kind", "convert", "default", "factory", "many", "embed", "model", "plan", "use_cache", "alias", "annotation", "documentation")

    def __init__(self, name: str, kind: int) -> None:
        self.name = name
        self.kind = kind
        self.convert: Any = None
        self.default: Any = _MISSING
        self.factory: Optional[Callable[[], Any]] = None
        # A query or header parameter with a list annotation: every value, not the first.
        self.many = False
        # A body parameter read from the body's member of its name, `Body(embed=True)`.
        self.embed = False
        # For the OpenAPI document: the type with its constraints, and the marker's keywords.
        self.annotation: Any = str
        self.documentation: dict[str, Any] = {}
        # A body parameter's validator: a Pydantic TypeAdapter of its annotation.
        self.model: Any = None
        self.plan: Optional[Plan] = None
        self.use_cache = True
        self.alias = name

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.factory is None

    def marked(self, annotation: Any, default: Any, source: "Param", optional: bool, checks: tuple[Any, ...]) -> "_Param":
        """Takes what its marker says: the default (`None` for an `Optional` without one),
        and the type (with its `checks`) and keywords for the OpenAPI document."""
        self.annotation = _constrained(annotation, checks)
        self.documentation = source.documentation
        self.factory = source.default_factory
        if default is not inspect.Parameter.empty:
            self.default = default
        elif optional and self.factory is None:
            self.default = None
        return self


class Plan:
    """How to call one function (a handler or a dependency) for a request."""

    def __init__(self, call: Callable[..., Any], path_names: typing.Collection[str], extra: tuple[Depends, ...] = (), source: str = "query", scopes: tuple[str, ...] = (), declares: bool = False) -> None:
        self.call = call
        # The route's path parameters: for a route, a dict of their convertors (`{"id": "int"}`,
        # `None` for none).
        self.path_names = path_names
        # The scopes of the `Security()` markers from the route down to here (`SecurityScopes`),
        # each once, outermost first; `declares`: its own marker asks for some.
        self.scopes = scopes
        # Where a parameter without a marker (or a model's field) is read from: the query,
        # or the form, headers or cookies for a model declared `Form()`, `Header()`, `Cookie()`.
        self.source = source
        # The plans of the stand-ins `app.dependency_overrides` named for `call`, made on use.
        self.overrides: dict[Any, Plan] = {}
        self.params: list[_Param] = []
        self.extra: list[Plan] = []
        unwrapped = inspect.unwrap(call)
        target = unwrapped.__init__ if inspect.isclass(unwrapped) else unwrapped  # type: ignore[misc]
        # A class is called to make an instance (plain code), whatever its `__call__` is; an
        # instance with an `async def __call__` (a security scheme) is awaited.
        self.is_async = not inspect.isclass(unwrapped) and (
            inspect.iscoroutinefunction(unwrapped) or inspect.iscoroutinefunction(getattr(unwrapped, "__call__", None))
        )
        self.is_gen = inspect.isgeneratorfunction(unwrapped)
        self.is_async_gen = inspect.isasyncgenfunction(unwrapped)
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except NameError as exc:
            # Read as unannotated, a model would become a query parameter: say so instead.
            raise TypeError(f"{_where(call)}: its annotations name something not defined where it is ({exc}); define it at module level") from exc
        except Exception:  # noqa: BLE001 - hints of other callables (builtins, partials): unannotated
            hints = {}
        signature = inspect.signature(call)
        factories = _factory_fields(unwrapped)
        for name, parameter in signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = hints.get(name, parameter.annotation)
            default = parameter.default
            if name in factories and default is not inspect.Parameter.empty:
                # A model field's `default_factory` (a stand-in default in the signature):
                # not sent, the argument is left out and the model calls its factory.
                default = _OMIT
            marker = None
            source: Optional[Param] = None
            meta: tuple[Any, ...] = ()
            if typing.get_origin(annotation) is typing.Annotated:
                args = typing.get_args(annotation)
                annotation = args[0]
                marker = next((m for m in args[1:] if isinstance(m, Depends)), None)
                source = next((m for m in args[1:] if isinstance(m, Param)), None)
                # The rest is Pydantic's to check: `Field(ge=1)`, `annotated_types.Ge(1)`, what
                # a Pydantic model's signature carries (`Depends()` on a model class).
                meta = tuple(m for m in args[1:] if not isinstance(m, (Depends, Param)))
                if source is not None and (source.default is not _MISSING or source.default_factory is not None):
                    raise TypeError(f"{_where(call)}: parameter {name!r}: set the default after '=', not in {source!r} inside Annotated")
            if isinstance(default, Depends):
                marker, default = default, inspect.Parameter.empty
            elif isinstance(default, Param):
                if source is not None:
                    raise TypeError(f"{_where(call)}: parameter {name!r} has two of Query()/Path()/Header()/Cookie()")
                source, default = default, default.default
                if default is _MISSING:
                    default = inspect.Parameter.empty
            if source is not None:
                self.params.append(self._sourced(name, annotation, default, source, path_names, meta))
            else:
                self.params.append(self._param(name, annotation, default, marker, path_names, meta))
        self.extra = [Plan(d.dependency, path_names, scopes=_with_scopes(scopes, d.scopes), declares=bool(d.scopes)) for d in extra if d.dependency is not None]
        # One request calls a dependency once, and once per set of scopes where scopes matter to
        # it: it or a dependency below it asks for some, reads `SecurityScopes` or is a security
        # scheme (as FastAPI 0.123). A plain `get_db` below two `Security()` runs once.
        self.uses_scopes = (
            declares
            or getattr(call, "_armature_security_scheme", False) is True
            or any(p.kind == SCOPES or (p.plan is not None and p.plan.uses_scopes) for p in self.params)
            or any(e.uses_scopes for e in self.extra)
        )
        self.cache_key: Any = (call, tuple(sorted(scopes))) if self.uses_scopes and scopes else call
        bodies = [p for p in self.params if p.kind == BODY]
        self.embed = len(bodies) > 1 or any(p.embed for p in bodies)
        if bodies and any(p.kind == FORM for p in self.params):
            raise TypeError(f"{_where(call)}: a body is JSON or a form, not both: parameters {bodies[0].name!r} (JSON) and {next(p.name for p in self.params if p.kind == FORM)!r} (Form())")
        self.simple = not self.extra and all(p.kind in (REQUEST, STARLETTE, PATH) for p in self.params)
        # `BODY` or `FORM` when a JSON or form body is read, here or by a dependency: a
        # validation error then carries it (`RequestValidationError.body`).
        kinds = [p.kind if p.plan is None else p.plan.body for p in self.params] + [e.body for e in self.extra]
        self.body: Optional[int] = next((k for k in kinds if k in (BODY, FORM)), None)

    def _param(self, name: str, annotation: Any, default: Any, marker: Optional[Depends], path_names: typing.Collection[str], meta: tuple[Any, ...]) -> _Param:
        if marker is not None:
            p = _Param(name, DEPENDENCY)
            dependency = marker.dependency if marker.dependency is not None else annotation
            p.plan = Plan(dependency, path_names, scopes=_with_scopes(self.scopes, marker.scopes), declares=bool(marker.scopes))
            p.use_cache = marker.use_cache
            return p
        if annotation is HttpRequest or (annotation is inspect.Parameter.empty and name in ("req", "request")):
            return _Param(name, REQUEST)
        if annotation is WebSocket:
            # A WebSocket route's connection (`websocket: WebSocket`), for its handler and
            # dependencies alike.
            return _Param(name, WEBSOCKET)
        if annotation is Request:
            # FastAPI's (Starlette's) `request: Request`, with `await request.json()`.
            return _Param(name, STARLETTE)
        if annotation is BackgroundTasks:
            return _Param(name, BACKGROUND)
        if annotation is SecurityScopes:
            return _Param(name, SCOPES)
        if annotation is HttpResponse or annotation is responses.Response:
            # FastAPI's `response: Response`: headers and a status for the answer to carry.
            return _Param(name, RESPONSE)
        inner, optional = _unwrap_optional(annotation)
        if name in path_names:
            return self._sourced(name, annotation, inspect.Parameter.empty, Param("path", _MISSING, None, None, {}), path_names, meta)
        if (_item(inner) if _is_many(inner) else inner) is forms.UploadFile:
            # `file: UploadFile` (or a list of them, or `Optional`): a file part, as `File()`.
            return self._sourced(name, annotation, default, Param("file", _MISSING, None, None, {}), path_names, meta)
        if _is_body(inner):
            return self._body(name, annotation, default, Param("body", _MISSING, None, None, {}), meta)
        return self._sourced(name, annotation, default, Param(self.source, _MISSING, None, None, {}), path_names, meta)

    def _body(self, name: str, annotation: Any, default: Any, source: Param, meta: tuple[Any, ...]) -> _Param:
        """A parameter read from the JSON body: the whole of it, or its member `alias`."""
        from pydantic import TypeAdapter

        inner, optional = _unwrap_optional(annotation)
        checks = _checks(source, meta)
        p = _Param(name, BODY)
        p.alias = source.alias or name
        p.embed = source.embed
        model = typing.Annotated[(inner, *checks)] if checks else inner
        # An `Optional` one takes an explicit JSON `null` too, as in FastAPI.
        p.model = TypeAdapter(Optional[model] if optional else model)
        return p.marked(annotation, default, source, optional, checks)

    def _sourced(self, name: str, annotation: Any, default: Any, source: Param, path_names: typing.Collection[str], meta: tuple[Any, ...]) -> _Param:
        """A parameter read from the path, the query, a header, a cookie, a form or the body."""
        where = f"{_where(self.call)}: parameter {name!r}"
        if source.source == "header":
            alias = source.alias or (name.replace("_", "-") if source.convert_underscores else name)
        else:
            alias = source.alias or name
        if source.source == "path":
            if alias not in path_names:
                have = ", ".join(sorted(path_names)) or "none"
                raise ValueError(f"{where} is declared with Path() but the route's path has no {{{alias}}} (its parameters: {have})")
        elif name in path_names:
            raise ValueError(f"{where} is a path parameter of the route: declare it with Path(), not {source!r}")
        if source.source == "body":
            return self._body(name, annotation, default, source, meta)
        inner, optional = _unwrap_optional(annotation)
        if _is_model(inner) and not optional and source.source in ("query", "form", "header", "cookie"):
            # FastAPI's parameter models (`f: Annotated[Filter, Query()]`): the model's fields
            # are read from there, as for `Depends()` on the model class.
            p = _Param(name, DEPENDENCY)
            p.plan = Plan(inner, path_names, source=source.source, scopes=self.scopes)
            return p
        if _is_body(inner):
            raise TypeError(f"{where}: a {source.source} value is text and cannot be {inner!r}; models and dicts are read from the JSON body")
        p = _Param(name, _SOURCES[source.source])
        p.alias = alias
        p.many = _is_many(inner)
        if p.many and p.kind in (PATH, COOKIE):
            raise TypeError(f"{where}: a {source.source} value is one string and cannot be {inner!r}")
        checks = _checks(source, meta)
        if p.kind == FORM:
            p.convert = _form_converter(inner, checks, p.many, where, source.source == "file")
        elif p.kind == PATH and isinstance(path_names, dict) and path_names.get(alias):
            # `{id:int}`: the convertor's value (the text fits it: Rust checked), then the
            # annotation's check, as FastAPI validates `request.path_params`. Without an
            # annotation, the document shows the convertor's type.
            if annotation is inspect.Parameter.empty:
                annotation = inner = _value_type(path_names[alias])
            p.convert = _converted(path_names[alias], inner, checks)
        else:
            p.convert = _converter(inner, checks, p.many)
        return p.marked(annotation, default, source, optional, checks)


def _with_scopes(scopes: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    """`scopes` and then those of `more` not among them, each once (FastAPI's order)."""
    return tuple(dict.fromkeys(scopes + more))


def _checks(source: Param, meta: tuple[Any, ...]) -> tuple[Any, ...]:
    """What Pydantic checks of a parameter besides its type: its other `Annotated` metadata
    and its marker's constraints (`Query(ge=1)`, as a `Field`)."""
    if not source.constraints:
        return meta
    from pydantic import Field

    return (*meta, Field(**source.constraints))


def _factory_fields(call: Any) -> set[str]:
    """The signature names of a Pydantic model class's fields that have a `default_factory`."""
    if not _is_model(call):
        return set()
    names = set()
    for name, field in call.model_fields.items():
        if field.default_factory is not None:
            names.update((name, field.alias or name))
    return names


def _constrained(annotation: Any, checks: tuple[Any, ...]) -> Any:
    """`annotation` with its `checks`, for the OpenAPI document's schema."""
    if annotation is inspect.Parameter.empty:
        return str
    if not checks:
        return annotation
    inner, optional = _unwrap_optional(annotation)
    constrained = typing.Annotated[(inner, *checks)]
    return Optional[constrained] if optional else constrained


def _where(call: Callable[..., Any]) -> str:
    return getattr(call, "__qualname__", None) or repr(call)


class _Context:
    __slots__ = ("req", "stack", "exits", "cache", "errors", "background", "json", "cookies", "form", "body", "response", "app", "request", "websocket")

    def __init__(self, req: HttpRequest, stack: contextlib.AsyncExitStack, body: Optional[int] = None, app: Any = None) -> None:
        self.req = req
        self.stack = stack
        # Whether a `yield` dependency put its exit code on `stack`.
        self.exits = False
        # The `App` serving the request (`request.app`), and the `Request` handed out, one
        # for the handler and its dependencies alike.
        self.app = app
        self.request: Optional[Request] = None
        # What the route's body is (`Plan.body`): JSON, a form, or none read.
        self.body = body
        self.cache: dict[Any, Any] = {}
        self.errors: list[Any] = []
        self.background: Optional[BackgroundTasks] = None
        self.json: Any = _MISSING
        self.cookies: Optional[dict[str, str]] = None
        self.form: Optional[dict[str, list[Any]]] = None
        # The `HttpResponse` parameter handed to the handler and its dependencies, if asked.
        self.response: Optional[HttpResponse] = None
        # A WebSocket route's connection.
        self.websocket: Optional[WebSocket] = None

    def invalid(self) -> RequestValidationError:
        """The `RequestValidationError` of the errors so far, with the body as received."""
        return RequestValidationError(self.errors, body=self.received())

    def received(self) -> Any:
        """The body as FastAPI hands it to a `RequestValidationError`, when the route reads
        one: a form as a dict (a name sent several times: the list of its values); JSON as
        its value, or its text when it is not JSON, or the bytes when the content type is not
        JSON's; `None` when empty or not read. Only wanted on errors, so worked out then."""
        if self.body == FORM:
            if self.form is None:
                self.form = forms.parse(self.req.header("content-type"), bytes(self.req.body))
            return {name: values[0] if len(values) == 1 else values for name, values in self.form.items()}
        raw = bytes(self.req.body) if self.body == BODY else b""
        if not raw:
            return None
        if not _is_json(self.req.header("content-type")):
            return raw
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw.decode("utf-8", "replace")


def _json_body(ctx: _Context) -> bytes:
    """The request body, refused with `415` when its content type says it is not JSON (JSON's
    own types, `application/json` and `application/*+json`, and no content type at all are
    read as JSON)."""
    raw = bytes(ctx.req.body)
    content_type = ctx.req.header("content-type")
    if raw and not _is_json(content_type):
        raise HTTPException(415, f"Unsupported Media Type: expected application/json, got {content_type}")
    # A UTF-8 byte order mark, which `json.loads` (so FastAPI) skips and Pydantic refuses.
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def _is_json(content_type: Optional[str]) -> bool:
    """Whether a body of this content type is read as JSON: none, `application/json` or
    `application/*+json`."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _body_json(ctx: _Context) -> Any:
    if ctx.json is _MISSING:
        raw = _json_body(ctx)
        if not raw:
            ctx.json = None
        else:
            try:
                ctx.json = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                ctx.errors.append(_json_invalid(exc))
                ctx.json = _INVALID
    return ctx.json


# A body that is not JSON: reported once, its members not reported missing besides.
_INVALID = object()


def _json_invalid(exc: Exception) -> dict[str, Any]:
    """FastAPI's error for a body `json.loads` refused: the character where it stopped in the
    location (`["body", 9]`) and why in `ctx.error`."""
    if isinstance(exc, json.JSONDecodeError):
        return {"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error", "input": {}, "ctx": {"error": exc.msg}}
    # Not UTF-8, or nested past the interpreter's recursion limit: no position to give.
    return {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": {}, "ctx": {"error": str(exc) or type(exc).__name__}}


def _validate_model(p: _Param, ctx: _Context, embed: bool) -> Any:
    from pydantic import ValidationError

    prefix: list[Any] = ["body", p.alias] if embed else ["body"]
    raw = b""
    try:
        if embed:
            data = _body_json(ctx)
            if data is _INVALID:
                return None
            value = data.get(p.alias, _MISSING) if isinstance(data, dict) else _MISSING
            if value is _MISSING:
                return _default(p, ctx, prefix)
            return p.model.validate_python(value)
        raw = _json_body(ctx)
        if not raw:
            return _default(p, ctx, prefix)
        return p.model.validate_json(raw)
    except ValidationError as exc:
        try:
            errors = json.loads(exc.json(include_url=False))
        except ValueError:
            # An input Pydantic's JSON cannot say: the body's own bytes, when they are not UTF-8.
            errors = [{**e, "input": {}} for e in exc.errors(include_url=False, include_context=False)]
        for e in errors:
            loc = list(e.get("loc", ()))
            if e.get("type") == "json_invalid":
                try:
                    json.loads(raw)
                except (ValueError, RecursionError) as refused:
                    # As FastAPI, which parses with `json.loads` before validating.
                    ctx.errors.append(_json_invalid(refused))
                    continue
                e = {**e, "msg": "JSON decode error"}
            ctx.errors.append({**e, "loc": prefix + loc})
        return None


# What a dependency whose parameters are invalid gives (it is not called).
_UNSOLVED = object()


async def solve(plan: Plan, ctx: _Context) -> dict[str, Any]:
    """The keyword arguments for `plan.call`, running its dependencies first."""
    for extra in plan.extra:
        await _run_dependency(extra, ctx, True)
    kwargs: dict[str, Any] = {}
    # As FastAPI: the dependencies first, in order (one may refuse the request, with a 401
    # say, before the other parameters are checked), then the parameters.
    for p in plan.params:
        if p.kind == DEPENDENCY:
            assert p.plan is not None
            kwargs[p.name] = await _run_dependency(p.plan, ctx, p.use_cache)
    req = ctx.req
    for p in plan.params:
        kind = p.kind
        try:
            if kind == DEPENDENCY:
                continue
            if kind == PATH:
                kwargs[p.name] = p.convert(req.param(p.alias), ["path", p.alias])
            elif kind == QUERY or kind == HEADER or kind == COOKIE or kind == FORM:
                value = _read(p, ctx)
                if value is not _OMIT:
                    kwargs[p.name] = value
            elif kind == REQUEST:
                kwargs[p.name] = req
            elif kind == STARLETTE:
                if ctx.request is None:
                    ctx.request = ctx.websocket or Request(req, ctx.app)
                kwargs[p.name] = ctx.request
            elif kind == WEBSOCKET:
                if ctx.websocket is None:
                    raise TypeError(f"{_where(plan.call)}: a WebSocket parameter ({p.name}) needs a WebSocket route (@app.websocket)")
                kwargs[p.name] = ctx.websocket
            elif kind == BODY:
                value = _validate_model(p, ctx, plan.embed)
                if value is not _OMIT:
                    kwargs[p.name] = value
            elif kind == BACKGROUND:
                if ctx.background is None:
                    ctx.background = BackgroundTasks()
                kwargs[p.name] = ctx.background
            elif kind == SCOPES:
                kwargs[p.name] = SecurityScopes(list(plan.scopes))
            elif kind == RESPONSE:
                if ctx.response is None:
                    ctx.response = HttpResponse(b"", status=_UNSET_STATUS)
                kwargs[p.name] = ctx.response
        except _Invalid as invalid:
            ctx.errors.extend(invalid.errors)
    return kwargs


_LOC = {QUERY: "query", HEADER: "header", COOKIE: "cookie", FORM: "body"}


def _read(p: _Param, ctx: _Context) -> Any:
    """A query, header, cookie or form parameter's value, its default, or a `missing` error."""
    req = ctx.req
    kind = p.kind
    loc = [_LOC[kind], p.alias]
    raw: Any
    if kind == FORM:
        if ctx.form is None:
            ctx.form = forms.parse(req.header("content-type"), bytes(req.body))
        values = ctx.form.get(p.alias)
        raw = (values if p.many else values[0]) if values else None
        # As FastAPI: an empty field (an HTML form's blank input) is not sent.
        if raw == "":
            raw = None
    elif p.many:
        raw = req.query_list(p.alias) if kind == QUERY else req.header_list(p.alias)
        if not raw:
            raw = None
    elif kind == QUERY:
        raw = req.query(p.alias)
    elif kind == HEADER:
        values = req.header_list(p.alias)
        raw = values[0] if values else None
    else:
        if ctx.cookies is None:
            ctx.cookies = req.cookies
        raw = ctx.cookies.get(p.alias)
    if raw is not None:
        return p.convert(raw, loc)
    return _default(p, ctx, loc)


def _default(p: _Param, ctx: _Context, loc: list[Any]) -> Any:
    """What a parameter that was not sent gets: its default, or a `missing` error."""
    if p.factory is not None:
        return p.factory()
    if p.default is not _MISSING:
        return _fresh(p.default)
    return _missing(ctx, loc)


def _missing(ctx: _Context, loc: list[Any]) -> None:
    ctx.errors.append(_error("missing", loc, "Field required", None))


def _overridden(plan: Plan, override: Callable[..., Any]) -> Plan:
    """The plan of `override`, standing in for `plan`'s dependency (FastAPI's
    `app.dependency_overrides[dependency] = override`): its own parameters are read, its
    own dependencies run."""
    stand_in = plan.overrides.get(override)
    if stand_in is None:
        stand_in = plan.overrides[override] = Plan(override, plan.path_names, scopes=plan.scopes, declares=plan.uses_scopes)
    return stand_in


async def _run_dependency(plan: Plan, ctx: _Context, use_cache: bool) -> Any:
    overrides = getattr(ctx.app, "dependency_overrides", None)
    if overrides:
        override = overrides.get(plan.call)
        if override is not None:
            plan = _overridden(plan, override)
    if use_cache and plan.cache_key in ctx.cache:
        return ctx.cache[plan.cache_key]
    errors = len(ctx.errors)
    kwargs = await solve(plan, ctx)
    if len(ctx.errors) > errors or any(value is _UNSOLVED for value in kwargs.values()):
        # Its parameters (or a dependency's) are invalid: not called, as in FastAPI; the
        # `422` is raised once every parameter of the request is read.
        if use_cache:
            ctx.cache[plan.cache_key] = _UNSOLVED
        return _UNSOLVED
    if plan.is_async_gen or plan.is_gen:
        ctx.exits = True
    if plan.is_async_gen:
        value = await ctx.stack.enter_async_context(contextlib.asynccontextmanager(plan.call)(**kwargs))
    elif plan.is_gen:
        # Plain `def` dependencies run in the thread pool, as in FastAPI: they may block.
        value = await enter_in_threadpool(contextlib.contextmanager(plan.call)(**kwargs), ctx.stack)
    elif plan.is_async:
        value = await plan.call(**kwargs)
    else:
        value = await run_in_threadpool(plan.call, **kwargs)
    if use_cache:
        ctx.cache[plan.cache_key] = value
    return value
