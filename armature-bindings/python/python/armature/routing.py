"""`Router` / `APIRouter`: routes declared with decorators, grouped under prefixes.

Only the declaration lives here: the routes are compiled into Armature's Rust router, which
matches paths (static > parameter > catch-all; routes of one shape, such as `/items/{id:int}`
and `/items/{name}`, in the order they were declared), answers 404/405/HEAD itself and
reports conflicting or unreachable routes by name when the app is built.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from urllib.parse import quote
from typing import Any, Callable, Optional, Sequence, TypeVar

from . import _runtime, responses
from ._armature import HttpRequest, HttpResponse
from .exceptions import NoMatchFound, RequestValidationError
from .requests import Request
from .concurrency import run_in_threadpool
from .convertors import CONVERTOR_TYPES
from .params import REQUEST, STARLETTE, _Invalid, Depends, Plan, _Context, _where, carried, solve
from .response_model import filter_for
from .websockets import WebSocket, WebSocketDisconnect

F = TypeVar("F", bound=Callable[..., Any])

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}|:([A-Za-z_][A-Za-z0-9_]*)")

# Starlette's path convertors (`/items/{id:int}`, `convertors.CONVERTOR_TYPES`): a route registers
# its path without them; Rust checks the values of the routes that have some (one that does
# not fit is a path no route matches: `404`), and `request.path_params` gives the converted
# value.


def _template(path: str) -> str:
    """FastAPI's `{name:path}` is Armature's catch-all `{*name}`; `{name:str}` is `{name}`."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):(?:path|(str))\}", lambda m: "{%s}" % m.group(1) if m.group(2) else "{*%s}" % m.group(1), path)


def _convertors(path: str, where: str) -> dict[str, Optional[str]]:
    """The parameters of a route template, in order, each with its convertor (`None` for
    none); a `ValueError` naming the route for a convertor Starlette does not have (Starlette
    asserts "Unknown path convertor")."""
    found: dict[str, Optional[str]] = {}
    for m in _PARAM.finditer(path):
        name, convertor = m.group(2) or m.group(4), m.group(3)
        if convertor is not None and (m.group(1) or convertor not in CONVERTOR_TYPES):
            what = "a catch-all takes no convertor" if m.group(1) else "unknown path convertor"
            known = ", ".join(CONVERTOR_TYPES)
            raise ValueError(f"{where}: {what} {convertor!r} in {path!r} (the convertors: {known}; armature.convertors.register_url_convertor adds one)")
        found[name] = None if convertor == "str" else convertor
    return found


