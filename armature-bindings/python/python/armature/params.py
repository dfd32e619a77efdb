"""Dependency injection and parameter binding: what a handler's signature asks for.

Each route's signature is read once, when the app is built, into a plan; per request the
plan fills the arguments from the path, the query, the JSON body (Pydantic models) and
`Depends()` providers. Errors are collected and answered with FastAPI's `422` body.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import typing
from typing import Any, Callable, Optional, Union

from ._armature import HttpRequest
from .exceptions import HTTPException, RequestValidationError

logger = logging.getLogger("armature")


class Depends:
    """Marks a parameter as provided by `dependency` (a function, async function,
    generator or async generator for setup/cleanup, or a class). Without an argument the
    parameter's annotation is the dependency. With `use_cache` (the default) one request
    calls each dependency once."""

    __slots__ = ("dependency", "use_cache")

    def __init__(self, dependency: Optional[Callable[..., Any]] = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__name__", repr(self.dependency))
        return f"Depends({name})"


class BackgroundTasks:
    """Work to run after the response has been handed to the server. Ask for it as a
    parameter (`tasks: BackgroundTasks`) and `add_task(func, *args, **kwargs)`; async
    functions run on the loop, plain ones in the default thread pool."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.tasks.append((func, args, kwargs))

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        for func, args, kwargs in self.tasks:
            try:
                if inspect.iscoroutinefunction(func):
                    await func(*args, **kwargs)
                else:
                    await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))
            except (Exception, KeyboardInterrupt, SystemExit):  # noqa: BLE001 - a failing task must not stop the others, nor the server
                logger.exception("Exception in a background task")


# ----------------------------------------------------------------------------- conversions

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}
_MISSING = object()


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
            try:
                # ASCII digits only: Python's int() also reads other scripts' digits, Pydantic not.
                if not raw.isascii():
                    raise ValueError(raw)
                return int(raw.strip())
            except ValueError:
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
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(annotation)

    def to_other(raw: str, loc: list[Any]) -> Any:
        try:
            return adapter.validate_python(raw)
        except ValidationError as exc:
            errors = json.loads(exc.json(include_url=False))
            raise _Invalid(*[{**e, "loc": loc + list(e["loc"])} for e in errors])

    return to_other


class _Invalid(Exception):
    def __init__(self, *errors: dict[str, Any]) -> None:
        self.errors = list(errors)


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and hasattr(annotation, "model_validate_json") and hasattr(annotation, "model_fields")


def _is_body(annotation: Any) -> bool:
    """Whether a parameter is read from the body, as FastAPI reads it: a model, and a list,
    set or tuple of models or a dict (a query string cannot carry those)."""
    if _is_model(annotation):
        return True
    origin = typing.get_origin(annotation) or annotation
    if origin is dict:
        return True
    if origin in (list, tuple, set, frozenset):
        return any(_is_model(a) for a in typing.get_args(annotation))
    return False


def _fresh(default: Any) -> Any:
    """A default to hand one request: a copy when it is a mutable container, so what a handler
    does to it (`tags.append(...)`) is not seen by the next request."""
    return default.copy() if isinstance(default, (list, dict, set, bytearray)) else default


# ----------------------------------------------------------------------------- plans

REQUEST, BACKGROUND, DEPENDENCY, PATH, QUERY, BODY = range(6)


class _Param:
    __slots__ = ("name", "kind", "convert", "default", "model", "plan", "use_cache", "alias")

    def __init__(self, name: str, kind: int) -> None:
        self.name = name
        self.kind = kind
        self.convert: Any = None
        self.default: Any = _MISSING
        # A body parameter's validator: a Pydantic TypeAdapter of its annotation.
        self.model: Any = None
        self.plan: Optional[Plan] = None
        self.use_cache = True
        self.alias = name


class Plan:
    """How to call one function (a handler or a dependency) for a request."""

    def __init__(self, call: Callable[..., Any], path_names: set[str], extra: tuple[Depends, ...] = ()) -> None:
        self.call = call
        self.params: list[_Param] = []
        self.extra: list[Plan] = []
        unwrapped = inspect.unwrap(call)
        target = unwrapped.__init__ if inspect.isclass(unwrapped) else unwrapped  # type: ignore[misc]
        self.is_async = inspect.iscoroutinefunction(unwrapped) or inspect.iscoroutinefunction(getattr(unwrapped, "__call__", None))
        self.is_gen = inspect.isgeneratorfunction(unwrapped)
        self.is_async_gen = inspect.isasyncgenfunction(unwrapped)
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:  # noqa: BLE001 - unresolvable hints: treat as unannotated
            hints = {}
        signature = inspect.signature(call)
        for name, parameter in signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = hints.get(name, parameter.annotation)
            default = parameter.default
            marker = None
            if typing.get_origin(annotation) is typing.Annotated:
                args = typing.get_args(annotation)
                annotation = args[0]
                marker = next((m for m in args[1:] if isinstance(m, Depends)), None)
            if isinstance(default, Depends):
                marker, default = default, inspect.Parameter.empty
            self.params.append(self._param(name, annotation, default, marker, path_names))
        self.extra = [Plan(d.dependency, path_names) for d in extra if d.dependency is not None]
        bodies = [p for p in self.params if p.kind == BODY]
        self.embed = len(bodies) > 1
        self.simple = not self.extra and all(p.kind in (REQUEST, PATH) for p in self.params)

    def _param(self, name: str, annotation: Any, default: Any, marker: Optional[Depends], path_names: set[str]) -> _Param:
        if marker is not None:
            p = _Param(name, DEPENDENCY)
            dependency = marker.dependency if marker.dependency is not None else annotation
            p.plan = Plan(dependency, path_names)
            p.use_cache = marker.use_cache
            return p
        if annotation is HttpRequest or (annotation is inspect.Parameter.empty and name in ("req", "request")):
            return _Param(name, REQUEST)
        if annotation is BackgroundTasks:
            return _Param(name, BACKGROUND)
        inner, optional = _unwrap_optional(annotation)
        if name in path_names:
            p = _Param(name, PATH)
            p.convert = _scalar(inner)
            return p
        if _is_body(inner):
            from pydantic import TypeAdapter

            p = _Param(name, BODY)
            p.model = TypeAdapter(inner)
            p.default = None if optional and default is inspect.Parameter.empty else default
            if p.default is inspect.Parameter.empty:
                p.default = _MISSING
            return p
        p = _Param(name, QUERY)
        origin = typing.get_origin(inner)
        if origin in (list, tuple, set, frozenset):
            (item,) = typing.get_args(inner)[:1] or (str,)
            p.convert = ("list", _scalar(item))
        else:
            p.convert = _scalar(inner)
        if default is not inspect.Parameter.empty:
            p.default = default
        elif optional:
            p.default = None
        return p


