"""The OpenAPI 3.1 document of an app, built from its routes as FastAPI builds its own: the
parameters and bodies the handlers' signatures ask for (dependencies included), Pydantic's
JSON Schemas for models under `components/schemas`, and the routes' documentation keywords.

`App` serves it at `/openapi.json` and Swagger UI at `/docs` (Armature's Rust docs layer, with
Swagger UI's files embedded: nothing is loaded from another origin).

```python
from pydantic import BaseModel
from armature import App

class User(BaseModel):
    name: str

app = App(title="Shop", version="1.2.0")

@app.post("/users", status_code=201, tags=["users"], summary="Create a user")
async def create_user(user: User) -> User:
    return user

doc = app.openapi()
assert doc["paths"]["/users"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/User"}
```
"""

from __future__ import annotations

import http
import inspect
import re
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from . import forms
from .params import BODY, COOKIE, FORM, HEADER, PATH, QUERY, Plan, _item, _Param, _unwrap_optional
from .response_model import declared
from .routing import RENDERED_STATUS, RENDERERS, WEBSOCKET_METHOD, _path_order
from .security import SecurityBase

if TYPE_CHECKING:
    from .app import App
    from .routing import Route

REF = "#/components/schemas/{model}"
_LOCATIONS = {PATH: "path", QUERY: "query", HEADER: "header", COOKIE: "cookie"}
# What a file part is in a schema.
_BINARY = {"type": "string", "format": "binary"}

# FastAPI's schemas of its 422 body, which every route with parameters can answer.
_VALIDATION_SCHEMAS = {
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "properties": {
            "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "array", "items": {"$ref": REF.format(model="ValidationError")}}},
    },
}