def _plain(path: str) -> str:
    """The template without its convertors (`/items/{id:int}` is `/items/{id}`): the router's
    pattern, FastAPI's `path_format`."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):[A-Za-z_][A-Za-z0-9_]*\}", r"{\1}", path)


def _rendered(convertor: Optional[str], value: Any, catch_all: bool) -> str:
    """A parameter's value in a path, as its convertor's `to_string` renders it (Starlette's
    `int`, `float` and `uuid` check the value); without one, or `str` or `path` (which cannot
    be replaced), percent-encoded (a catch-all keeps its slashes)."""
    if convertor not in (None, "str", "path"):
        return CONVERTOR_TYPES[convertor].to_string(value)
    return quote(str(value), safe="/" if catch_all else "")


def _filled(template: str, params: dict[str, Any]) -> Optional[str]:
    """`template` with its parameters set from `params` (percent-encoded; a catch-all keeps its
    slashes), or `None` unless `params` names exactly its parameters."""
    if set(_path_order(template)) != set(params):
        return None

    def value(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(4)
        return _rendered(match.group(3), params[name], bool(match.group(1)))

    return _PARAM.sub(value, template)


def _path_order(path: str) -> list[str]:
    """The parameter names of a route template, in order."""
    return [m.group(2) or m.group(4) for m in _PARAM.finditer(path)]


class Route:
    """One method on one path, and the function answering it."""

    __slots__ = ("method", "path", "handler", "status_code", "dependencies", "tags", "documentation", "convertors", "_plan")

    def __init__(
        self,
        method: str,
        path: str,
        handler: Callable[..., Any],
        status_code: Optional[int],
        dependencies: Sequence[Depends],
        tags: Sequence[str] = (),
        documentation: Optional[dict[str, Any]] = None,
    ) -> None:
        self.method = method.upper()
        # The template as declared, convertors included (`/items/{id:int}`), as Starlette's.
        self.path = path
        # Each path parameter, in order, with its convertor (`None` for none).
        self.convertors = _convertors(path, f"{self.method} {path}")
        self.handler = handler
        self.status_code = status_code
        self.dependencies = tuple(dependencies)
        self.tags = tuple(tags)
        # FastAPI's keywords for the OpenAPI document (`summary`, `response_model`, ...).
        self.documentation = documentation or {}
        render = self.documentation.get("response_class")
        if render in _CLASSES:
            # `armature.responses`' FastAPI names: the renderer each stands for.
            render = self.documentation["response_class"] = _CLASSES[render]
        if render is not None and render not in RENDERERS:
            raise TypeError(
                f"{self.method} {path}: response_class={render!r}: pass HTMLResponse, PlainTextResponse, "
                "JSONResponse, RedirectResponse or FileResponse (armature.responses), or "
                "HttpResponse.html, .text or .json, or return an HttpResponse"
            )
        self._plan: Optional[Plan] = None

    # FastAPI's `APIRoute` attributes, for `generate_unique_id_function` and code reading
    # `app.routes`.
    @property
    def name(self) -> str:
        return self.documentation.get("name") or getattr(self.handler, "__name__", "handler")

    @property
    def methods(self) -> set[str]:
        return {self.method}

    @property
    def path_format(self) -> str:
        """The path without its convertors (`/items/{id}`), as FastAPI's."""
        return _plain(self.path)

    def checked(self) -> Optional[list[str]]:
        """The convertor of each path parameter, in order, for Rust to check (`"str"` for
        none), or `None` when the route has no convertor (nothing to check)."""
        if not any(self.convertors.values()):
            return None
        return [c or "str" for c in self.convertors.values()]

    def plan(self) -> Plan:
        """How the handler is called, read from its signature once, for the endpoint and the
        OpenAPI document alike."""
        if self._plan is None:
            self._plan = Plan(self.handler, self.convertors, self.dependencies)
        return self._plan

    def moved(self, path: str, dependencies: Sequence[Depends], tags: Sequence[str], documentation: dict[str, Any]) -> "Route":
        """This route at `path`, behind `dependencies` too, with `tags` before its own and
        `documentation` for its own."""
        return Route(self.method, path, self.handler, self.status_code, [*dependencies, *self.dependencies], [*tags, *self.tags], documentation)

    def endpoint(self, app: Any = None) -> Callable[[HttpRequest], Any]:
        """What the Rust engine calls with each request: returns the handler's value, or a
        coroutine that the engine steps itself. `app` is what `request.app` gives."""
        response = filter_for(self.handler, self.documentation)
        render = self.documentation.get("response_class")
        if render is not None:
            response = rendered(render, response, self.status_code or RENDERED_STATUS.get(render, 200))
        return compile_endpoint(self.plan(), self.status_code, response, app)


def _redirect(url: Any, status: int = 307) -> HttpResponse:
    """`response_class=RedirectResponse`: the handler returns the URL."""
    return responses.RedirectResponse(url, status_code=status)


def _file(path: Any, status: int = 200) -> HttpResponse:
    """`response_class=FileResponse`: the handler returns the file's path."""
    return responses.FileResponse(path, status_code=status)