class _Context:
    __slots__ = ("req", "stack", "cache", "errors", "background", "json")

    def __init__(self, req: HttpRequest, stack: contextlib.AsyncExitStack) -> None:
        self.req = req
        self.stack = stack
        self.cache: dict[Any, Any] = {}
        self.errors: list[Any] = []
        self.background: Optional[BackgroundTasks] = None
        self.json: Any = _MISSING


def _json_body(ctx: _Context) -> bytes:
    """The request body, refused with `415` when its content type says it is not JSON (JSON's
    own types, `application/json` and `application/*+json`, and no content type at all are
    read as JSON)."""
    raw = bytes(ctx.req.body)
    content_type = ctx.req.header("content-type")
    if raw and content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise HTTPException(415, f"Unsupported Media Type: expected application/json, got {content_type}")
    return raw


def _body_json(ctx: _Context) -> Any:
    if ctx.json is _MISSING:
        raw = _json_body(ctx)
        if not raw:
            ctx.json = None
        else:
            try:
                ctx.json = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                ctx.errors.append({"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": {}, "ctx": {"error": str(exc)}})
                ctx.json = None
    return ctx.json


def _validate_model(p: _Param, ctx: _Context, embed: bool) -> Any:
    from pydantic import ValidationError

    prefix: list[Any] = ["body", p.name] if embed else ["body"]
    try:
        if embed:
            data = _body_json(ctx)
            value = data.get(p.name, _MISSING) if isinstance(data, dict) else _MISSING
            if value is _MISSING:
                if p.default is not _MISSING:
                    return _fresh(p.default)
                ctx.errors.append(_error("missing", prefix, "Field required", None))
                return None
            return p.model.validate_python(value)
        raw = _json_body(ctx)
        if not raw:
            if p.default is not _MISSING:
                return _fresh(p.default)
            ctx.errors.append(_error("missing", prefix, "Field required", None))
            return None
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
                e = {**e, "msg": "JSON decode error"}
            ctx.errors.append({**e, "loc": prefix + loc})
        return None


async def solve(plan: Plan, ctx: _Context) -> dict[str, Any]:
    """The keyword arguments for `plan.call`, running its dependencies first."""
    for extra in plan.extra:
        await _run_dependency(extra, ctx, True)
    kwargs: dict[str, Any] = {}
    req = ctx.req
    for p in plan.params:
        kind = p.kind
        try:
            if kind == PATH:
                kwargs[p.name] = p.convert(req.param(p.alias), ["path", p.alias])
            elif kind == QUERY:
                if isinstance(p.convert, tuple):
                    values = req.query_list(p.alias)
                    if not values:
                        kwargs[p.name] = _fresh(p.default) if p.default is not _MISSING else _missing(ctx, ["query", p.alias])
                    else:
                        kwargs[p.name] = [p.convert[1](v, ["query", p.alias, i]) for i, v in enumerate(values)]
                else:
                    raw = req.query(p.alias)
                    if raw is None:
                        kwargs[p.name] = _fresh(p.default) if p.default is not _MISSING else _missing(ctx, ["query", p.alias])
                    else:
                        kwargs[p.name] = p.convert(raw, ["query", p.alias])
            elif kind == REQUEST:
                kwargs[p.name] = req
            elif kind == BODY:
                kwargs[p.name] = _validate_model(p, ctx, plan.embed)
            elif kind == BACKGROUND:
                if ctx.background is None:
                    ctx.background = BackgroundTasks()
                kwargs[p.name] = ctx.background
            else:  # DEPENDENCY
                assert p.plan is not None
                kwargs[p.name] = await _run_dependency(p.plan, ctx, p.use_cache)
        except _Invalid as invalid:
            ctx.errors.extend(invalid.errors)
    return kwargs


def _missing(ctx: _Context, loc: list[Any]) -> None:
    ctx.errors.append(_error("missing", loc, "Field required", None))


async def _run_dependency(plan: Plan, ctx: _Context, use_cache: bool) -> Any:
    if use_cache and plan.call in ctx.cache:
        return ctx.cache[plan.call]
    kwargs = await solve(plan, ctx)
    if ctx.errors:
        raise RequestValidationError(ctx.errors)
    if plan.is_async_gen:
        value = await ctx.stack.enter_async_context(contextlib.asynccontextmanager(plan.call)(**kwargs))
    elif plan.is_gen:
        value = ctx.stack.enter_context(contextlib.contextmanager(plan.call)(**kwargs))
    elif plan.is_async:
        value = await plan.call(**kwargs)
    else:
        value = plan.call(**kwargs)
    if use_cache:
        ctx.cache[plan.call] = value
    return value
