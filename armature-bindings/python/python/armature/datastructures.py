"""Starlette's data structures: `Headers` (a request's, read in any case), `MutableHeaders` (a
response's, changed in place), `QueryParams` and `FormData` (multi-dicts), `URL`, `Address`
and `State`."""

from __future__ import annotations

import types
from collections.abc import Iterator, MutableMapping
from typing import Any, NamedTuple, Optional
from urllib.parse import parse_qsl, urlencode


class Headers(dict):  # type: ignore[type-arg]
    """`request.headers`: header names in lower case, and read in any case
    (`headers["Authorization"]`, `headers.get("X-Token")`, `"Accept" in headers`), as in
    Starlette; a repeated header's values are joined as `req.header(name)` joins them.

    ```python
    from armature import App, HttpRequest

    app = App()

    @app.get("/whoami")
    async def whoami(request: HttpRequest) -> dict:
        return {"auth": request.headers.get("Authorization")}
    ```
    """

    __slots__ = ()

    def __getitem__(self, name: Any) -> Any:
        return dict.__getitem__(self, name.lower() if isinstance(name, str) else name)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)

    def get(self, name: Any, default: Any = None) -> Any:
        return dict.get(self, name.lower() if isinstance(name, str) else name, default)


class MutableHeaders(MutableMapping):  # type: ignore[type-arg]
    """`response.headers` of an `HttpResponse`, as Starlette's `MutableHeaders`: read in any
    case (the first value of a repeated header), `headers[name] = value` replaces every header
    of that name, `del headers[name]` removes them, `append(name, value)` adds one more.

    ```python
    from armature import HttpResponse

    res = HttpResponse.text("hi")
    res.headers["X-Time"] = "3"
    res.headers.append("set-cookie", "a=1")
    res.headers.append("set-cookie", "b=2")
    assert res.headers["x-time"] == "3" and res.headers.getlist("set-cookie") == ["a=1", "b=2"]
    ```
    """

    __slots__ = ("_response",)

    def __init__(self, response: Any) -> None:
        self._response = response

    def getlist(self, name: str) -> list[str]:
        """Every value of header `name`, in order."""
        name = name.lower()
        return [value for key, value in self._response._header_items() if key == name]

    def __getitem__(self, name: str) -> str:
        values = self.getlist(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __setitem__(self, name: str, value: str) -> None:
        self._response._replace_header(name, value)

    def __delitem__(self, name: str) -> None:
        if not self._response._remove_header(name):
            raise KeyError(name)

    def append(self, name: str, value: str) -> None:
        self._response.set_header(name, value)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key for key, _ in self._response._header_items()))

    def __len__(self) -> int:
        return len(dict.fromkeys(key for key, _ in self._response._header_items()))

    def __repr__(self) -> str:
        return f"MutableHeaders({self._response._header_items()!r})"


class Address(NamedTuple):
    """`request.client`: the client's `host` and `port`, as Starlette's."""

    host: str
    port: int


class ImmutableMultiDict(dict):  # type: ignore[type-arg]
    """A `dict` of each name's last value, with `getlist(name)` for every value and
    `multi_items()` for every pair, in order: Starlette's `ImmutableMultiDict`."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self._pairs = pairs

    def getlist(self, name: str) -> list[Any]:
        return [value for key, value in self._pairs if key == name]

    def multi_items(self) -> list[tuple[str, Any]]:
        return list(self._pairs)


class QueryParams(ImmutableMultiDict):
    """`request.query_params`, as Starlette's: each name's last value,
    `getlist(name)` for all of them."""

    __slots__ = ()


class FormData(ImmutableMultiDict):
    """`await request.form()`, as Starlette's: each field's last value (text, or an
    `UploadFile` for a file part), `getlist(name)` for all of them; `await form.close()`
    closes its files."""

    __slots__ = ()

    async def close(self) -> None:
        for _, value in self._pairs:
            close = getattr(value, "close", None)
            if close is not None:
                await close()


class State(types.SimpleNamespace):
    """`app.state` and `request.state`, as Starlette's: set any attribute, read it back; an
    attribute never set is an `AttributeError`."""


class URL(NamedTuple):
    """`request.url`, as Starlette's: `scheme`, `netloc` (the `Host` header), `path`
    (percent-decoded, as Starlette's), `query` (as sent), with `hostname` and `port` read from `netloc`, `is_secure`, and
    `replace(...)`, `include_query_params(...)`, `replace_query_params(...)`,
    `remove_query_params(...)` for links; `str(url)` is the whole."""

    scheme: str
    netloc: str
    path: str
    query: str

    @property
    def hostname(self) -> Optional[str]:
        host = self.netloc.rsplit("@", 1)[-1]
        if host.startswith("["):
            return host[1 : host.find("]")] or None
        return host.rsplit(":", 1)[0] if ":" in host else host or None

    @property
    def port(self) -> Optional[int]:
        host = self.netloc.rsplit("@", 1)[-1]
        tail = host.rsplit("]", 1)[-1]
        if ":" in tail:
            digits = tail.rsplit(":", 1)[1]
            return int(digits) if digits.isdigit() else None
        return None

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @property
    def fragment(self) -> str:
        """Always empty: a fragment is never sent to the server."""
        return ""

    def replace(self, **parts: Any) -> "URL":
        """This URL with other `scheme`, `netloc`, `path` or `query`, or `hostname` / `port`
        (Starlette's `url.replace(...)`)."""
        if "hostname" in parts or "port" in parts:
            hostname = parts.pop("hostname", None) or self.hostname or ""
            port = parts.pop("port", self.port)
            if ":" in hostname:
                hostname = f"[{hostname}]"
            parts["netloc"] = hostname if port is None else f"{hostname}:{port}"
        return self._replace(**parts)

    def include_query_params(self, **params: Any) -> "URL":
        """This URL with `params` set in its query (replacing those of those names)."""
        kept = [(name, value) for name, value in parse_qsl(self.query, keep_blank_values=True) if name not in params]
        return self._replace(query=urlencode(kept + [(str(name), str(value)) for name, value in params.items()]))

    def replace_query_params(self, **params: Any) -> "URL":
        """This URL with `params` as its whole query."""
        return self._replace(query=urlencode([(str(name), str(value)) for name, value in params.items()]))

    def remove_query_params(self, keys: Any) -> "URL":
        """This URL without the query parameters named `keys` (a name or several)."""
        names = {keys} if isinstance(keys, str) else set(keys)
        return self._replace(query=urlencode([(n, v) for n, v in parse_qsl(self.query, keep_blank_values=True) if n not in names]))

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.netloc}{self.path}{query}"