# What `response_class=` takes, with the media type each sends, `None` for no fixed one
# (FastAPI's `HTMLResponse`, `PlainTextResponse`, `JSONResponse`, `RedirectResponse`,
# `FileResponse`), and the status each sends when the route names none.
RENDERERS = {HttpResponse.html: "text/html", HttpResponse.text: "text/plain", HttpResponse.json: "application/json", _redirect: None, _file: None}
RENDERED_STATUS = {_redirect: 307}
_CLASSES = {
    responses.HTMLResponse: HttpResponse.html,
    responses.PlainTextResponse: HttpResponse.text,
    responses.JSONResponse: HttpResponse.json,
    responses.RedirectResponse: _redirect,
    responses.FileResponse: _file,
}


def rendered(render: Callable[..., HttpResponse], response: Optional[Callable[[Any], Any]], status: int) -> Callable[[Any], Any]:
    """`response_class=render`: what the handler returns (through `response`, its response
    model, first) is sent by `render` with the route's status, unless it is an HttpResponse."""

    def send(value: Any) -> Any:
        if response is not None:
            value = response(value)
        if isinstance(value, HttpResponse):
            return value
        return render(value, status=status)

    return send


# No result yet: what `endpoint` holds until the handler returns.
_SWALLOWED = object()


def compile_endpoint(plan: Plan, status_code: Optional[int] = None, response: Optional[Callable[[Any], Any]] = None, app: Any = None) -> Callable[[HttpRequest], Any]:
    handler = plan.call
    is_async = plan.is_async

    if plan.simple and is_async and status_code is None and response is None:
        # Fast path: no dependencies, no body, no query: the engine gets the handler's own
        # coroutine, with at most a thin call to pass path parameters by name.
        params = plan.params
        if len(params) == 1 and params[0].kind == REQUEST:
            return handler
        if not params:
            return lambda req: handler()
        binders = [(p.name, p.kind, p.convert, p.alias) for p in params]

        def bind(req: HttpRequest) -> Any:
            kwargs = {}
            errors = []
            for name, kind, convert, alias in binders:
                if kind == REQUEST:
                    kwargs[name] = req
                    continue
                if kind == STARLETTE:
                    kwargs[name] = Request(req, app)
                    continue
                try:
                    kwargs[name] = convert(req.param(alias), ["path", alias])
                except _Invalid as invalid:
                    # What else a conversion raises (a registered convertor's `convert`
                    # failing) is the app's failure, a `500`, as in Starlette.
                    errors.extend(invalid.errors)
            if errors:
                raise RequestValidationError(errors)
            return handler(**kwargs)

        return bind

    async def endpoint(req: HttpRequest) -> Any:
        result: Any = _SWALLOWED
        answered = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                ctx = _Context(req, stack, plan.body, app)
                kwargs = await solve(plan, ctx)
                if ctx.errors:
                    raise ctx.invalid()
                if is_async:
                    result = await handler(**kwargs)
                else:
                    # Plain `def` handlers run in the thread pool, off the event loop (with the
                    # request's context variables).
                    result = await run_in_threadpool(handler, **kwargs)
                # Serialized before the dependencies' exit code runs, as in FastAPI: a response
                # model may read attributes that need the session a `yield` dependency closes
                # (an ORM relationship loaded lazily).
                # An HttpResponse the handler returns is sent as it is; anything else is made one
                # (by its response model and `response_class`, else as JSON with the route's
                # status), carrying what the handler set on its `HttpResponse` parameter.
                own = isinstance(result, HttpResponse)
                if response is not None:
                    result = response(result)
                if not own and ctx.response is not None:
                    result = carried(result, ctx.response, status_code)
                elif status_code is not None and not isinstance(result, HttpResponse):
                    result = HttpResponse.json(result, status=status_code)
                if ctx.exits and isinstance(result, HttpResponse):
                    # A streamed body is still to be made: the `yield` dependencies' exit code
                    # runs once it is sent, as in FastAPI (0.118 on), so it may use their session.
                    later = stack.pop_all()
                    if not result._stream_then(later.aclose):
                        stack.push_async_exit(later)
                answered = True
        except Exception as exc:  # noqa: BLE001 - re-raised unless the handler had answered
            if not answered:
                raise
            # The handler answered and a `yield` dependency's exit code then failed: as in
            # FastAPI (which runs that code once the answer is sent) the answer stands, and
            # the failure is logged (and raised by a TestClient that raises them).
            _runtime.unhandled(exc)
        if result is _SWALLOWED:
            # The handler (or a dependency) raised, and a `yield` dependency's `except` did
            # not raise again: there is no answer. FastAPI refuses the same way.
            raise RuntimeError(
                f"{_where(handler)}: no response: the handler or a dependency raised, and a "
                "dependency with `yield` caught the exception (a bare `except` or `except "
                "Exception`) without raising it again; re-raise it (or raise an HTTPException)"
            )
        if ctx.background is not None and ctx.background.tasks:
            from ._runtime import background

            background(ctx.background)
        return result

    return endpoint