def document(app: "App") -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes (those not `include_in_schema=False`; not
    WebSocket routes, which OpenAPI has no words for)."""
    builder = _Schemas()
    operations = []
    for route in app.routes:
        if route.method != WEBSOCKET_METHOD and route.documentation.get("include_in_schema", True):
            operations.append((route, _Operation(route, builder)))
    builder.resolve()

    paths: dict[str, dict[str, Any]] = {}
    validation = False
    for route, operation in operations:
        rendered = operation.render(builder)
        validation = validation or operation.can_fail
        paths.setdefault(_openapi_path(route.path_format), {})[route.method.lower()] = rendered

    info: dict[str, Any] = {"title": app.title, "version": app.version}
    for key, name in (("summary", "summary"), ("description", "description"), ("terms_of_service", "termsOfService"), ("contact", "contact"), ("license_info", "license")):
        value = app.documentation.get(key)
        if value:
            info[name] = value
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    servers = list(app.documentation.get("servers") or [])
    # As FastAPI: behind a proxy's prefix, the document says where its paths are served.
    if app.root_path and app.documentation.get("root_path_in_servers", True):
        if app.root_path not in {server.get("url") for server in servers}:
            servers.insert(0, {"url": app.root_path})
    if servers:
        doc["servers"] = servers
    doc["paths"] = paths
    schemas = dict(builder.definitions)
    if validation:
        schemas.update(_VALIDATION_SCHEMAS)
    if schemas:
        doc["components"] = {"schemas": dict(sorted(schemas.items()))}
    security = {scheme.scheme_name: scheme.model for _, operation in operations for scheme, _scopes in operation.security}
    if security:
        doc.setdefault("components", {})["securitySchemes"] = security
    if app.documentation.get("openapi_tags"):
        doc["tags"] = list(app.documentation["openapi_tags"])
    return doc


class _Schemas:
    """Collects every type the document needs a schema of, then asks Pydantic for all of them
    at once, so models shared by several routes are defined once under `components`."""

    def __init__(self) -> None:
        self.wanted: list[tuple[int, str, Any]] = []
        self.results: dict[tuple[int, str], Any] = {}
        self.definitions: dict[str, Any] = {}

    def want(self, annotation: Any, mode: str = "validation") -> Optional[int]:
        """A key for the schema of `annotation`, or `None` when Pydantic cannot describe it
        (the document then leaves the schema out rather than fail)."""
        from pydantic import TypeAdapter

        try:
            adapter = TypeAdapter(annotation)
        except Exception:  # noqa: BLE001 - an arbitrary annotation: no schema for it
            return None
        key = len(self.wanted)
        self.wanted.append((key, mode, adapter))
        return key

    def resolve(self) -> None:
        from pydantic import TypeAdapter

        if not self.wanted:
            return
        try:
            self.results, definitions = TypeAdapter.json_schemas(self.wanted, ref_template=REF)
        except Exception:  # noqa: BLE001 - PydanticInvalidForJsonSchema and kin
            # One at a time, to drop the types Pydantic has no JSON Schema for (the document
            # then says nothing of them rather than not exist), then the rest together.
            describable = []
            for entry in self.wanted:
                try:
                    TypeAdapter.json_schemas([entry], ref_template=REF)
                except Exception:  # noqa: BLE001 - as above
                    continue
                describable.append(entry)
            if not describable:
                return
            self.results, definitions = TypeAdapter.json_schemas(describable, ref_template=REF)
        self.definitions = definitions.get("$defs", {})

    def get(self, key: Optional[int], mode: str = "validation") -> Optional[dict[str, Any]]:
        if key is None:
            return None
        return self.results.get((key, mode))


class _Operation:
    """One route's operation: what its signature reads, asked for before the schemas exist."""

    def __init__(self, route: "Route", schemas: _Schemas) -> None:
        self.route = route
        plan = route.plan()
        self.params: list[tuple[_Param, Optional[int]]] = []
        self.body: list[tuple[_Param, Optional[int]]] = []
        self.form: list[tuple[_Param, Any]] = []
        self.embed = False
        seen: set[tuple[int, str]] = set()
        hidden = False
        for p, owner in _walk(plan):
            if p.kind in _LOCATIONS and p.kind != PATH and p.documentation.get("include_in_schema") is False:
                hidden = True  # read all the same, as FastAPI, just not described
            elif p.kind in _LOCATIONS:
                if (p.kind, p.alias) not in seen:
                    seen.add((p.kind, p.alias))
                    self.params.append((p, schemas.want(p.annotation)))
            elif p.kind == BODY:
                self.embed = self.embed or owner.embed
                self.body.append((p, schemas.want(p.annotation)))
            elif p.kind == FORM:
                self.form.append((p, _form_schema(p, schemas)))
        self.embed = self.embed or len(self.body) > 1
        # The security schemes its dependencies are (`Depends(OAuth2PasswordBearer(...))`).
        # Each scheme once per set of scopes (in any order), as FastAPI lists them.
        first: dict[tuple[int, frozenset[str]], tuple[SecurityBase, tuple[str, ...]]] = {}
        for scheme, scopes in _securities(plan):
            first.setdefault((id(scheme), frozenset(scopes)), (scheme, scopes))
        self.security = list(first.values())
        self.can_fail = bool(self.params or self.body or self.form or hidden)
        # Path parameters the handler reads itself (`req.param("id")`): text.
        read = {p.alias for p, _ in self.params if p.kind == PATH}
        self.undeclared = [name for name in _path_order(route.path) if name not in read]
        model = declared(route.handler, route.documentation)
        self.response = schemas.want(model, "serialization") if model is not None else None
        # `responses={404: {"model": Message}}`: asked of the same builder, so the models they
        # hold (and the models those hold) are defined under `components` as the rest are.
        self.models: dict[Any, Optional[int]] = {}
        for code, extra in (route.documentation.get("responses") or {}).items():
            if isinstance(extra, Mapping) and "model" in extra:
                self.models[code] = schemas.want(extra["model"], "serialization")

    def render(self, schemas: _Schemas) -> dict[str, Any]:
        route, doc = self.route, self.route.documentation
        handler = route.handler
        name = getattr(handler, "__name__", "handler")
        op: dict[str, Any] = {}
        tags = list(dict.fromkeys(route.tags))
        if tags:
            op["tags"] = tags
        op["summary"] = doc.get("summary") or _title(name)
        description = doc.get("description") or inspect.cleandoc(handler.__doc__ or "")
        if description:
            op["description"] = description
        generate = doc.get("generate_unique_id_function")
        op["operationId"] = doc.get("operation_id") or (generate(route) if generate is not None else _operation_id(name, route.path_format, route.method))
        parameters = [{"name": name, "in": "path", "required": True, "schema": {**_CONVERTED.get(route.convertors.get(name), _TEXT), "title": _title(name)}} for name in self.undeclared]
        parameters += [self._parameter(p, schemas.get(key)) for p, key in self.params]
        if parameters:
            op["parameters"] = parameters
        body = self._request_body(schemas)
        if body is not None:
            op["requestBody"] = body
        op["responses"] = self._responses(schemas)
        if self.security:
            op["security"] = [{scheme.scheme_name: list(scopes)} for scheme, scopes in self.security]
        if doc.get("deprecated"):
            op["deprecated"] = True
        if doc.get("openapi_extra"):
            op.update(doc["openapi_extra"])
        return op

    @staticmethod
    def _parameter(p: _Param, schema: Optional[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"name": p.alias, "in": _LOCATIONS[p.kind], "required": p.kind == PATH or p.required}
        out["schema"] = {**(schema or {}), "title": _title(p.alias)}
        if not p.required and p.factory is None and isinstance(p.default, (str, int, float, bool, list)):
            out["schema"]["default"] = p.default
        for key in ("description", "deprecated"):
            if p.documentation.get(key):
                out[key] = p.documentation[key]
        examples = p.documentation.get("examples")
        if examples:
            out["schema"]["examples"] = list(examples)
        return out

    def _request_body(self, schemas: _Schemas) -> Optional[dict[str, Any]]:
        if self.form:
            properties = {p.alias: value if isinstance(value, dict) else schemas.get(value) or {} for p, value in self.form}
            required = [p.alias for p, _ in self.form if p.required]
            media = "multipart/form-data" if any(_is_file(p) for p, _ in self.form) else "application/x-www-form-urlencoded"
            return {"content": {media: {"schema": _object(properties, required)}}, "required": bool(required)}
        if not self.body:
            return None
        if self.embed:
            properties = {p.alias: schemas.get(key) or {} for p, key in self.body}
            required = [p.alias for p, _ in self.body if p.required]
            schema = _object(properties, required)
            needed = bool(required)
        else:
            p, key = self.body[0]
            schema = schemas.get(key) or {}
            needed = p.required
        return {"content": {"application/json": {"schema": schema}}, "required": needed}

    def _responses(self, schemas: _Schemas) -> dict[str, Any]:
        doc = self.route.documentation
        render = doc.get("response_class")
        status = _code(self.route.status_code or RENDERED_STATUS.get(render, 200))
        success: dict[str, Any] = {"description": doc.get("response_description", "Successful Response")}
        schema = schemas.get(self.response, "serialization")
        media = RENDERERS.get(render, "application/json")
        if media is None:
            pass  # a redirect, a file: no body to describe
        elif media != "application/json":
            success["content"] = {media: {"schema": {"type": "string"}}}
        elif schema is not None:
            success["content"] = {"application/json": {"schema": schema}}
        responses: dict[str, Any] = {status: success}
        if self.can_fail:
            responses["422"] = {
                "description": "Validation Error",
                "content": {"application/json": {"schema": {"$ref": REF.format(model="HTTPValidationError")}}},
            }
        for code, extra in (doc.get("responses") or {}).items():
            entry = dict(extra)
            if "model" in entry:
                # FastAPI's `responses={404: {"model": Message}}`: described as JSON.
                del entry["model"]
                entry.setdefault("content", {"application/json": {"schema": schemas.get(self.models.get(code), "serialization") or {}}})
            entry.setdefault("description", _reason(code))
            responses[_code(code)] = {**responses.get(_code(code), {}), **entry}
        return responses


def _securities(plan: Plan) -> Iterator[tuple[SecurityBase, tuple[str, ...]]]:
    """The security schemes among `plan`'s dependencies, at any depth, each with the scopes
    its requirement lists: those of the `Security()` markers above it for an OAuth2 or OpenID
    Connect scheme, none for the others (as FastAPI)."""
    if isinstance(plan.call, SecurityBase):
        scoped = plan.call.model.get("type") in ("oauth2", "openIdConnect")
        yield plan.call, plan.scopes if scoped else ()
    for extra in plan.extra:
        yield from _securities(extra)
    for p in plan.params:
        if p.plan is not None:
            yield from _securities(p.plan)


def _walk(plan: Plan) -> Iterator[tuple[_Param, Plan]]:
    """Every parameter `plan` reads, its dependencies' first (as they run), with its plan."""
    for extra in plan.extra:
        yield from _walk(extra)
    for p in plan.params:
        if p.plan is not None:
            yield from _walk(p.plan)
        else:
            yield p, plan


def _form_schema(p: _Param, schemas: _Schemas) -> Any:
    """A file field's schema (binary), or the key of a text field's."""
    if _is_file(p):
        return {"type": "array", "items": _BINARY} if p.many else _BINARY
    return schemas.want(p.annotation)


def _is_file(p: _Param) -> bool:
    inner, _ = _unwrap_optional(p.annotation)
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if p.many:
        inner = _item(inner)
    return inner in (forms.UploadFile, bytes)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {name: dict(value) for name, value in properties.items()}}
    if required:
        schema["required"] = required
    return schema


