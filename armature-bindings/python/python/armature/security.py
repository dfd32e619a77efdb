"""FastAPI's security helpers: dependencies that read credentials from a request and describe
themselves in the OpenAPI document (`components.securitySchemes`, and each operation's
`security`), so Swagger UI's "Authorize" button fills them in.

```python
from armature import App, Depends
from armature.security import OAuth2PasswordBearer

oauth2 = OAuth2PasswordBearer(tokenUrl="token")
app = App()

@app.get("/me")
async def me(token: str = Depends(oauth2)) -> dict:
    return {"token": token}
```

Missing credentials answer `401 {"detail": "Not authenticated"}` with a `WWW-Authenticate`
challenge, as FastAPI's do; with `auto_error=False` the dependency gives `None` instead.
"""

# No `from __future__ import annotations` here: the dependencies' `request: HttpRequest`
# annotations are read as classes by the parameter planner.

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Optional

from pydantic import BaseModel

from ._armature import HttpRequest
from .exceptions import HTTPException
from .params import Depends, Form, SecurityScopes

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "Security",
    "SecurityBase",
    "SecurityScopes",
]


class SecurityBase:
    """A dependency that is also a security scheme: `model` is its OpenAPI Security Scheme
    Object, `scheme_name` its name under `components.securitySchemes`."""

    model: dict[str, Any]
    scheme_name: str
    auto_error: bool
    # Seen by the dependency planner (which cannot import this module): a scheme's calls are
    # told apart by the scopes asked above it.
    _armature_security_scheme = True

    def _scheme(self, scheme_name: Optional[str], description: Optional[str], auto_error: bool, model: dict[str, Any]) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error
        self.model = {**model, **({"description": description} if description else {})}

    def _refuse(self, challenge: str) -> None:
        """`None` for the handler (`auto_error=False`), or FastAPI's 401."""
        if self.auto_error:
            raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": challenge})

    def _credentials(self, request: HttpRequest, scheme_name: str) -> Optional["HTTPAuthorizationCredentials"]:
        """`Authorization: <scheme_name> <credentials>` (the scheme in any case), or a refusal."""
        scheme, credentials = _scheme_and_value(request.header("authorization"))
        if not (scheme and credentials) or scheme.lower() != scheme_name.lower():
            self._refuse(scheme_name)
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def Security(dependency: Any = None, *, scopes: Optional[Sequence[str]] = None, use_cache: bool = True) -> Depends:  # noqa: N802 - FastAPI's name
    """FastAPI's `Security(dependency, scopes=[...])`: a `Depends` that also asks for OAuth2
    `scopes`. The dependency, and every dependency below it, sees them (with those of the
    `Security()` markers above it) as a `SecurityScopes` parameter; the OpenAPI document lists
    them in the operation's `security` requirement for an OAuth2 scheme below it. One request
    calls a dependency once, or once per set of scopes if scopes matter to it (it or one below
    it asks for some, reads `SecurityScopes`, or is a security scheme)."""
    if isinstance(scopes, (str, bytes)) or not all(isinstance(scope, str) for scope in scopes or ()):
        raise TypeError(f"Security(scopes=...): a list of scope names, like ['items'], not {scopes!r}")
    marker = Depends(dependency, use_cache=use_cache)
    marker.scopes = tuple(scopes or ())
    return marker


def _scheme_and_value(authorization: Optional[str]) -> tuple[str, str]:
    """`("Bearer", "abc")` of `Authorization: Bearer abc`."""
    if not authorization:
        return "", ""
    scheme, _, value = authorization.partition(" ")
    return scheme, value.strip()


class HTTPAuthorizationCredentials(BaseModel):
    """What `HTTPBearer` gives: the `Authorization` header's scheme and credentials."""

    scheme: str
    credentials: str


class HTTPBearer(SecurityBase):
    """`Authorization: Bearer <token>`, as `HTTPAuthorizationCredentials`."""

    def __init__(self, *, bearerFormat: Optional[str] = None, scheme_name: Optional[str] = None, description: Optional[str] = None, auto_error: bool = True) -> None:  # noqa: N803 - FastAPI's name
        model: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if bearerFormat:
            model["bearerFormat"] = bearerFormat
        self._scheme(scheme_name, description, auto_error, model)

    async def __call__(self, request: HttpRequest) -> Optional[HTTPAuthorizationCredentials]:
        return self._credentials(request, "Bearer")


class HTTPDigest(SecurityBase):
    """`Authorization: Digest <parameters>`, as `HTTPAuthorizationCredentials` (FastAPI's: the
    parameters are given as sent, for the dependency to verify; nothing is checked here)."""

    def __init__(self, *, scheme_name: Optional[str] = None, description: Optional[str] = None, auto_error: bool = True) -> None:
        self._scheme(scheme_name, description, auto_error, {"type": "http", "scheme": "digest"})

    async def __call__(self, request: HttpRequest) -> Optional[HTTPAuthorizationCredentials]:
        return self._credentials(request, "Digest")


