"""WebSocket routes (`@app.websocket`), through `TestClient.websocket_connect`: the app served
on a loopback port by the Rust server, a real WebSocket client (tungstenite) over a real
socket. FastAPI's (Starlette's) API and behaviour, including the failure paths."""

from __future__ import annotations

from typing import Annotated, Optional

import pytest

from armature import App, APIRouter, Cookie, Depends, Header, HTTPException, Query, TestClient, WebSocket, WebSocketDisconnect, WebSocketException, status
from armature.testclient import WebSocketDenialResponse
from armature.websockets import WebSocketState


def echo_app() -> tuple[App, list]:
    app = App()
    left: list = []

    @app.websocket("/echo/{room}")
    async def echo(websocket: WebSocket, room: str, name: str = Query("guest")) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    left.append((message["code"], message["reason"]))
                    return
                if "text" in message:
                    await websocket.send_text(f"{room}/{name}: {message['text']}")
                else:
                    await websocket.send_bytes(message["bytes"][::-1])
        finally:
            assert websocket.client_state is WebSocketState.DISCONNECTED

    @app.websocket("/json")
    async def as_json(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_json():
            await websocket.send_json({"got": data, "url": str(websocket.url)})

    return app, left


def test_text_bytes_and_json_messages_both_ways_and_the_clients_close_code():
    app, left = echo_app()
    with TestClient(app) as c:
        with c.websocket_connect("/echo/lobby?name=ann") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "lobby/ann: hi"
            ws.send_bytes(b"\x00\x01\xff")
            assert ws.receive_bytes() == b"\xff\x01\x00"
            ws.send_text("ünïcödé ✓")
            assert ws.receive_text() == "lobby/ann: ünïcödé ✓"
            ws.close(status.WS_1001_GOING_AWAY, "bye")
        with c.websocket_connect("/json") as ws:
            ws.send_json({"n": 1, "list": [1, 2]})
            # The host is the client's base URL's, as with Starlette's TestClient.
            assert ws.receive_json() == {"got": {"n": 1, "list": [1, 2]}, "url": "ws://testserver/json"}
    # The handler saw the client's close, its code and reason.
    assert left == [(1001, "bye")]


def test_send_text_takes_a_str_and_send_bytes_bytes():
    app = App()

    @app.websocket("/types")
    async def types(websocket: WebSocket) -> None:
        await websocket.accept()
        refused = []
        for send, value in ((websocket.send_text, b"x"), (websocket.send_bytes, "x"), (websocket.send_bytes, 7)):
            try:
                await send(value)
            except TypeError as exc:
                refused.append(str(exc))
        await websocket.send_bytes(bytearray(b"ok"))
        await websocket.send_json(refused)

    with TestClient(app) as c:
        with c.websocket_connect("/types") as ws:
            # Nothing of the refused sends went out.
            assert ws.receive_bytes() == b"ok"
            assert ws.receive_json() == [
                "send_text() takes a str, not bytes (send_bytes() sends bytes)",
                "send_bytes() takes bytes, not str (send_text() sends a str)",
                "send_bytes() takes bytes, not int (send_text() sends a str)",
            ]


def test_large_messages_arrive_whole_and_a_burst_past_the_send_buffer_arrives_in_order():
    app = App()

    @app.websocket("/big")
    async def big(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text)
        # 3 MiB in 64 KiB messages: more than the 1 MiB the server buffers, so `send` waits
        # for the client (which reads only after its own send below).
        for i in range(48):
            await websocket.send_bytes(bytes([i]) * 65536)
        await websocket.send_text("done")

    with TestClient(app) as c, c.websocket_connect("/big") as ws:
        payload = "x" * (4 << 20)
        ws.send_text(payload)
        assert ws.receive_text() == payload
        for i in range(48):
            assert ws.receive_bytes() == bytes([i]) * 65536
        assert ws.receive_text() == "done"


def test_a_client_that_sends_faster_than_the_handler_reads_loses_nothing():
    """Past 1 MiB not yet taken by the handler the server stops reading (the client's sends
    then wait on TCP) and resumes as the handler catches up: every message arrives, in order."""
    import asyncio

    app = App()

    @app.websocket("/slow")
    async def slow(websocket: WebSocket) -> None:
        await websocket.accept()
        await asyncio.sleep(0.3)  # the client sends meanwhile
        total = 0
        for i in range(48):
            chunk = await websocket.receive_bytes()
            assert chunk == bytes([i]) * 65536, i
            total += len(chunk)
        await websocket.send_json({"total": total})

    with TestClient(app) as c, c.websocket_connect("/slow") as ws:
        for i in range(48):
            ws.send_bytes(bytes([i]) * 65536)
        assert ws.receive_json() == {"total": 48 * 65536}


def waiting_app() -> tuple[App, list]:
    """An app whose `/wait` accepts, waits for a message and records the disconnect's code and
    reason instead."""
    app = App()
    seen: list = []

    @app.websocket("/wait")
    async def wait(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as gone:
            seen.append((gone.code, gone.reason))

    return app, seen


def test_a_message_over_16_mib_closes_with_1009():
    app, seen = waiting_app()
    with TestClient(app) as c, c.websocket_connect("/wait") as ws:
        # The server refuses the frame from its header, closes with 1009 and drops the
        # connection: the client, still writing, may see its close or the reset.
        with pytest.raises((WebSocketDisconnect, ConnectionError)) as closed:
            ws.send_bytes(b"x" * ((16 << 20) + 1))
            ws.receive_bytes()
        if isinstance(closed.value, WebSocketDisconnect):
            assert closed.value.code == 1009
    # The handler heard why.
    assert [code for code, _ in seen] == [1009]


def test_the_app_closes_with_a_code_and_a_reason_and_returning_closes_with_1000():
    app = App()

    @app.websocket("/close")
    async def close(websocket: WebSocket, code: int = 1000) -> None:
        await websocket.accept()
        if code != 1000:
            await websocket.close(code, "policy says no")
            with pytest.raises(RuntimeError, match="closed"):
                await websocket.close()
            with pytest.raises(RuntimeError, match="send"):
                await websocket.send_text("too late")
        # else: return without closing

    with TestClient(app) as c:
        with c.websocket_connect("/close?code=1008") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert (closed.value.code, closed.value.reason) == (1008, "policy says no")
        with c.websocket_connect("/close") as ws:
            assert ws.receive() == {"type": "websocket.close", "code": 1000, "reason": ""}


def test_a_handshake_refused_before_accept():
    app = App()

    @app.websocket("/private")
    async def private(websocket: WebSocket, token: Optional[str] = None) -> None:
        if token is None:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
            return
        if token == "raise":
            raise WebSocketException(status.WS_1003_UNSUPPORTED_DATA, "no")
        if token == "http":
            raise HTTPException(status_code=401, detail="who are you")
        if token == "never":
            return  # neither accepted nor closed
        await websocket.accept()
        await websocket.send_text("welcome")

    with TestClient(app) as c:
        with pytest.raises(WebSocketDisconnect) as refused:
            c.websocket_connect("/private")
        assert refused.value.code == 1008
        with pytest.raises(WebSocketDisconnect) as refused:
            c.websocket_connect("/private?token=raise")
        assert (refused.value.code, refused.value.reason) == (1003, "no")
        with pytest.raises(WebSocketDenialResponse) as denied:
            c.websocket_connect("/private?token=http")
        assert (denied.value.status_code, denied.value.json()) == (401, {"detail": "who are you"})
        with pytest.raises(WebSocketDisconnect) as refused:
            c.websocket_connect("/private?token=never")
        assert refused.value.code == 1000
        with c.websocket_connect("/private?token=ok") as ws:
            assert ws.receive_text() == "welcome"


def test_a_handler_that_raises_closes_with_1011_and_the_test_sees_the_exception():
    app = App()

    @app.websocket("/boom")
    async def boom(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise ValueError("broken handler")

    with TestClient(app) as c:
        with pytest.raises(ValueError, match="broken handler"):
            with c.websocket_connect("/boom") as ws:
                ws.send_text("go")
                ws.receive_text()
    with TestClient(app, raise_server_exceptions=False) as c:
        with c.websocket_connect("/boom") as ws:
            ws.send_text("go")
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1011
        # The server keeps serving.
        with c.websocket_connect("/boom") as ws:
            ws.send_text("again")
            assert ws.receive()["code"] == 1011


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
def test_a_handler_that_raises_keyboardinterrupt_or_systemexit_fails_alone(fatal):
    # Out of a Task these would stop the event loop, and every connection with it: they fail
    # their own connection (500 before the accept, 1011 after), as HTTP handlers do.
    app = App()

    @app.websocket("/after")
    async def after(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise fatal()

    @app.websocket("/before")
    async def before(websocket: WebSocket) -> None:
        raise fatal()

    @app.get("/alive")
    async def alive() -> dict:
        return {"alive": True}

    with TestClient(app, raise_server_exceptions=False) as c:
        with c.websocket_connect("/after") as ws:
            ws.send_text("go")
            assert ws.receive()["code"] == 1011
        with pytest.raises(WebSocketDenialResponse) as denied:
            with c.websocket_connect("/before"):
                pass
        assert denied.value.status_code == 500
        assert c.get("/alive").json() == {"alive": True}
        with c.websocket_connect("/after") as ws:
            ws.send_text("again")
            assert ws.receive()["code"] == 1011


def test_parameters_and_dependencies_as_in_http_routes_and_a_bad_one_refuses_with_1008():
    events: list[str] = []

    def session():
        events.append("open")
        yield "db"
        events.append("close")

    async def user(x_user: Annotated[str, Header()], theme: Annotated[str, Cookie()] = "light") -> str:
        return f"{x_user}/{theme}"

    router = APIRouter(prefix="/api")

    @router.websocket("/rooms/{room_id}", name="room")
    async def room(websocket: WebSocket, room_id: int, limit: int = Query(10, ge=1), who: str = Depends(user), db: str = Depends(session)) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room_id, "limit": limit, "who": who, "db": db, "path": websocket.path_params, "agent": websocket.headers.get("x-user")})
        await websocket.receive_text()

    app = App()
    app.include_router(router)
    with TestClient(app, cookies={"theme": "dark"}) as c:
        with c.websocket_connect("/api/rooms/7?limit=3", headers={"x-user": "ann"}) as ws:
            assert ws.receive_json() == {"room": 7, "limit": 3, "who": "ann/dark", "db": "db", "path": {"room_id": "7"}, "agent": "ann"}
            assert events == ["open"]
            ws.send_text("bye")
        # The `yield` dependency closed once the handler was done.
        assert events == ["open", "close"]
        for bad in ["/api/rooms/seven", "/api/rooms/7?limit=0"]:
            with pytest.raises(WebSocketDisconnect) as refused:
                c.websocket_connect(bad, headers={"x-user": "ann"})
            assert refused.value.code == 1008, bad
        with pytest.raises(WebSocketDisconnect) as refused:
            c.websocket_connect("/api/rooms/7")  # no x-user header
        assert "x-user" in refused.value.reason
    assert app.url_path_for("room", room_id=7) == "/api/rooms/7"


def test_subprotocols_and_extra_headers_of_the_accept():
    app = App()

    @app.websocket("/proto")
    async def proto(websocket: WebSocket) -> None:
        offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        await websocket.accept(subprotocol="v2" if "v2" in offered else None, headers=[(b"x-server", b"armature")])
        await websocket.send_text(",".join(offered))

    with TestClient(app) as c:
        with c.websocket_connect("/proto", subprotocols=["v1", "v2"]) as ws:
            assert ws.accepted_subprotocol == "v2"
            assert ws.receive_text() == "v1,v2"
        with c.websocket_connect("/proto") as ws:
            assert ws.accepted_subprotocol is None


def test_connections_at_once_share_the_apps_state():
    app = App()
    room: list[WebSocket] = []

    @app.websocket("/room")
    async def broadcast(websocket: WebSocket) -> None:
        await websocket.accept()
        room.append(websocket)
        try:
            async for text in websocket.iter_text():
                for member in list(room):
                    await member.send_text(text)
        finally:
            room.remove(websocket)

    with TestClient(app) as c, c.websocket_connect("/room") as ann, c.websocket_connect("/room") as bob:
        ann.send_text("one")
        assert ann.receive_text() == "one"
        assert bob.receive_text() == "one"
        bob.send_text("two")
        assert (ann.receive_text(), bob.receive_text()) == ("two", "two")


def test_what_is_not_a_handshake_gets_an_http_error_and_http_middleware_does_not_run():
    app = App()
    seen: list[str] = []

    @app.middleware("http")
    async def track(request, call_next):
        seen.append(request.url.path)
        return await call_next(request)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")

    @app.get("/plain")
    async def plain() -> dict:
        return {"ok": True}

    handshake = {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
    with TestClient(app) as c:
        res = c.get("/ws")
        assert (res.status_code, res.json()["detail"]) == (400, "WebSocket handshake expected: Upgrade: websocket and Connection: upgrade")
        res = c.get("/ws", headers={**handshake, "sec-websocket-version": "8"})
        assert (res.status_code, res.headers["sec-websocket-version"]) == (426, "13")
        assert c.post("/ws").status_code == 405
        with c.websocket_connect("/ws") as session:
            assert session.receive_text() == "hi"
        with pytest.raises(WebSocketDenialResponse) as missing:
            c.websocket_connect("/nope")
        assert missing.value.status_code == 404
        assert c.get("/plain").json() == {"ok": True}
    # What the HTTP middleware saw: the 405 (an HTTP answer of the router), the unmatched
    # path and the HTTP route; not the WebSocket route's requests, handshakes or not.
    assert seen == ["/ws", "/nope", "/plain"]


def test_websocket_routes_are_not_in_the_openapi_document_and_must_be_async():
    app, _ = echo_app()

    @app.get("/items")
    async def items() -> list:
        return []

    assert set(app.openapi()["paths"]) == {"/items"}
    with pytest.raises(TypeError, match="async def"):

        @app.websocket("/sync")
        def sync(websocket: WebSocket) -> None:  # pragma: no cover - refused
            pass

    with TestClient(App()) as c:
        with pytest.raises(WebSocketDenialResponse) as missing:
            c.websocket_connect("/none")
        assert missing.value.json() == {"detail": "Not Found"}


def test_closing_the_test_client_closes_open_websockets_with_1012():
    import threading

    app, seen = waiting_app()
    c = TestClient(app)
    ws = c.websocket_connect("/wait")
    got: list = []
    reader = threading.Thread(target=lambda: got.append(ws.receive()))
    reader.start()
    c.close()  # the server stops: the open socket is told so
    reader.join(timeout=30)
    assert got == [{"type": "websocket.close", "code": 1012, "reason": "server shutting down"}]
    assert seen == [(1012, "server shutting down")]


def test_a_receive_cancelled_by_a_timeout_loses_no_message_and_handlers_run_in_a_task():
    """`asyncio.wait_for` / `asyncio.timeout` around `receive_text` (a heartbeat) cancel the
    wait, never a message; `TaskGroup` works (the handler is a Task from the start)."""
    import asyncio

    app = App()

    @app.websocket("/heartbeat")
    async def heartbeat(websocket: WebSocket) -> None:
        await websocket.accept()
        got: list[str] = []
        timeouts = 0
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0))
        while len(got) < 300:
            try:
                async with asyncio.timeout(0.0005):
                    got.append(await websocket.receive_text())
            except TimeoutError:
                timeouts += 1
        await websocket.send_json({"got": got == [str(i) for i in range(300)], "count": len(got)})

    with TestClient(app) as c, c.websocket_connect("/heartbeat") as ws:
        for i in range(300):
            ws.send_text(str(i))
        assert ws.receive_json() == {"got": True, "count": 300}


def test_several_tasks_of_one_handler_send_and_receive_on_one_socket():
    import asyncio

    app = App()

    @app.websocket("/fan")
    async def fan(websocket: WebSocket) -> None:
        await websocket.accept()

        async def reader(name: str) -> list[str]:
            seen = []
            async for text in websocket.iter_text():
                seen.append(text)
                if text == "stop":
                    break
            return seen

        async def writer(name: str) -> None:
            for i in range(40):
                await websocket.send_bytes(name.encode() * 65536)  # past the send buffer together

        readers = [asyncio.create_task(reader(n)) for n in "ab"]
        await asyncio.gather(writer("x"), writer("y"))
        await websocket.send_text("written")
        results = await asyncio.gather(*readers)
        await websocket.send_json(sorted(len(r) for r in results))

    with TestClient(app) as c, c.websocket_connect("/fan") as ws:
        sizes = [len(ws.receive_bytes()) for _ in range(80)]
        assert sizes == [65536] * 80
        assert ws.receive_text() == "written"
        # Two readers, one message each "stop" ends one of them; the other then stops too.
        for text in ["one", "stop", "two", "stop"]:
            ws.send_text(text)
        counts = ws.receive_json()
        assert sum(counts) == 4 and all(n >= 1 for n in counts)


def test_an_http_route_and_a_websocket_route_on_one_path():
    app = App()

    @app.get("/chat")
    async def page() -> dict:
        return {"page": True}

    @app.websocket("/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("socket")

    with TestClient(app) as c:
        assert c.get("/chat").json() == {"page": True}
        with c.websocket_connect("/chat") as ws:
            assert ws.receive_text() == "socket"


def test_close_codes_and_reasons_are_checked_before_anything_is_sent():
    app = App()
    outcomes: list = []

    @app.websocket("/bad-close")
    async def bad_close(websocket: WebSocket, code: int, long: bool = False) -> None:
        await websocket.accept()
        try:
            await websocket.close(code, "x" * 124 if long else None)
        except ValueError as err:
            outcomes.append(str(err).split(":")[0])
            await websocket.close(4000, "fine")

    with TestClient(app) as c:
        for query in ["code=1006", "code=999", "code=70000", "code=1000&long=true"]:
            with c.websocket_connect(f"/bad-close?{query}") as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    ws.receive_text()
                assert (closed.value.code, closed.value.reason) == (4000, "fine"), query
    assert outcomes == ["close code 1006", "close code 999", "close code 70000", "close reason of 124 bytes"]


def test_the_session_waits_for_the_handlers_cleanup_and_raises_what_it_raised():
    app = App()
    members: list = []

    @app.websocket("/member")
    async def member(websocket: WebSocket) -> None:
        await websocket.accept()
        members.append(websocket)
        try:
            await websocket.receive_text()
        except WebSocketDisconnect:
            members.remove(websocket)
            raise RuntimeError("cleanup failed") from None

    with TestClient(app) as c:
        with pytest.raises(RuntimeError, match="cleanup failed"):
            with c.websocket_connect("/member"):
                assert len(members) == 1
        assert members == []  # the handler's cleanup ran before the `with` ended


def test_receive_before_accept_gives_the_connect_message_as_in_starlette():
    app = App()

    @app.websocket("/connect")
    async def connect(websocket: WebSocket) -> None:
        first = await websocket.receive()
        with pytest.raises(RuntimeError, match="accept"):
            await websocket.receive()
        await websocket.accept()
        await websocket.send_json(first)

    with TestClient(app) as c, c.websocket_connect("/connect") as ws:
        assert ws.receive_json() == {"type": "websocket.connect"}


def test_a_server_stopping_while_a_write_waits_for_a_client_that_does_not_read():
    """The handler floods a client that reads nothing: its `send` waits; stopping the
    server gives up the write, and the handler hears `1012` (it is not left waiting)."""
    app = App()
    seen: list = []

    @app.websocket("/flood")
    async def flood(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(b"x" * 65536)
        except WebSocketDisconnect as gone:
            seen.append(gone.code)

    c = TestClient(app)
    ws = c.websocket_connect("/flood")
    c.close()
    assert seen == [1012]
    del ws
