"""`response_model`: what a handler returns, validated and filtered through a declared type
before it is sent, as FastAPI does. The declared type is the route's `response_model`, or
else the handler's return annotation; `response_model=None` turns it off.

Filtering is what keeps a field out of the answer: a handler that returns a `UserInDB` (with
its password hash) from a route declared `-> UserOut` sends only `UserOut`'s fields.

```python
from pydantic import BaseModel
from armature import App

class UserOut(BaseModel):
    name: str

class UserInDB(UserOut):
    password_hash: str

app = App()

@app.get("/me", response_model=UserOut)
async def me() -> UserInDB:
    return UserInDB(name="ann", password_hash="...")   # sent as {"name": "ann"}
```
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Optional

from ._armature import HttpResponse
from .exceptions import ResponseValidationError

_UNSET = object()

# FastAPI's keywords that shape how the model writes the answer.
_OPTIONS = {
    "response_model_include": "include",
    "response_model_exclude": "exclude",
    "response_model_by_alias": "by_alias",
    "response_model_exclude_unset": "exclude_unset",
    "response_model_exclude_defaults": "exclude_defaults",
    "response_model_exclude_none": "exclude_none",
}


def declared(handler: Callable[..., Any], documentation: dict[str, Any]) -> Any:
    """The route's response type: `response_model`, else the return annotation; `None` when
    there is none (or it is `HttpResponse`, which is sent as it is)."""
    model = documentation.get("response_model", _UNSET)
    if model is _UNSET:
        try:
            model = typing.get_type_hints(inspect.unwrap(handler)).get("return")
        except Exception:  # noqa: BLE001 - unresolvable: nothing declared
            return None
    if model is None or model is type(None) or model is Any:
        return None
    if inspect.isclass(model) and issubclass(model, HttpResponse):
        return None
    if inspect.isroutine(model):
        # `-> HTMLResponse`, `-> JSONResponse`: `armature.responses`' names are functions
        # that make an `HttpResponse`, which is sent as it is.
        return None
    return model


# Declared types an answer always passes unchanged (JSON writes what they hold as the
# adapter would): not checked, so a `-> dict` handler costs nothing more.
_AS_IS = (dict, list, str, bytes, object, typing.Dict, typing.List)


def filter_for(handler: Callable[..., Any], documentation: dict[str, Any]) -> Optional[Callable[[Any], Any]]:
    """The function that turns the handler's answer into what is sent, or `None` when the
    declared type cannot change it (none, a bare `dict`, `list` or `str`: the answer goes as
    it is). Anything else is validated, as in FastAPI: `dict[str, int]` turns `"1"` into `1`,
    `-> int` refuses `"x"` (a `ResponseValidationError`, so a `500`)."""
    model = declared(handler, documentation)
    options = {name: documentation[key] for key, name in _OPTIONS.items() if documentation.get(key) is not None}
    if model is None or (model in _AS_IS and not options):
        return None
    from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

    try:
        adapter = TypeAdapter(model)
    except PydanticSchemaGenerationError:
        if "response_model" in documentation:
            raise
        # A return annotation Pydantic cannot check (an iterator, a class of the app's own):
        # the answer goes as it is, as before any check.
        return None
    options.setdefault("by_alias", True)

    def send(value: Any) -> Any:
        if isinstance(value, HttpResponse):
            return value
        try:
            valid = adapter.validate_python(value, from_attributes=True)
        except ValidationError as exc:
            raise ResponseValidationError(exc.errors(include_url=False), value) from None
        return adapter.dump_python(valid, mode="json", **options)

    return send
