"""Armature for Python: Armature's Rust HTTP server, router and middleware calling your
Python handlers, with a FastAPI-shaped API.

```python
from armature import App, Router, HttpRequest, HttpResponse

router = Router()

@router.get("/users/{user_id}")
async def get_user(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"id": req.param("user_id"), "name": "Alice"})

app = App()
app.include_router(router)
app.run("0.0.0.0", 8000)
```
"""

from ._armature import HttpRequest, HttpResponse, RequestBody
from . import status
from .app import App
from .encoders import jsonable_encoder
from .exceptions import HTTPException, NoMatchFound, RequestValidationError, ResponseValidationError
from .middleware import CORSMiddleware, GZipMiddleware, LoggerMiddleware
from .forms import UploadFile
from .params import BackgroundTask, BackgroundTasks, Body, Cookie, Depends, File, Form, Header, Path, Query
from .ratelimit import rate_limit
from .requests import Request
from .responses import Response
from .routing import APIRouter, Router
from .security import Security
from .testclient import TestClient
from .websockets import WebSocket, WebSocketDisconnect, WebSocketException, WebSocketState

__all__ = [
    "APIRouter",
    "App",
    "BackgroundTask",
    "BackgroundTasks",
    "Body",
    "CORSMiddleware",
    "Cookie",
    "Depends",
    "File",
    "GZipMiddleware",
    "Form",
    "HTTPException",
    "Header",
    "HttpRequest",
    "HttpResponse",
    "LoggerMiddleware",
    "NoMatchFound",
    "Path",
    "Query",
    "Request",
    "RequestBody",
    "Response",
    "RequestValidationError",
    "ResponseValidationError",
    "Router",
    "Security",
    "TestClient",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketState",
    "jsonable_encoder",
    "rate_limit",
    "status",
]