class WebSocketRoute(Route):
    """A WebSocket route: `@router.websocket(path)`'s handler, given a `WebSocket` (see
    `armature.websockets`). Never in the OpenAPI document; HTTP middleware and exception
    handlers do not run for it (as in Starlette)."""

    __slots__ = ()

    def __init__(self, path: str, handler: Callable[..., Any], dependencies: Sequence[Depends] = (), name: Optional[str] = None) -> None:
        if not inspect.iscoroutinefunction(inspect.unwrap(handler)):
            raise TypeError(f"websocket({path!r}): {_where(handler)} must be an `async def` function")
        super().__init__(WEBSOCKET_METHOD, path, handler, None, dependencies, (), {"name": name} if name else {})

    def moved(self, path: str, dependencies: Sequence[Depends], tags: Sequence[str], documentation: dict[str, Any]) -> "WebSocketRoute":
        return WebSocketRoute(path, self.handler, [*dependencies, *self.dependencies], self.documentation.get("name"))

    def endpoint(self, app: Any = None) -> Callable[[HttpRequest], Any]:
        plan = self.plan()
        handler = plan.call

        async def serve(req: HttpRequest) -> None:
            websocket = WebSocket(req, app)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    ctx = _Context(req, stack, None, app)
                    ctx.websocket = websocket
                    kwargs = await solve(plan, ctx)
                    if ctx.errors:
                        raise ctx.invalid()
                    await handler(**kwargs)
            except WebSocketDisconnect:
                pass  # the client left: nothing to answer
            except (Exception, *_runtime._FATAL_TO_THE_LOOP) as exc:  # noqa: BLE001 - answered (or closed) and logged
                # KeyboardInterrupt and SystemExit too: out of a Task they would stop the loop,
                # and with it every other connection (as for HTTP handlers).
                websocket._failed(exc)
            finally:
                websocket._finish()
                _runtime.websocket_done(req)

        def endpoint(req: HttpRequest) -> None:
            # A Task from the start (not stepped by the engine first, as HTTP handlers are):
            # `asyncio.timeout`, `wait_for` and `TaskGroup` need one, and a connection lives
            # long enough for the Task not to matter. Kept until done (the shutdown waits).
            _runtime._task(serve(req))

        return endpoint


# The method name WebSocket routes have for the Rust engine.
WEBSOCKET_METHOD = "WEBSOCKET"


class Router:
    """Routes declared with `@router.get(path)`, `.post`, `.put`, `.patch`, `.delete`,
    `.options`, `.head` or `.api_route(path, methods=[...])`.

    Paths use `{name}` parameters (`{name:path}` or `{*name}` for the rest of the path), with
    Starlette's convertors: `{id:int}`, `{x:float}`, `{key:uuid}` (`{name:str}` is `{name}`).
    Handlers may be `async def` (run on the event loop) or `def` (run in a thread pool).
    """

    def __init__(self, prefix: str = "", *, dependencies: Sequence[Depends] = (), tags: Sequence[str] = (), **documentation: Any) -> None:
        """FastAPI's router keywords for every route added to it: `responses`, `deprecated`,
        `include_in_schema`, `default_response_class` (the `response_class` of the routes that
        name none), `generate_unique_id_function` (the operation ids of the routes that name
        none, from the route: `route.name`, `.tags`, `.path_format`, `.methods`); `callbacks` is
        accepted."""
        _only_documentation(documentation, "Router", INCLUDE_DOCUMENTATION)
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"a prefix must start with '/' and not end with '/': {prefix!r}")
        self.prefix = prefix
        self.dependencies = list(dependencies)
        self.tags = list(tags)
        self.routes: list[Route] = []
        self.defaults = documentation

    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str] = ("GET",),
        *,
        status_code: Optional[int] = None,
        dependencies: Sequence[Depends] = (),
        **documentation: Any,
    ) -> None:
        _only_documentation(documentation, "route", ROUTE_DOCUMENTATION)
        documentation = _included(documentation, self.defaults)
        tags = [*self.tags, *documentation.pop("tags", ())]
        # As FastAPI: the prefix and the path joined as they are (`/items` + `/` is `/items/`).
        full = _template(self.prefix + path)
        for method in methods:
            self.routes.append(Route(method, full, handler, status_code, [*self.dependencies, *dependencies], tags, documentation))

    def url_path_for(self, name: str, /, **path_params: Any) -> str:
        """The path of the route called `name` (its `name=`, else its function's name), its
        parameters set from `path_params` (`app.url_path_for("get_user", user_id=7)` is
        `/users/7`), as Starlette's; `NoMatchFound` when no route of that name takes exactly
        those parameters. A mount's name gives its path with `path` after it."""
        for route in self.routes:
            if (route.documentation.get("name") or getattr(route.handler, "__name__", None)) == name:
                path = _filled(route.path, path_params)
                if path is not None:
                    return path
        for mount_path, _, mount_name in getattr(self, "mounts", ()):
            if mount_name == name and set(path_params) == {"path"}:
                rest = quote(str(path_params["path"]), safe="/").lstrip("/")
                return f"{mount_path.rstrip('/')}/{rest}"
        raise NoMatchFound(name, path_params)

    def add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Optional[Sequence[str]] = None,
        status_code: Optional[int] = None,
        dependencies: Sequence[Depends] = (),
        **documentation: Any,
    ) -> None:
        """FastAPI's name for `add_route`: routes `methods` (default `["GET"]`) on `path` to
        `endpoint`, with the keywords of `api_route`.

        ```python
        from armature import APIRouter

        async def health() -> dict:
            return {"ok": True}

        router = APIRouter()
        router.add_api_route("/health", health, methods=["GET", "HEAD"], tags=["ops"])
        ```
        """
        self.add_route(path, endpoint, methods or ("GET",), status_code=status_code, dependencies=dependencies, **documentation)

    def api_route(self, path: str, *, methods: Sequence[str] = ("GET",), status_code: Optional[int] = None, dependencies: Sequence[Depends] = (), **documentation: Any) -> Callable[[F], F]:
        """Routes `methods` on `path` to the decorated handler. FastAPI's keywords for the
        OpenAPI document (`tags`, `summary`, `description`, `response_model`, `responses`,
        `deprecated`, `operation_id`, `include_in_schema`, ...) shape this route's entry in
        `/openapi.json`; `response_model` and its `response_model_*` options also filter the
        answers (see `armature.response_model`). Any other keyword is a `TypeError`, so a
        misspelling is not silently ignored."""
        _only_documentation(documentation, "route", ROUTE_DOCUMENTATION)

        def decorate(handler: F) -> F:
            self.add_route(path, handler, methods, status_code=status_code, dependencies=dependencies, **documentation)
            return handler

        return decorate

    def websocket(self, path: str, name: Optional[str] = None, *, dependencies: Sequence[Depends] = ()) -> Callable[[F], F]:
        """Routes WebSocket connections to `path` to the decorated `async def` handler, which
        takes a `WebSocket` (and path, query, header and cookie parameters and dependencies,
        as HTTP handlers do); see `armature.websockets`."""

        def decorate(handler: F) -> F:
            self.add_api_websocket_route(path, handler, name=name, dependencies=dependencies)
            return handler

        return decorate

    def add_api_websocket_route(self, path: str, endpoint: Callable[..., Any], name: Optional[str] = None, *, dependencies: Sequence[Depends] = ()) -> None:
        """FastAPI's: `@router.websocket(path)` without the decorator."""
        full = _template(self.prefix + path)
        self.routes.append(WebSocketRoute(full, endpoint, [*self.dependencies, *dependencies], name))

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("DELETE",), **options)

    def options(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("OPTIONS",), **options)

    def head(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=("HEAD",), **options)

    def include_router(
        self,
        router: "Router",
        *,
        prefix: str = "",
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        **documentation: Any,
    ) -> None:
        """Adds every route of `router`, under `prefix` (on top of the router's own), behind
        `dependencies`, with `tags` in the OpenAPI document. FastAPI's `responses`,
        `deprecated` and `include_in_schema` apply to every route included (a route's own
        `responses` win for the same status); its other documentation keywords are accepted."""
        _only_documentation(documentation, "include_router", INCLUDE_DOCUMENTATION)
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"a prefix must start with '/' and not end with '/': {prefix!r}")
        for route in router.routes:
            # The keywords given here, then this router's own (`APIRouter(responses=...)`, the
            # app's `default_response_class`).
            merged = _included(_included(route.documentation, documentation), self.defaults)
            self.routes.append(route.moved(self.prefix + prefix + route.path, [*self.dependencies, *dependencies], [*self.tags, *tags], merged))


