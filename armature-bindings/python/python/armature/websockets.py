"""WebSockets, as FastAPI's (Starlette's): `@app.websocket(path)` routes a handler that gets a
`WebSocket`, with path, query, header and cookie parameters and dependencies as HTTP routes
have them.

```python
from armature import App, WebSocket, WebSocketDisconnect

app = App()

@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str, name: str = "guest") -> None:
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text(f"{room}/{name}: {text}")
    except WebSocketDisconnect:
        pass  # the client left
```

The handshake is checked in Rust (a `GET` over HTTP/1.1 with `Upgrade: websocket`; anything
else is a `400`, a version other than 13 a `426`), and the frames are carried by
tokio-tungstenite: a message is at most 16 MiB (a larger one closes with `1009`), and what
the handler sends is buffered up to 1 MiB, past which `send_*` waits for the client to read.
HTTP middleware and exception handlers do not run for WebSocket routes (as in Starlette).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Optional, TypeVar, Union

from ._armature import HttpRequest, HttpResponse
from .exceptions import RequestValidationError
from .requests import Request

logger = logging.getLogger("armature")

T = TypeVar("T")

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketException", "WebSocketState"]


class WebSocketState(enum.Enum):
    """Where each side of a WebSocket is: `websocket.client_state`,
    `websocket.application_state`."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocketDisconnect(Exception):
    """Raised by `receive_*` once the client has closed (or the connection broke: `1006`), and
    by `send_*` once the connection is gone; `code` and `reason` are the client's."""

    def __init__(self, code: int = 1000, reason: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __repr__(self) -> str:
        return f"WebSocketDisconnect(code={self.code}, reason={self.reason!r})"


class WebSocketException(Exception):
    """Raise it in a WebSocket handler (or a dependency) to close with `code`
    (`status.WS_1008_POLICY_VIOLATION`, say) and `reason`; before `accept`, the handshake is
    refused (`403`)."""

    def __init__(self, code: int, reason: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __repr__(self) -> str:
        return f"WebSocketException(code={self.code}, reason={self.reason!r})"


# What `_armature.Socket.send` says.
_SENT, _WAIT, _GONE = 0, 1, 2


class WebSocket(Request):
    """The connection of a WebSocket route, as Starlette's `WebSocket`: what the handshake
    request had (`url`, `headers`, `query_params`, `path_params`, `cookies`, `client`,
    `state`, `app`), `accept()`, the `receive_*` / `send_*` / `iter_*` coroutines and
    `close()`."""

    __slots__ = ("_socket", "client_state", "application_state")

    def __init__(self, req: HttpRequest, app: Any = None) -> None:
        super().__init__(req, app)
        socket = req._socket
        if socket is None:
            raise RuntimeError("WebSocket: this request is not a WebSocket handshake")
        self._socket = socket
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING

    @property
    def url(self) -> Any:
        """`ws://host/path?query` (`wss://` behind TLS)."""
        url = self._req.url
        return url._replace(scheme={"http": "ws", "https": "wss"}.get(url.scheme, url.scheme))

    async def accept(self, subprotocol: Optional[str] = None, headers: Optional[Iterable[tuple[Any, Any]]] = None) -> None:
        """Accepts the connection (`101 Switching Protocols`), with the `subprotocol` chosen
        from those the client offered (`websocket.headers["sec-websocket-protocol"]`) and
        extra response `headers` (pairs of `str` or `bytes`)."""
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError('Cannot call "accept" more than once, or after "close"')
        fields = [(_text(name), _text(value)) for name, value in headers or ()]
        if subprotocol is not None:
            fields.append(("sec-websocket-protocol", subprotocol))
        self._socket.accept(fields)
        self.application_state = self.client_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        """The next message, as Starlette's: `{"type": "websocket.receive", "text": ...}` (or
        `"bytes"`), then `{"type": "websocket.disconnect", "code": ..., "reason": ...}`
        once the client has gone."""
        if self.application_state is WebSocketState.CONNECTING:
            if self.client_state is WebSocketState.CONNECTING:
                # As Starlette's: the handshake is the first message.
                self.client_state = WebSocketState.CONNECTED
                return {"type": "websocket.connect"}
            raise RuntimeError('WebSocket is not connected: call "accept" first')
        if self.client_state is WebSocketState.DISCONNECTED:
            raise RuntimeError('Cannot call "receive" once a disconnect message has been received')
        # The future only says "look again": a wait cancelled (a timeout) loses no message,
        # and several tasks may wait on one socket.
        while (event := self._socket.receive()) is None:
            woken = asyncio.get_running_loop().create_future()
            if self._socket.wait_receive(woken):
                await woken
        kind = event[0]
        if kind == "text":
            return {"type": "websocket.receive", "text": event[1]}
        if kind == "bytes":
            return {"type": "websocket.receive", "bytes": event[1]}
        self.client_state = WebSocketState.DISCONNECTED
        return {"type": "websocket.disconnect", "code": event[1], "reason": event[2]}

    async def _message(self) -> dict[str, Any]:
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message["code"], message["reason"])
        return message

    async def receive_text(self) -> str:
        """The next text message; `WebSocketDisconnect` once the client has gone."""
        message = await self._message()
        if "text" not in message:
            raise TypeError("expected a text message, got a binary one (use receive_bytes)")
        return message["text"]

    async def receive_bytes(self) -> bytes:
        """The next binary message; `WebSocketDisconnect` once the client has gone."""
        message = await self._message()
        if "bytes" not in message:
            raise TypeError("expected a binary message, got a text one (use receive_text)")
        return message["bytes"]

    async def receive_json(self, mode: str = "text") -> Any:
        """The next message parsed as JSON (`mode="binary"` for JSON in binary messages)."""
        if mode not in ("text", "binary"):
            raise ValueError('mode must be "text" or "binary"')
        message = await self._message()
        data = message.get("text") if mode == "text" else message.get("bytes")
        if data is None:
            raise TypeError(f"expected a {mode} message")
        return json.loads(data)

    def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client leaves."""
        return _until_gone(self.receive_text)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """Binary messages until the client leaves."""
        return _until_gone(self.receive_bytes)

    def iter_json(self) -> AsyncIterator[Any]:
        """JSON (text) messages until the client leaves."""
        return _until_gone(self.receive_json)

    async def _send(self, data: Union[str, bytes]) -> None:
        if self.application_state is not WebSocketState.CONNECTED:
            raise RuntimeError('Cannot send before "accept" or after "close"')
        while (sent := self._socket.send(data)) != _SENT:
            if sent == _GONE:
                self.client_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(*(self._socket.ended() or (1006, "")))
            # No room until the client reads: wait, then try again.
            woken = asyncio.get_running_loop().create_future()
            if self._socket.wait_send(woken):
                await woken

    async def send_text(self, data: str) -> None:
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, not {type(data).__name__} (send_bytes() sends bytes)")
        await self._send(data)

    async def send_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__} (send_text() sends a str)")
        await self._send(bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """`data` as JSON, in a text message (`mode="binary"`: a binary one)."""
        if mode not in ("text", "binary"):
            raise ValueError('mode must be "text" or "binary"')
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        await self._send(text if mode == "text" else text.encode())

    async def send(self, message: dict[str, Any]) -> None:
        """Starlette's message form: `{"type": "websocket.send", "text": ...}` (or
        `"bytes"`), `{"type": "websocket.accept", ...}`, `{"type": "websocket.close", ...}`."""
        kind = message.get("type")
        if kind == "websocket.accept":
            await self.accept(message.get("subprotocol"), message.get("headers"))
        elif kind == "websocket.send":
            await self._send(message["text"] if message.get("text") is not None else message["bytes"])
        elif kind == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason"))
        else:
            raise ValueError(f"unknown WebSocket message type {kind!r}")

    async def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Closes with `code` and `reason`; before `accept`, refuses the handshake (`403`).
        A code a close frame may not carry, or a reason over 123 bytes, is a `ValueError`."""
        _check_close(code, reason)
        if self.application_state is WebSocketState.CONNECTING:
            self._refuse(code, reason)
            return
        if self.application_state is WebSocketState.DISCONNECTED:
            raise RuntimeError('Cannot call "close" once the connection is closed')
        self.application_state = WebSocketState.DISCONNECTED
        self._socket.close(code, reason or "")

    def _refuse(self, code: int, reason: Optional[str]) -> None:
        """Refuses the handshake: `403` with the close code, as Starlette's servers answer a
        close before `accept`."""
        self.application_state = self.client_state = WebSocketState.DISCONNECTED
        self._socket.answer(HttpResponse.json({"detail": "WebSocket connection refused", "code": code, "reason": reason or ""}, status=403))

    def _failed(self, exc: BaseException) -> None:
        """What the handler (or a dependency) raised: the handshake's answer if it was not
        accepted yet, else a close (`1011`, or a `WebSocketException`'s code)."""
        from . import _runtime

        if isinstance(exc, WebSocketException):
            try:
                _check_close(exc.code, exc.reason)
            except ValueError as bad:
                exc = bad  # answered as any other failure: logged, 500 or 1011
            else:
                self._closed_with(exc)
                return
        if self.application_state is WebSocketState.CONNECTING:
            if isinstance(exc, RequestValidationError):
                # As FastAPI: a parameter that fails its checks closes with 1008 (refused),
                # the errors as the reason (cut to what a close frame holds).
                self._refuse(1008, _cut(json.dumps(exc.errors(), default=str), 123))
                return
            # An HTTPException gets its HTTP answer; anything else a logged 500.
            self.application_state = self.client_state = WebSocketState.DISCONNECTED
            self._socket.answer(_runtime.error(exc))
            return
        _runtime.unhandled(exc)
        if self.application_state is WebSocketState.CONNECTED:
            self.application_state = WebSocketState.DISCONNECTED
            self._socket.close(1011, "")

    def _closed_with(self, exc: WebSocketException) -> None:
        if self.application_state is WebSocketState.CONNECTING:
            self._refuse(exc.code, exc.reason)
        elif self.application_state is WebSocketState.CONNECTED:
            self.application_state = WebSocketState.DISCONNECTED
            self._socket.close(exc.code, exc.reason)

    def _finish(self) -> None:
        """The handler is done: a handshake it never answered is refused; an open connection
        closes (`1000`)."""
        if self.application_state is WebSocketState.CONNECTING:
            self._refuse(1000, None)
        self._socket.finish()

    def __repr__(self) -> str:
        return f"<WebSocket {self._req.path}>"


# The close codes an endpoint may send (RFC 6455 §7.4): not the reserved 1004-1006 and 1015.
def _check_close(code: Any, reason: Optional[str]) -> None:
    if not isinstance(code, int) or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"close code {code!r}: 1000-1003, 1007-1014 or 3000-4999")
    if reason is not None and len(reason.encode()) > 123:
        raise ValueError(f"close reason of {len(reason.encode())} bytes: at most 123 (UTF-8)")


def _cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8."""
    return text.encode()[:limit].decode(errors="ignore")


async def _until_gone(receive: Callable[[], Awaitable[T]]) -> AsyncIterator[T]:
    """What `receive()` gives, until it raises `WebSocketDisconnect`."""
    try:
        while True:
            yield await receive()
    except WebSocketDisconnect:
        pass


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