def _title(name: str) -> str:
    """A name as FastAPI titles it: `user_id` and `x-token` are `User Id` and `X Token`."""
    return name.replace("-", " ").replace("_", " ").title()


# The schema of a path parameter the handler does not declare (it reads `req.param`): text,
# or what its convertor gives (`{id:int}`: an integer).
_TEXT = {"type": "string"}
_CONVERTED = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}


def _openapi_path(path: str) -> str:
    """`{*rest}` (a catch-all) and `:id` are `{rest}` and `{id}` in OpenAPI (given a route's
    `path_format`: its convertors already stripped, as FastAPI strips them)."""
    path = re.sub(r"\{\*([A-Za-z_][A-Za-z0-9_]*)\}", r"{\1}", path)
    return re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", path)


def _operation_id(name: str, path: str, method: str) -> str:
    """FastAPI's generated operation id: `read_item_items__item_id__get`."""
    return re.sub(r"\W", "_", f"{name}{path}") + f"_{method.lower()}"


def _code(code: Any) -> str:
    """A status code as the document's key: `HTTPStatus.CREATED` (an `IntEnum`, which Python
    before 3.11 writes by name) is `"201"`; `"4XX"` and `"default"` stay as they are."""
    return str(int(code)) if isinstance(code, int) else str(code)