class HTTPBasicCredentials(BaseModel):
    """What `HTTPBasic` gives: the user name and password of `Authorization: Basic ...`."""

    username: str
    password: str


class HTTPBasic(SecurityBase):
    """HTTP Basic authentication (RFC 7617): `Authorization: Basic base64(user:password)`, as
    `HTTPBasicCredentials`. Compare the password with `secrets.compare_digest`. A missing
    header answers `401` with `WWW-Authenticate: Basic` (with `realm="..."` if given), so a
    browser asks for a login; credentials that are not base64 of `user:password` (UTF-8)
    answer `401 Invalid authentication credentials`, with `auto_error=False` too.

    ```python
    import secrets
    from armature import App, Depends, HTTPException
    from armature.security import HTTPBasic, HTTPBasicCredentials

    basic = HTTPBasic(realm="admin")
    app = App()

    @app.get("/admin")
    async def admin(credentials: HTTPBasicCredentials = Depends(basic)) -> dict:
        if not secrets.compare_digest(credentials.password.encode(), b"s3cret"):
            raise HTTPException(401, "Wrong password", headers={"WWW-Authenticate": "Basic"})
        return {"user": credentials.username}
    ```
    """

    def __init__(self, *, scheme_name: Optional[str] = None, realm: Optional[str] = None, description: Optional[str] = None, auto_error: bool = True) -> None:
        self.realm = realm
        self._scheme(scheme_name, description, auto_error, {"type": "http", "scheme": "basic"})

    async def __call__(self, request: HttpRequest) -> Optional[HTTPBasicCredentials]:
        challenge = f'Basic realm="{self.realm}"' if self.realm else "Basic"
        scheme, encoded = _scheme_and_value(request.header("authorization"))
        if scheme.lower() != "basic":
            self._refuse(challenge)
            return None
        try:
            username, colon, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            colon = ""
        if not colon:
            raise HTTPException(401, "Invalid authentication credentials", headers={"WWW-Authenticate": challenge})
        return HTTPBasicCredentials(username=username, password=password)


class OAuth2PasswordBearer(SecurityBase):
    """OAuth2's password flow: the bearer token of `Authorization: Bearer <token>`, as a
    string. `tokenUrl` is where clients (Swagger UI's "Authorize") get one, typically a route
    that takes an `OAuth2PasswordRequestForm`."""

    def __init__(self, tokenUrl: str, scheme_name: Optional[str] = None, scopes: Optional[dict[str, str]] = None, description: Optional[str] = None, auto_error: bool = True, refreshUrl: Optional[str] = None) -> None:  # noqa: N803 - FastAPI's names
        flow: dict[str, Any] = {"scopes": dict(scopes or {}), "tokenUrl": tokenUrl}
        if refreshUrl:
            flow["refreshUrl"] = refreshUrl
        self._scheme(scheme_name, description, auto_error, {"type": "oauth2", "flows": {"password": flow}})

    async def __call__(self, request: HttpRequest) -> Optional[str]:
        scheme, token = _scheme_and_value(request.header("authorization"))
        if scheme.lower() != "bearer" or not token:
            self._refuse("Bearer")
            return None
        return token


class _APIKey(SecurityBase):
    """An API key in a header, a query parameter or a cookie, as a string."""

    where = ""

    def __init__(self, *, name: str, scheme_name: Optional[str] = None, description: Optional[str] = None, auto_error: bool = True) -> None:
        self.name = name
        self._scheme(scheme_name, description, auto_error, {"type": "apiKey", "in": self.where, "name": name})

    def _read(self, request: HttpRequest) -> Optional[str]:
        raise NotImplementedError

    async def __call__(self, request: HttpRequest) -> Optional[str]:
        key = self._read(request)
        if not key:
            self._refuse("APIKey")
            return None
        return key


class APIKeyHeader(_APIKey):
    """An API key in the header `name` (`APIKeyHeader(name="X-API-Key")`)."""

    where = "header"

    def _read(self, request: HttpRequest) -> Optional[str]:
        return request.header(self.name)  # type: ignore[no-any-return]


class APIKeyQuery(_APIKey):
    """An API key in the query parameter `name`."""

    where = "query"

    def _read(self, request: HttpRequest) -> Optional[str]:
        return request.query(self.name)  # type: ignore[no-any-return]


class APIKeyCookie(_APIKey):
    """An API key in the cookie `name`."""

    where = "cookie"

    def _read(self, request: HttpRequest) -> Optional[str]:
        return request.cookies.get(self.name)  # type: ignore[no-any-return]


class OAuth2PasswordRequestForm:
    """The form of OAuth2's password flow (`username`, `password`, `scope`, ...), for the
    route at a `tokenUrl`: `form: OAuth2PasswordRequestForm = Depends()`. `scopes` is
    `scope` split on spaces."""

    def __init__(
        self,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        grant_type: Annotated[Optional[str], Form(pattern="^password$")] = None,
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[Optional[str], Form()] = None,
        client_secret: Annotated[Optional[str], Form()] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret
