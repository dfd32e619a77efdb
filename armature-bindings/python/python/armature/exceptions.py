"""Exceptions handlers raise to answer with an error."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence


class HTTPException(Exception):
    """Answers with `status_code` and `{"detail": detail}`, as FastAPI's does."""

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if detail is None:
            from http import HTTPStatus

            try:
                detail = HTTPStatus(status_code).phrase
            except ValueError:
                detail = ""
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None


class RequestValidationError(Exception):
    """The request did not match the handler's parameters: answered `422` with FastAPI's body,
    `{"detail": [{"type", "loc", "msg", "input", ...}, ...]}`.

    `body` is the request's body as FastAPI gives it, for a handler of this exception to
    show (`{"detail": exc.errors(), "body": exc.body}`): when the route reads one, the JSON
    value (the text when it is not JSON, the bytes when it is not said to be JSON) or the
    form (a dict; a name sent several times: the list of its values); else `None`."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = list(errors)
        self.body = body

    def errors(self) -> list[Any]:
        return self._errors


class ResponseValidationError(Exception):
    """A handler's answer did not match its route's response model: a bug of the server,
    answered `500` and logged (as FastAPI's)."""

    def __init__(self, errors: Sequence[Any], body: Any) -> None:
        super().__init__(f"{len(errors)} validation error(s) in the response: {list(errors)}")
        self._errors = list(errors)
        self.body = body

    def errors(self) -> list[Any]:
        return self._errors


class NoMatchFound(LookupError):
    """`url_path_for` / `url_for` found no route (or mount) of that name taking exactly those
    path parameters, as Starlette's."""

    def __init__(self, name: str, path_params: dict) -> None:
        params = ", ".join(sorted(path_params))
        super().__init__(f'No route exists for name "{name}" and params "{params}".')
