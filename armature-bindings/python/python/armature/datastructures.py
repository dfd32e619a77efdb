"""`Headers`: a request's headers, read case-insensitively, as Starlette's."""

from __future__ import annotations

from typing import Any


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