def _reason(code: Any) -> str:
    try:
        return http.HTTPStatus(int(code)).phrase
    except ValueError:
        return "Additional Response"


def get_openapi(
    *,
    title: str,
    version: str,
    routes: Sequence[Any],
    openapi_version: str = "3.1.0",
    summary: Optional[str] = None,
    description: Optional[str] = None,
    tags: Optional[list[dict[str, Any]]] = None,
    servers: Optional[list[dict[str, Any]]] = None,
    terms_of_service: Optional[str] = None,
    contact: Optional[dict[str, Any]] = None,
    license_info: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """FastAPI's `fastapi.openapi.utils.get_openapi`: the document of `routes` (an app's
    `app.routes`), for an app that customizes its own:

    ```python
    from armature import App
    from armature.openapi import get_openapi

    app = App()

    def custom_openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title="Shop", version="2.0", routes=app.routes)
            doc["info"]["x-logo"] = {"url": "/static/logo.png"}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = custom_openapi  # served at /openapi.json, shown at /docs
    ```
    """
    documentation = {
        "summary": summary,
        "description": description,
        "terms_of_service": terms_of_service,
        "contact": contact,
        "license_info": license_info,
        "servers": servers,
        "openapi_tags": tags,
    }
    shim = types.SimpleNamespace(routes=list(routes), title=title, version=version, root_path="", documentation=documentation)
    doc = document(shim)  # type: ignore[arg-type]
    doc["openapi"] = openapi_version
    return doc