class APIRouter(Router):
    """FastAPI's name for a `Router` with a prefix: `APIRouter(prefix="/api/v1")`."""




# FastAPI's route keywords that shape its OpenAPI document or filter responses, accepted so
# that FastAPI code runs unchanged (see `openapi.py` for the ones the document uses).
ROUTE_DOCUMENTATION = frozenset({
    "tags", "summary", "description", "response_description", "responses", "deprecated",
    "operation_id", "include_in_schema", "name", "openapi_extra", "callbacks",
    "response_model", "response_model_include", "response_model_exclude",
    "response_model_by_alias", "response_model_exclude_unset", "response_model_exclude_defaults",
    "response_model_exclude_none", "response_class", "generate_unique_id_function",
})

# FastAPI's `include_router` keywords of the same kind.
INCLUDE_DOCUMENTATION = frozenset({
    "responses", "deprecated", "include_in_schema", "default_response_class", "callbacks",
    "generate_unique_id_function",
})


def _included(own: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A route's documentation under `include_router(**given)` (or a router's own keywords):
    the router's `responses` beneath the route's own, `deprecated` if either says so,
    `include_in_schema` only if both allow it, `default_response_class` for a route that names
    no `response_class`, `generate_unique_id_function` for a route that names none."""
    if not given:
        return own
    merged = dict(own)
    if given.get("default_response_class") is not None and "response_class" not in merged:
        merged["response_class"] = given["default_response_class"]
    if given.get("generate_unique_id_function") is not None and merged.get("generate_unique_id_function") is None:
        merged["generate_unique_id_function"] = given["generate_unique_id_function"]
    if given.get("responses"):
        merged["responses"] = {**given["responses"], **own.get("responses", {})}
    if given.get("deprecated"):
        merged["deprecated"] = True
    if given.get("include_in_schema") is False:
        merged["include_in_schema"] = False
    return merged


# FastAPI's application keywords of the same kind.
APP_DOCUMENTATION = frozenset({
    "title", "summary", "description", "version", "openapi_url", "docs_url", "redoc_url",
    "openapi_tags", "servers", "debug", "default_response_class", "root_path", "contact",
    "license_info", "terms_of_service", "swagger_ui_parameters", "separate_input_output_schemas",
    "root_path_in_servers", "generate_unique_id_function",
})


def _only_documentation(options: dict, where: str, allowed: frozenset = ROUTE_DOCUMENTATION) -> None:
    """A `TypeError` for keywords that are neither parameters nor FastAPI documentation."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
