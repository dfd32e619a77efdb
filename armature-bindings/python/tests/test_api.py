"""Every API promise, run twice: through `TestClient` (the whole Rust stack without a
socket) and against a real server process (`tests/apps.py`, `app.run`) with httpx over TCP.
The application's state is read back through its own endpoints (`/events`), so the same
assertions hold in both."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import threading
import time
import uuid
from typing import Annotated, Dict, List, Optional, Union

import httpx
import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # Pydantic's wish before Python 3.12

from apps import RANGED_FILES, build
from armature.responses import HTMLResponse
from armature import Response, jsonable_encoder, status
from armature.testclient import HTTPStatusError, WebSocketDenialResponse
from armature.security import APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBasicCredentials, HTTPBearer, HTTPDigest, OAuth2PasswordBearer, OAuth2PasswordRequestForm, Security, SecurityScopes
from armature import APIRouter, App, BackgroundTasks, Body, Cookie, CORSMiddleware, Depends, File, Form, Header, HTTPException, HttpRequest, HttpResponse, Path, Query, Request, RequestValidationError, Router, TestClient, UploadFile, WebSocket


@pytest.fixture(scope="module", params=["testclient", "http"])
def client(request):
    if request.param == "testclient":
        # Handler failures are the 500 a client gets, as over HTTP (not raised in the test).
        with TestClient(build(), raise_server_exceptions=False) as c:
            c.logs = None  # logged in this process: read with caplog
            yield c
    else:
        server = request.getfixturevalue("server")
        with httpx.Client(base_url=server.url, timeout=30) as c:
            c.logs = server.stderr  # logged by the server process
            yield c


def events(client) -> list:
    return client.get("/events").json()


def wait_for_events(client, count: int) -> list:
    deadline = time.monotonic() + 10
    seen = events(client)
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.01)
        seen = events(client)
    return seen


def test_the_three_benchmark_endpoints(client):
    res = client.get("/plaintext")
    assert (res.status_code, res.text) == (200, "Hello, World!")
    assert res.headers["content-type"] == "text/plain; charset=utf-8"
    res = client.get("/json")
    assert res.content == b'{"message":"Hello, World!"}'
    assert res.headers["content-type"] == "application/json"
    assert client.get("/users/42").content == b'{"id":"42","name":"Alice"}'


def test_path_and_query_parameters_are_converted_by_type_hint(client):
    res = client.get("/items/7?q=hello+world&limit=3&flag=yes")
    assert res.json() == {"item_id": 7, "q": "hello world", "limit": 3, "flag": True}
    assert client.get("/items/8").json() == {"item_id": 8, "q": None, "limit": 10, "flag": False}
    assert client.get("/tags?tag=a&tag=b").json() == ["a", "b"]
    # A scalar given twice is the last value, as in FastAPI (Starlette's query_params).
    assert client.get("/items/8?limit=1&limit=4").json()["limit"] == 4


def test_a_path_parameter_matches_the_rest_of_the_path_even_an_empty_one(client):
    # Starlette's `{name:path}` matches "" too: `/files/` calls the route with file_path="".
    assert client.get("/params/files/a/b%20c.txt").json() == {"file_path": "a/b c.txt"}
    assert client.get("/params/files/").json() == {"file_path": ""}
    assert client.get("/params/sync-files/?v=2").json() == {"file_path": "", "v": 2}
    assert client.get("/params/sync-files/x/").json() == {"file_path": "x/", "v": 1}
    # A route declared on the empty rest's path keeps it.
    assert client.get("/params/kept/").json() == {"own": True}
    assert client.get("/params/kept/x").json() == {"rest": "x"}
    # Another method on the empty rest is still a 405, not a match.
    res = client.post("/params/files/")
    assert (res.status_code, res.headers["allow"]) == (405, "GET,HEAD")


def test_request_url_and_query_params_as_starlettes():
    app = App()

    @app.get("/where")
    async def where(request: HttpRequest) -> dict:
        url, q = request.url, request.query_params
        return {"url": str(url), "path": url.path, "host": url.hostname, "port": url.port, "q": q["t"], "all": q.getlist("t"), "pairs": q.multi_items()}

    with TestClient(app) as c:
        res = c.get("/where?t=1&t=2&u=3", headers={"host": "api.example:8443"})
    assert res.json() == {
        "url": "http://api.example:8443/where?t=1&t=2&u=3",
        "path": "/where",
        "host": "api.example",
        "port": 8443,
        "q": "2",
        "all": ["1", "2"],
        "pairs": [["t", "1"], ["t", "2"], ["u", "3"]],
    }


def test_request_url_path_is_percent_decoded_as_starlettes():
    # Starlette's URL is built from the ASGI scope's decoded path; HttpRequest.path is as sent.
    app = App()

    @app.get("/files/{name:path}")
    async def files(request: HttpRequest) -> dict:
        return {"url": request.url.path, "raw": request.path, "name": request.path_params["name"]}

    @app.exception_handler(404)
    async def missing(request: HttpRequest, exc: HTTPException) -> HttpResponse:
        return HttpResponse.json({"url": request.url.path}, status=404)

    with TestClient(app) as c:
        res = c.get("/files/a%20b/%C3%A9t%C3%A9%2Fx?q=%20")
        assert res.json() == {"url": "/files/a b/été/x", "raw": "/files/a%20b/%C3%A9t%C3%A9%2Fx", "name": "a b/été/x"}
        # Not UTF-8 once decoded: replaced, not an error.
        assert c.get("/nowhere/%FF").json() == {"url": "/nowhere/\ufffd"}


def test_request_client_is_an_address_with_host_and_port(client):
    # Over a socket the peer's address; the TestClient's requests come from Starlette's
    # ("testclient", 50000), which FastAPI's tests expect.
    host = "testclient" if isinstance(client, TestClient) else "127.0.0.1"
    assert client.get("/whoami").json() == {"client": [host, True, True]}


def test_a_bad_path_parameter_gets_fastapis_422(client):
    res = client.get("/items/abc")
    assert res.status_code == 422
    assert res.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["path", "item_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "abc",
            }
        ]
    }


def test_bad_query_parameters_are_all_reported(client):
    res = client.get("/items/1?limit=many&flag=maybe")
    assert res.status_code == 422
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [
        ("int_parsing", ["query", "limit"]),
        ("bool_parsing", ["query", "flag"]),
    ]


def test_a_pydantic_body_is_validated_and_returned(client):
    res = client.post("/api/v1/users", json={"name": "Ann", "age": 30})
    assert res.status_code == 201
    assert res.json() == {"name": "Ann", "age": 30}


def test_an_invalid_body_gets_fastapis_422(client):
    res = client.post("/api/v1/users", json={"name": "Ann", "age": "old"})
    assert res.status_code == 422
    assert res.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["body", "age"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "old",
            }
        ]
    }
    res = client.post("/api/v1/users", json={"name": "Ann"})
    assert res.json()["detail"] == [
        {"type": "missing", "loc": ["body", "age"], "msg": "Field required", "input": {"name": "Ann"}}
    ]
    res = client.post("/api/v1/users")
    assert res.json()["detail"] == [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    res = client.post("/api/v1/users", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422
    # FastAPI's answer to the byte: where `json.loads` stopped, and why.
    assert res.json()["detail"] == [
        {
            "type": "json_invalid",
            "loc": ["body", 1],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": "Expecting property name enclosed in double quotes"},
        }
    ]


def test_two_body_models_are_embedded_by_name(client):
    res = client.post("/api/v1/orders", json={"user": {"name": "A", "age": 1}, "item": {"title": "pen", "price": 2.5}})
    assert res.json() == {"user": "A", "item": "pen", "price": 2.5}
    res = client.post("/api/v1/orders", json={"user": {"name": "A", "age": 1}})
    assert res.json()["detail"] == [{"type": "missing", "loc": ["body", "item"], "msg": "Field required", "input": None}]


def test_sync_handlers_run_off_the_event_loop(client):
    body = client.get("/sync").json()
    # The loop thread (recorded by the startup hook) is not the one the handler ran on.
    assert body["loop_thread"] == ("armature-testclient" if isinstance(client, TestClient) else "MainThread")
    assert body["thread"] != body["loop_thread"]
    res = client.put("/api/v1/users/5", json={"name": "Zed", "age": 9})
    assert res.json() == {"user_id": 5, "name": "Zed", "age": 9}


def test_return_values(client):
    assert client.get("/model").json() == {"name": "Bob", "age": 41}
    assert client.get("/list").json() == [1, "two", {"three": 3.5}, None, True]
    # Keys as Python's json writes them; tuples are lists.
    assert client.get("/keys").content == '{"1":"one","2.5":"x","false":"f","null":"n","é\\"":[1,[2,3]]}'.encode()
    res = client.get("/custom")
    assert (res.status_code, res.content) == (201, b"created!")
    assert res.headers["x-custom"] == "yes" and res.headers["x-more"] == "1"
    assert res.headers["content-type"] == "text/plain; charset=utf-8"


def test_exceptions_give_500_a_log_line_and_the_app_keeps_serving(client, caplog):
    for path in ("/boom", "/boom-late", "/boom-sync", "/unserializable"):
        with caplog.at_level("ERROR", logger="armature"):
            res = client.get(path)
        assert (res.status_code, res.text) == (500, "Internal Server Error"), path
    assert client.get("/plaintext").status_code == 200
    wanted = ("kaboom from the handler", "late kaboom", "not JSON serializable", "Traceback")
    logs = client.logs or (lambda: caplog.text)
    deadline = time.monotonic() + 5
    while not all(w in logs() for w in wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    for w in wanted:
        assert w in logs()


def test_http_exception(client):
    res = client.get("/forbidden")
    assert (res.status_code, res.json()) == (403, {"detail": "nope"})
    res = client.get("/me")
    assert (res.status_code, res.json()) == (401, {"detail": "bad token"})
    assert res.headers["www-authenticate"] == "Bearer"
    assert client.get("/me?token=secret").json() == {"user": "alice"}


def test_dependencies_sync_async_cached_and_yield_with_cleanup(client):
    client.delete("/events")
    first = client.get("/deps").json()
    # `counted` (sync) is asked for twice (directly and through needs_counted) but runs once
    # per request; get_settings is async; get_session an async generator.
    assert first["a"] == first["b"]
    assert (first["greeting"], first["session"]) == ("hi", "session")
    assert events(client) == ["session:open", "deps:handler", "session:close"]
    second = client.get("/deps").json()
    assert second["a"] == second["b"] == first["a"] + 1
    client.delete("/events")
    # A sync generator: set up before the handler, cleaned up after it.
    assert client.post("/api/v1/users", json={"name": "Cy", "age": 3}).status_code == 201
    assert events(client) == ["db:open", "created:Cy", "db:close"]
    client.delete("/events")
    assert client.post("/api/v1/users", json={"name": "Cy"}).status_code == 422
    # As in FastAPI, the dependency runs before the body is checked, and is cleaned up.
    assert events(client) == ["db:open", "db:close"]


def test_dependencies_run_before_the_handlers_parameters_are_checked_as_in_fastapi():
    app = App()
    ran = []

    def auth(x_token: Optional[str] = Header(None)) -> str:
        ran.append("auth")
        if x_token != "secret":
            raise HTTPException(401, "Not authenticated")
        return "ann"

    def page(offset: int = 0) -> int:
        ran.append("page")
        return offset

    def sort(order: int = 0) -> int:
        ran.append("sort")
        return order

    def both(p: int = Depends(page), s: int = Depends(sort)) -> int:
        ran.append("both")
        return p + s

    @app.post("/items")
    async def create(item: Named, q: int, user: str = Depends(auth)) -> dict:
        return {"user": user}

    @app.get("/list")
    async def listing(q: int, p: int = Depends(page), s: int = Depends(sort), b: int = Depends(both)) -> list:
        return [q, p, s, b]

    with TestClient(app) as c:
        # An unauthenticated request is refused before its query and body are read.
        res = c.post("/items?q=x", json={"bad": 1})
        assert (res.status_code, res.json(), ran) == (401, {"detail": "Not authenticated"}, ["auth"])
        ran.clear()
        # A dependency whose own parameters are invalid is not called (nor those that need
        # it); the others are, and every error is reported once, the dependencies' first.
        res = c.get("/list?q=x&offset=y")
        assert res.status_code == 422
        assert [e["loc"] for e in res.json()["detail"]] == [["query", "offset"], ["query", "q"]]
        assert ran == ["sort"]
        ran.clear()
        assert c.get("/list?q=1&offset=2&order=3").json() == [1, 2, 3, 5]


def test_a_failure_at_a_handlers_await_reaches_its_code_and_its_dependencies(client):
    """What a failed future raises is raised at the handler's own `await`, the first one
    included (a plain `def` handler's call in the thread pool is one): the handler's `except`
    catches it, a `yield` dependency's `except`/`finally` (a session's rollback and close) run
    at once, and the app's exception handlers answer."""
    client.delete("/events")
    res = client.get("/failures/sync-http/2")
    assert (res.status_code, res.json()) == (404, {"detail": "no item 2"})
    assert events(client) == ["tx:open", "tx:rollback:HTTPException", "tx:close"]
    client.delete("/events")
    res = client.get("/failures/sync-custom")
    assert (res.status_code, res.json()) == (418, {"detail": "short and stout"})
    assert events(client) == ["tx:open", "tx:rollback:Teapot", "tx:close"]
    assert client.get("/failures/first-await").json() == {"caught": "failed in the pool"}
    client.delete("/events")
    assert client.get("/failures/first-await-tx").status_code == 500
    assert events(client) == ["tx:open", "tx:rollback:ValueError", "tx:close"]


def test_the_response_model_reads_the_result_before_dependencies_clean_up(client):
    # As in FastAPI: a lazily loaded relationship still has its session.
    res = client.get("/failures/lazy")
    assert (res.status_code, res.json()) == (200, {"name": "ann", "items": ["hat", "cap"]})


def test_a_streamed_body_reads_what_yield_dependencies_give_before_they_clean_up(caplog):
    # As FastAPI's since 0.118: the exit code of `yield` dependencies runs once the stream is
    # sent, so a stream can read the database session one gives.
    from armature.responses import StreamingResponse

    app = App()
    events = []

    class Session:
        open = True

        def rows(self) -> list:
            if not self.open:
                raise RuntimeError("session closed")
            return ["a", "b"]

    def session():
        s = Session()
        try:
            yield s
        finally:
            s.open = False
            events.append("closed")

    async def async_session():
        s = Session()
        yield s
        s.open = False
        events.append("async closed")

    @app.get("/sync")
    def sync_stream(s=Depends(session)):
        return StreamingResponse((row for row in s.rows() + s.rows()), media_type="text/plain")

    @app.get("/async")
    async def async_stream(s=Depends(async_session), t=Depends(session)):
        async def rows():
            for row in s.rows() + t.rows():
                yield row
            if len(events) > 0:
                raise RuntimeError("cleaned up too early")

        return StreamingResponse(rows())

    @app.get("/broken")
    def broken(s=Depends(session)):
        def rows():
            yield s.rows()[0]
            raise ValueError("mid-stream")

        return StreamingResponse(rows())

    @app.get("/plain")
    def plain(s=Depends(session)) -> dict:
        return {"open": s.open}

    @app.get("/discarded")
    def discarded(s=Depends(session)):
        return StreamingResponse(iter(s.rows()))

    @app.middleware("http")
    async def discard(request: Request, call_next):
        response = await call_next(request)
        if request.url.path == "/discarded":
            return HttpResponse.text("replaced")  # the stream is never read
        return response

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/sync").text == "abab"
        assert events == ["closed"]
        events.clear()
        assert c.get("/async").text == "abab"
        assert events == ["closed", "async closed"]  # in reverse order of entry
        events.clear()
        with pytest.raises(RuntimeError, match="mid-stream"):
            with caplog.at_level("ERROR", logger="armature"):
                c.get("/broken")
        assert events == ["closed"]
        events.clear()
        assert c.get("/plain").json() == {"open": True} and events == ["closed"]
        events.clear()
        assert c.get("/discarded").text == "replaced"
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        assert events == ["closed"]


def test_background_tasks_run_after_the_response(client):
    client.delete("/events")
    res = client.post("/notify?who=bo")
    assert res.json() == {"queued": 2}
    if isinstance(client, TestClient):
        # As Starlette's: the test client returns once the background tasks have run.
        assert events(client) == ["notified:bo", "notified-sync:bo"]
    else:
        assert "notified:bo" not in events(client)  # it sleeps first; the response did not wait
        assert wait_for_events(client, 2) == ["notified:bo", "notified-sync:bo"]


def test_streaming(client):
    res = client.get("/stream")
    assert res.content == b"chunk0;chunk1;chunk2;chunk3;chunk4;"
    assert res.headers["content-type"] == "text/plain; charset=utf-8"


def test_request_body_is_shared_through_the_buffer_protocol_without_a_copy(client):
    payload = b"abcd" * 250_000  # 1 MB
    res = client.post("/buffer", content=payload)
    body = res.json()
    assert body["len"] == len(payload) and body["head"] == "abcd"
    # One Body object per request, and memoryview reads its bytes in place: every access
    # sees the same address, and only an explicit bytes() copies.
    assert body["same_object"] and body["exporter_is_body"]
    assert body["first"] == body["again"] != 0
    assert body["a_copy"] != body["first"]


def test_rate_limit_is_the_rust_layer(client):
    client.delete("/events")
    ok = [client.get("/limited") for _ in range(2)]
    assert [r.status_code for r in ok] == [200, 200]
    assert ok[0].headers["ratelimit-policy"] == '"default";q=2;w=60'
    refused = client.get("/limited")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    # Refused in Rust: the handler ran only for the two admitted requests.
    assert events(client) == ["limited:handler", "limited:handler"]
    assert client.get("/plaintext").status_code == 200  # other routes are not limited


def test_request_body_is_a_read_only_buffer(client):
    res = client.post("/echo", content="héllo", headers={"content-type": "text/plain"})
    body = res.json()
    assert body["len"] == len("héllo".encode())
    assert body["readonly"] is True
    assert body["text"] == "héllo"
    assert body["method"] == "POST" and body["route"] == "/echo"


def test_preset_layers(client):
    res = client.post("/echo")
    rid = res.headers["x-request-id"]
    assert len(rid) == 36
    assert res.json()["request_id"] == rid
    assert client.get("/plaintext").headers["x-request-id"] != rid
    # CORS: an allowed origin is reflected, a preflight answered by the Rust layer.
    res = client.get("/plaintext", headers={"origin": "https://app.example"})
    assert res.headers["access-control-allow-origin"] == "https://app.example"
    assert res.headers["access-control-expose-headers"] == "x-request-id"
    res = client.get("/plaintext", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in res.headers
    res = client.options("/plaintext", headers={"origin": "https://app.example", "access-control-request-method": "PUT", "access-control-request-headers": "x-api-key"})
    assert res.status_code == 204
    assert res.headers["access-control-allow-methods"] == "GET, PUT"
    assert res.headers["access-control-allow-headers"] == "x-api-key"


def test_router_answers_404_405_and_head_in_rust(client):
    # FastAPI's JSON answers, from the Rust router.
    res = client.get("/nope")
    assert (res.status_code, res.json()) == (404, {"detail": "Not Found"})
    assert res.headers["content-type"] == "application/json"
    res = client.delete("/plaintext")
    assert (res.status_code, res.json()) == (405, {"detail": "Method Not Allowed"})
    assert res.headers["allow"] == "GET,HEAD"
    assert res.headers["content-type"] == "application/json"
    res = client.head("/plaintext")
    assert (res.status_code, res.content, res.headers["content-length"]) == (200, b"", "13")
    # A path that does not decode: a 400 in the same shape (Starlette would pass the
    # undecoded text to the handler).
    for bad, message in [("%zz", "invalid percent-encoding in path"), ("%FF", "path parameter is not valid UTF-8")]:
        res = client.get(f"/users/{bad}")
        assert (res.status_code, res.json(), res.headers["content-type"]) == (400, {"detail": message}, "application/json"), bad


def test_hooks_run_with_the_client(capsys):
    app = App()
    seen = []
    app.add_event_handler("startup", lambda: seen.append("up"))

    @app.on_event("shutdown")
    async def down() -> None:
        seen.append("down")

    with TestClient(app):
        assert seen == ["up"]
    assert seen == ["up", "down"]


def test_bad_rate_limits_are_errors_from_rust():
    from armature import rate_limit

    app = App()

    @app.get("/x")
    @rate_limit(0, per="second")
    async def x() -> dict:
        return {}

    with pytest.raises(ValueError, match="rate limit"):
        app.build_engine()
    with pytest.raises(ValueError, match="cannot read rate limit"):
        rate_limit("lots")


def test_route_conflicts_and_bad_cors_are_errors_from_rust():
    app = App()
    r = Router()

    @r.get("/users/{id}")
    async def a() -> dict:
        return {}

    @r.get("/users/{user_id}")
    async def b() -> dict:
        return {}

    app.include_router(r)
    with pytest.raises(ValueError, match=r"/users/\{user_id\}.*/users/\{id\}|/users/\{id\}.*/users/\{user_id\}"):
        app.build_engine()
    app = App()
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(ValueError, match="CORS"):
        app.build_engine()


def test_http_response_constructors():
    assert HttpResponse.json({"a": [1, 2.5, None]}).body == b'{"a":[1,2.5,null]}'
    res = HttpResponse.text("x", status=404, headers=[("x-a", "1")])
    assert (res.status, res.headers) == (404, {"content-type": "text/plain; charset=utf-8", "x-a": "1"})
    with pytest.raises(ValueError):
        HttpResponse(b"", headers={"bad header": "x"})
    with pytest.raises(TypeError):
        HttpResponse.json({"x": object()})
    # Any bytes-like content, as Starlette's Response takes; a view is sent as the bytes it shows.
    assert HttpResponse(bytearray(b"ab")).body == b"ab"
    assert HttpResponse(memoryview(b"hello")[1:4]).body == b"ell"
    assert HttpResponse(memoryview(bytes(range(6))).cast("B", (2, 3))).body == bytes(range(6))
    with pytest.raises(TypeError, match="bytes, bytearray, memoryview or str, not int"):
        HttpResponse(7)


# ----------------------------------------------------------------------------- bad input


def test_system_exit_and_keyboard_interrupt_in_a_handler_answer_500_and_the_server_lives(client):
    for path in ["/bad/exit-after-await", "/bad/interrupt-sync", "/bad/exit-after-await"]:
        assert client.get(path).status_code == 500, path
    assert client.get("/plaintext").text == "Hello, World!"


def test_content_type_is_one_header_and_content_length_must_be_the_bodys(client):
    res = client.get("/bad/content-type")
    assert res.status_code == 400
    assert res.headers.get_list("content-type") == ["application/problem+json"]
    right = client.get("/bad/content-length/5")
    assert right.status_code == 200
    # Sent once, by the server (the in-process TestClient adds it as a server would).
    assert right.headers.get_list("content-length") == ["5"]
    assert right.content == b"body!"
    # A wrong length is refused where it is set: the handler fails, the connection stays sound.
    for length in ["2", "100", "x"]:
        assert client.get(f"/bad/content-length/{length}").status_code == 500, length
    assert client.get("/plaintext").text == "Hello, World!"


def test_a_1xx_status_cannot_end_a_request(client):
    for code in [100, 101, 103]:
        assert client.get(f"/bad/status/{code}").status_code == 500, code
    assert client.get("/bad/status/299").status_code == 299


def test_streams_take_plain_iterables_and_refuse_the_rest(client):
    res = client.get("/bad/stream/plain")
    assert res.status_code == 200
    assert res.content == b"abc"
    assert client.get("/bad/stream/not-iterable").status_code == 500
    with pytest.raises(TypeError, match="iterable"):
        HttpResponse.stream(b"whole body")


def test_a_mutable_default_is_fresh_for_every_request(client):
    for _ in range(3):
        assert client.get("/bad/tags").json() == ["seen"]


def test_lists_of_models_and_dicts_are_read_from_the_body(client):
    res = client.post("/bad/items", json=[{"title": "a"}, {"title": "b", "price": 2}])
    assert res.status_code == 200, res.text
    assert res.json() == {"titles": ["a", "b"]}
    assert client.post("/bad/counts", json={"a": 1, "b": 2}).json() == {"total": 3}
    invalid = client.post("/bad/items", json=[{"price": 1}])
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"][:3] == ["body", 0, "title"]


def test_bodies_that_are_not_json_get_415_or_422_never_500(client):
    user = b'{"name": "Eve", "age": 3}'
    for content_type in ["text/plain", "application/xml", "application/x-www-form-urlencoded"]:
        res = client.post("/api/v1/users", content=user, headers={"content-type": content_type})
        assert res.status_code == 415, content_type
        assert "application/json" in res.json()["detail"]
    for content_type in ["application/json; charset=utf-8", "application/vnd.api+json"]:
        assert client.post("/api/v1/users", content=user, headers={"content-type": content_type}).status_code == 201
    bad_utf8 = client.post("/api/v1/users", content=b'{"name": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert bad_utf8.status_code == 422
    assert bad_utf8.json()["detail"][0]["type"] == "json_invalid"
    deep = b"[" * 100_000 + b"]" * 100_000
    res = client.post("/api/v1/orders", content=deep, headers={"content-type": "application/json"})
    assert res.status_code == 422
    assert res.json()["detail"][0]["type"] == "json_invalid"


def test_integers_take_a_fraction_of_zeros_as_pydantic_does(client):
    assert client.get("/items/5.0", params={"limit": "3.00"}).json() == {"item_id": 5, "q": None, "limit": 3, "flag": False}
    assert client.get("/items/-0.0").json()["item_id"] == 0
    for bad in ["5.5", "5.", ".0", "5.0e0", "5.0.0", "5.01"]:
        res = client.get(f"/items/{bad}")
        assert res.json()["detail"] == [{"type": "int_parsing", "loc": ["path", "item_id"], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": bad}], bad
    assert client.get("/items/1", params={"limit": "5 .0"}).json()["detail"][0]["type"] == "int_parsing"


def test_path_and_query_numbers_take_ascii_digits_only(client):
    assert client.get("/items/%D9%A3").status_code == 422  # ARABIC-INDIC DIGIT THREE
    assert client.get("/items/%EF%BC%91%EF%BC%92").status_code == 422  # fullwidth 12
    assert client.get("/items/12").json()["item_id"] == 12
    assert client.get("/items/1", params={"flag": " 1 "}).status_code == 422


def test_nan_and_infinity_are_a_500_as_in_fastapi_not_a_silent_null(client, caplog):
    for kind in ["nan", "inf", "-inf"]:
        with caplog.at_level("ERROR", logger="armature"):
            res = client.get(f"/bad/not-a-number/{kind}")
        assert (res.status_code, res.text) == (500, "Internal Server Error"), kind
    # A model holding one, returned as it is, too (Pydantic's own JSON would say null).
    assert client.get("/bad/model/nan").status_code == 500
    assert client.get("/bad/model/1.5").json() == {"value": 1.5, "note": None}
    assert client.get("/plaintext").status_code == 200
    logs = client.logs or (lambda: caplog.text)
    deadline = time.monotonic() + 5
    while "not JSON compliant: inf" not in logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Out of range float values are not JSON compliant: NaN" in logs()
    assert "Out of range float values are not JSON compliant: inf" in logs()


def test_the_types_fastapi_encodes_are_sent_as_fastapi_sends_them(client):
    res = client.get("/bad/fastapi-types")
    assert res.status_code == 200, res.text
    assert res.json() == {
        "when": "2026-12-06T12:30:00+00:00",
        "day": "2026-12-06",
        "span": 90.0,
        "id": "12345678-1234-5678-1234-567812345678",
        "price": 1.5,
        "count": 3,
        "tags": ["only"],
        "raw": "bytes",
        "point": {"x": 1, "at": "2026-01-02"},
        "2026-12-07": "a date key",
    }


def test_models_without_a_response_model_are_sent_by_alias(client):
    assert client.get("/bad/aliased/model").json() == {"userName": "z"}
    assert client.get("/bad/aliased/nested").json() == {"one": {"userName": "z"}, "many": [{"userName": "z"}]}
    assert client.get("/bad/aliased/response").json() == {"userName": "z"}


def test_integers_beyond_64_bits_are_json_numbers(client):
    res = client.get("/bad/big-ints")
    assert res.status_code == 200
    assert res.content == b'{"big":1180591620717411303424,"negative":[-18446744073709551617],"edges":[9223372036854775807,18446744073709551615,-9223372036854775808],"36893488147419103232":"key"}'
    assert res.json()["big"] == 2**70
    assert HttpResponse.json([10**30]).body == b"[1000000000000000000000000000000]"


def test_a_trailing_slash_is_redirected_as_fastapi_does(client):
    # `/json` is routed; `/json/` is not, but is redirected there (method and query kept).
    res = client.get("/json/?x=1", follow_redirects=False)
    assert res.status_code == 308
    assert res.headers["location"] == "/json?x=1"
    assert client.get("/json/", follow_redirects=True).json() == {"message": "Hello, World!"}
    assert client.get("/nothing-here/").status_code == 404


def test_a_prefix_and_a_path_join_as_in_fastapi():
    # `APIRouter(prefix="/items")` with `@router.get("/")` is `/items/`, and `/items` is
    # redirected there; an include_router prefix joins the same way.
    items = APIRouter(prefix="/items")

    @items.get("/")
    async def listing() -> list:
        return ["hat"]

    plain = APIRouter()

    @plain.get("/")
    async def index() -> str:
        return "index"

    app = App()
    app.include_router(items)
    app.include_router(plain, prefix="/v2")
    with TestClient(app) as c:
        assert c.get("/items/").json() == ["hat"]
        res = c.get("/items?page=2", follow_redirects=False)
        assert (res.status_code, res.headers["location"]) == (308, "/items/?page=2")
        assert c.get("/v2/").json() == "index"
        assert sorted(c.get("/openapi.json").json()["paths"]) == ["/items/", "/v2/"]


def test_redirect_slashes_can_be_turned_off():
    app = App(redirect_slashes=False)

    @app.get("/a")
    async def a() -> str:
        return "a"

    with TestClient(app) as c:
        assert c.get("/a").text == '"a"'
        assert c.get("/a/", follow_redirects=False).status_code == 404


def test_fastapi_documentation_keywords_are_accepted_and_misspellings_refused():
    app = App(title="Shop", version="1.0", docs_url=None)

    @app.get("/items", tags=["items"], summary="List", response_model=list, deprecated=False)
    async def items() -> list:
        return []

    with TestClient(app) as c:
        assert c.get("/items").json() == []
    with pytest.raises(TypeError, match="titel"):
        App(titel="Shop")
    with pytest.raises(TypeError, match="respons_model"):
        app.get("/x", respons_model=list)


def test_query_markers_take_aliases_defaults_and_constraints(client):
    assert client.get("/params/search").json() == {"q": None, "page": 1, "tags": [], "sort": "asc"}
    res = client.get("/params/search", params=[("q", "shoe"), ("page", "3"), ("tag", "a"), ("tag", "b"), ("sort", "desc")])
    assert res.json() == {"q": "shoe", "page": 3, "tags": ["a", "b"], "sort": "desc"}
    # A default_factory is called anew for each request.
    assert client.get("/params/search").json()["tags"] == []
    res = client.get("/params/search", params={"q": "sneakers", "page": "0", "sort": "up"})
    assert res.status_code == 422
    detail = res.json()["detail"]
    assert [(e["type"], e["loc"]) for e in detail] == [
        ("string_too_long", ["query", "q"]),
        ("greater_than_equal", ["query", "page"]),
        ("string_pattern_mismatch", ["query", "sort"]),
    ]
    assert detail[1]["msg"] == "Input should be greater than or equal to 1"
    assert client.get("/params/search", params={"page": "x"}).json()["detail"][0]["type"] == "int_parsing"


def test_depends_on_a_model_class_checks_its_fields_as_query_parameters(client):
    assert client.get("/params/filter").json() == {"limit": 10, "q": None, "tags": []}
    res = client.get("/params/filter", params=[("limit", "3"), ("q", "ab"), ("tags", "x"), ("tags", "y")])
    assert res.json() == {"limit": 3, "q": "ab", "tags": ["x", "y"]}
    # The fields' constraints are the parameters' (FastAPI's 422, not a 500 from the model).
    res = client.get("/params/filter", params={"limit": "0", "q": "abcd"})
    assert res.status_code == 422
    assert res.json() == {
        "detail": [
            {"type": "greater_than_equal", "loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}},
            {"type": "string_too_long", "loc": ["query", "q"], "msg": "String should have at most 3 characters", "input": "abcd", "ctx": {"max_length": 3}},
        ]
    }
    operation = client.get("/openapi.json").json()["paths"]["/params/filter"]["get"]
    by_name = {p["name"]: p for p in operation["parameters"]}
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "title": "Limit", "default": 10}
    assert by_name["q"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 3}


def test_query_lists_sets_and_tuples_take_every_value(client):
    res = client.get("/params/collections", params=[("tags", "a"), ("unique", "2"), ("unique", "1"), ("unique", "2"), ("ordered", "3"), ("ordered", "4"), ("pair", "1"), ("pair", "x")])
    assert res.json() == {"tags": ["a"], "unique": [1, 2], "types": ["set", "tuple"], "ordered": [3, 4], "pair": [1, "x"]}
    assert client.get("/params/collections").json() == {"tags": [], "unique": [], "types": ["set", "tuple"], "ordered": [], "pair": None}
    res = client.get("/params/collections", params=[("unique", "x"), ("ordered", "1"), ("ordered", "y"), ("pair", "1")])
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [
        ("int_parsing", ["query", "unique", 0]),
        ("int_parsing", ["query", "ordered", 1]),
        ("missing", ["query", "pair", 1]),
    ]


def test_path_markers_are_constrained_and_required_query_markers_missing_are_422(client):
    assert client.get("/params/items/3", params={"size": "2.5"}).json() == {"item_id": 3, "size": 2.5}
    res = client.get("/params/items/0")
    assert res.status_code == 422
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [
        ("greater_than", ["path", "item_id"]),
        ("missing", ["query", "size"]),
    ]
    assert client.get("/params/items/1", params={"size": "11"}).json()["detail"][0]["type"] == "less_than"


def test_header_markers_convert_underscores_take_lists_and_aliases(client):
    res = client.get("/params/headers", headers=[("User-Agent", "probe/1"), ("X-Token", "a"), ("x-token", "b"), ("strange_header", "kept"), ("x-count", "7")])
    assert res.status_code == 200, res.text
    assert res.json() == {"user_agent": "probe/1", "x_token": ["a", "b"], "strange_header": "kept", "x_count": 7}
    # Without the optional headers: their defaults; the underscore name is not read as a hyphen one.
    res = client.get("/params/headers", headers={"user-agent": "probe/2", "strange-header": "not this one"})
    assert res.json() == {"user_agent": "probe/2", "x_token": [], "strange_header": None, "x_count": 0}
    res = client.get("/params/headers", headers={"user-agent": "probe/3", "x-count": "-1"})
    assert res.status_code == 422
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("greater_than_equal", ["header", "X-Count"])]
    # Names and values may be bytes, as httpx takes them.
    res = client.get("/params/headers", headers={b"user-agent": b"probe/\xc3\xa9", "x-count": b"3"})
    assert res.json() == {"user_agent": "probe/\u00e9", "x_token": [], "strange_header": None, "x_count": 3}
    if isinstance(client, TestClient):
        # It sends text as UTF-8: bytes that are not UTF-8 are refused rather than changed.
        with pytest.raises(ValueError, match="not UTF-8"):
            client.get("/params/headers", headers=[("user-agent", b"\xff")])


def test_cookie_markers_read_the_cookie_header_also_in_dependencies(client):
    res = client.get("/params/cookies", headers={"cookie": 'session=abc; theme="dark"; visits=4; session=second'})
    assert res.status_code == 200, res.text
    assert res.json() == {"user": "user-of-abc", "theme": "dark", "visits": 4, "all": {"session": "abc", "theme": "dark", "visits": "4"}}
    res = client.get("/params/cookies", headers={"cookie": "theme=dark"})
    assert res.status_code == 422
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("missing", ["cookie", "session"])]
    res = client.get("/params/cookies", headers={"cookie": "session=s; visits=-2; =empty; junk"})
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("greater_than_equal", ["cookie", "visits"])]


def test_cookie_fields_sent_apart_join_with_semicolons(client):
    # HTTP/2 clients (browsers) send each cookie in a field of its own (RFC 9113 section 8.2.3).
    res = client.get("/params/cookie-header", headers=[("cookie", "a=1"), ("cookie", "b=2"), ("x-other", "1")])
    assert res.json() == {"header": "a=1; b=2", "all": "a=1; b=2", "cookies": {"a": "1", "b": "2"}}


def test_quoted_cookie_values_are_read_as_starlette_reads_them(client):
    # As `set_cookie` (and Starlette's) quote them: escapes resolved, quotes removed.
    sent = 'a="two words"; b="semi\\073colon\\054comma"; c="say \\"hi\\""; d="caf\\351"; e="\\q"'
    res = client.get("/params/cookie-header", headers={"cookie": sent})
    assert res.json()["cookies"] == {"a": "two words", "b": "semi;colon,comma", "c": 'say "hi"', "d": "caf\u00e9", "e": "q"}


def test_body_markers_embed_alias_scalars_and_constraints(client):
    res = client.put("/params/items/5", json={"item": {"title": "hat"}, "importance": 3, "comment": "soon"})
    assert res.status_code == 200, res.text
    assert res.json() == {"item_id": 5, "title": "hat", "importance": 3, "note": "soon"}
    # The optional member may be left out; the others are reported missing or invalid by name.
    assert client.put("/params/items/5", json={"item": {"title": "hat"}, "importance": 1}).json()["note"] is None
    res = client.put("/params/items/5", json={"item": {}, "importance": 0})
    assert res.status_code == 422
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [
        ("missing", ["body", "item", "title"]),
        ("greater_than", ["body", "importance"]),
    ]
    # embed=True on a lone model: the body holds it under its name, not as the whole body.
    assert client.post("/params/embedded", json={"item": {"title": "cap"}}).json() == {"title": "cap"}
    res = client.post("/params/embedded", json={"title": "cap"})
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("missing", ["body", "item"])]
    # A lone scalar is the whole body.
    assert client.post("/params/score", json=0.25).json() == {"value": 0.25}
    res = client.post("/params/score", json=2)
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("less_than_equal", ["body"])]
    res = client.post("/params/score", content=b"[1,", headers={"content-type": "application/json"})
    assert [(e["type"], e["loc"], e["ctx"]) for e in res.json()["detail"]] == [("json_invalid", ["body", 3], {"error": "Expecting value"})]


def test_form_markers_read_urlencoded_and_multipart_bodies(client):
    res = client.post("/params/login", data={"username": "ann", "password": "secret", "scope": ["read", "write"]})
    assert res.status_code == 200, res.text
    assert res.json() == {"username": "ann", "password": "secret", "scope": ["read", "write"], "avatar": None}
    multipart = (
        b'--b0undary\r\nContent-Disposition: form-data; name="username"\r\n\r\nb\xc3\xb8b\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\x00\r\n--b0undary--\r\n"
    )
    res = client.post("/params/login", content=multipart, headers={"content-type": "multipart/form-data; boundary=b0undary"})
    assert res.status_code == 200, res.text
    assert res.json() == {"username": "bøb", "password": "", "scope": [], "avatar": [0x89, 0x50, 0x4E, 0x47, 0]}
    # Missing and invalid fields: FastAPI's 422, located in the body.
    res = client.post("/params/login", data={"password": "no"})
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("missing", ["body", "username"]), ("string_too_short", ["body", "password"])]
    # An empty field is not sent (FastAPI): its default, or missing; Swagger UI sends blank inputs so.
    res = client.post("/params/login", data={"username": "ann", "password": "", "avatar": ""})
    assert res.status_code == 200, res.text
    assert res.json() == {"username": "ann", "password": "", "scope": [], "avatar": None}
    res = client.post("/params/login", data={"username": "", "password": "secret"})
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("missing", ["body", "username"])]
    # Not a form: 415; a broken form: 400; neither reaches the handler.
    res = client.post("/params/login", json={"username": "ann"})
    assert res.status_code == 415 and "form" in res.json()["detail"]
    for content_type, body in [
        ("multipart/form-data; boundary=b0undary", b"--b0undary\r\nno end"),
        ("multipart/form-data", multipart),  # no boundary
        ("application/x-www-form-urlencoded", b"username=\xff"),
        ("application/x-www-form-urlencoded", b"a=1&" * 1001),
        ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n' * 1001 + b"--b--\r\n"),
        ("multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n' * 100_000 + b"--b--\r\n"),
    ]:
        res = client.post("/params/login", content=body, headers={"content-type": content_type})
        assert res.status_code == 400, (content_type, res.text)
    assert client.get("/plaintext").status_code == 200


def multipart(*parts: tuple) -> tuple:
    """A multipart/form-data body of (name, filename or None, content type or None, bytes) parts."""
    body = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--XbOuNd\r\nContent-Disposition: {disposition}\r\n".encode()
        body += (f"Content-Type: {content_type}\r\n" if content_type else "").encode() + b"\r\n" + data + b"\r\n"
    return body + b"--XbOuNd--\r\n", {"content-type": "multipart/form-data; boundary=XbOuNd"}


def test_file_markers_give_upload_files_and_bytes(client):
    body, headers = multipart(
        ("files", "a.txt", "text/plain", b"alpha"),
        ("files", "b.png", "image/png", b"\x89PNG...."),
        ("raw", "r.bin", None, b"raw bytes"),
        ("note", None, None, b"two files"),
    )
    res = client.post("/params/upload", content=body, headers=headers)
    assert res.status_code == 200, res.text
    assert res.json() == {
        "files": [
            {"name": "a.txt", "type": "text/plain", "size": 5, "head": "alph"},
            {"name": "b.png", "type": "image/png", "size": 8, "head": "\x89PNG"},
        ],
        "raw": "raw bytes",
        "note": "two files",
    }
    # A text field where a file is expected, a file where text is expected, no file at all.
    body, headers = multipart(("files", None, None, b"not a file"), ("note", "n.txt", None, b"x"))
    res = client.post("/params/upload", content=body, headers=headers)
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("value_error", ["body", "files", 0]), ("value_error", ["body", "note"])]
    body, headers = multipart(("note", None, None, b"no files"))
    assert [(e["type"], e["loc"]) for e in client.post("/params/upload", content=body, headers=headers).json()["detail"]] == [("missing", ["body", "files"])]


class Thing(BaseModel):
    name: str
    size: int


def test_a_validation_error_carries_the_body_as_fastapis_does():
    app = App()

    # FastAPI's documented handler: the errors and the body that caused them.
    @app.exception_handler(RequestValidationError)
    async def with_body(request, exc):
        return HttpResponse.json({"detail": exc.errors(), "body": exc.body}, status=422)

    def token(x_token: str = Header()) -> str:
        return x_token

    @app.post("/things")
    async def create(thing: Thing, tok: str = Depends(token)) -> dict:
        return {}

    @app.post("/login")
    async def login(username: str = Form(), age: int = Form(), scope: List[str] = Form([])) -> dict:
        return {}

    @app.get("/find")
    async def find(n: int) -> dict:
        return {}

    def errors(res) -> list:
        return [(e["type"], e["loc"]) for e in res.json()["detail"]]

    with TestClient(app) as c:
        res = c.post("/things", json={"name": "hat", "size": "big"}, headers={"x-token": "t"})
        assert (res.status_code, errors(res), res.json()["body"]) == (422, [("int_parsing", ["body", "size"])], {"name": "hat", "size": "big"})
        # The dependency fails before the body is read: the body is still the one received.
        res = c.post("/things", json={"name": "hat", "size": 1})
        assert (errors(res), res.json()["body"]) == ([("missing", ["header", "x-token"])], {"name": "hat", "size": 1})
        res = c.post("/things", content=b'{"name": ', headers={"x-token": "t", "content-type": "application/json"})
        assert (errors(res), res.json()["body"]) == ([("json_invalid", ["body", 9])], '{"name": ')
        assert c.post("/things", headers={"x-token": "t"}).json()["body"] is None
        res = c.post("/login", data={"username": "ann", "age": "old", "scope": ["a", "b"]})
        assert (errors(res), res.json()["body"]) == ([("int_parsing", ["body", "age"])], {"username": "ann", "age": "old", "scope": ["a", "b"]})
        # A route that reads no body: none.
        res = c.request("GET", "/find", params={"n": "x"}, content=b'{"not": "read"}')
        assert (errors(res), res.json()["body"]) == ([("int_parsing", ["query", "n"])], None)


class OutOfStock(LookupError):
    def __init__(self, item: str) -> None:
        self.item = item


class BackOrdered(OutOfStock):
    pass


def test_exception_handlers_answer_by_nearest_class_and_can_replace_the_defaults(caplog):
    app = App()

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request, exc):
        return HttpResponse.json({"detail": f"{exc.item} is out of stock", "path": request.path}, status=409)

    def validation(request, exc):  # a plain function works too
        return HttpResponse.json({"problems": len(exc.errors())}, status=400)

    app.add_exception_handler(RequestValidationError, validation)

    @app.exception_handler(Exception)
    async def anything(request, exc):
        return HttpResponse.text(f"sorry: {type(exc).__name__}", status=503)

    @app.get("/items/{item_id}")
    async def item(item_id: int, kind: str = "plain"):
        if kind == "back":
            raise BackOrdered("hat")
        if kind == "out":
            raise OutOfStock("cap")
        if kind == "http":
            raise HTTPException(418, "teapot")
        if kind == "zero":
            return 1 / 0
        return {"item_id": item_id}

    @app.get("/sync-dep")
    def sync_dep(value: int = Depends(lambda: int("not a number"))):
        return value

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/items/1").json() == {"item_id": 1}
        assert (c.get("/items/1?kind=out").status_code, c.get("/items/1?kind=out").json()) == (409, {"detail": "cap is out of stock", "path": "/items/1"})
        assert c.get("/items/1?kind=back").json()["detail"] == "hat is out of stock"  # a subclass: the nearest handler
        assert (c.get("/items/x").status_code, c.get("/items/x").json()) == (400, {"problems": 1})
        # HTTPException keeps its default answer: the `Exception` handler does not take it over.
        assert (c.get("/items/1?kind=http").status_code, c.get("/items/1?kind=http").json()) == (418, {"detail": "teapot"})
        with caplog.at_level("ERROR", logger="armature"):
            res = c.get("/items/1?kind=zero")
        assert (res.status_code, res.text) == (503, "sorry: ZeroDivisionError")
        assert "ZeroDivisionError" in caplog.text  # a catch-all answers, and the failure is logged
        assert c.get("/sync-dep").text == "sorry: ValueError"
        assert c.get("/nowhere").status_code == 404  # the router's own answers are unchanged
    with pytest.raises(ValueError, match="error status"):
        app.add_exception_handler(200, validation)
    with pytest.raises(TypeError, match="subclass of Exception"):
        app.add_exception_handler(KeyboardInterrupt, validation)
    with pytest.raises(TypeError, match="must be callable"):
        App(exception_handlers={ValueError: "nope"})


def test_fastapis_default_exception_handlers_can_be_reused_by_yours():
    # FastAPI's "Re-use FastAPI's exception handlers": log, then answer as FastAPI would.
    from armature.exception_handlers import http_exception_handler, request_validation_exception_handler

    app = App()
    seen = []

    @app.exception_handler(HTTPException)
    async def logged_http(request, exc):
        seen.append(exc.status_code)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def logged_validation(request, exc):
        seen.append("invalid")
        return await request_validation_exception_handler(request, exc)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict:
        raise HTTPException(418, "teapot", headers={"x-pot": "1"})

    with TestClient(app) as c:
        res = c.get("/items/1")
        assert (res.status_code, res.json(), res.headers["x-pot"]) == (418, {"detail": "teapot"}, "1")
        res = c.get("/items/x")
        assert (res.status_code, res.json()["detail"][0]["loc"]) == (422, ["path", "item_id"])
        assert c.get("/nowhere").json() == {"detail": "Not Found"}
        assert seen == [418, "invalid", 404]


def test_response_model_filters_and_validates_what_handlers_return(client, caplog):
    assert client.get("/models/me").json() == {"name": "ann", "nickname": None}  # no password_hash
    assert client.get("/models/annotated").json() == [{"name": "bob", "nickname": None}, {"name": "cy", "nickname": "c"}]
    assert client.get("/models/no-none").json() == {"name": "dee"}
    assert client.get("/models/unfiltered").json() == {"name": "eve", "nickname": None, "password_hash": "kept"}
    assert client.get("/models/raw").text == "as it is"
    with caplog.at_level("ERROR", logger="armature"):
        res = client.get("/models/wrong")
    assert (res.status_code, res.text) == (500, "Internal Server Error")
    logs = client.logs or (lambda: caplog.text)
    deadline = time.monotonic() + 5
    while "ResponseValidationError" not in logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "ResponseValidationError" in logs()


class Point(BaseModel):  # module level: a handler's annotations are resolved in its module
    x: int


def test_bad_parameter_markers_are_errors_when_the_app_is_built():
    def build(path, handler):
        app = App()
        app.get(path)(handler)
        with TestClient(app):
            pass

    async def no_such_path_param(item_id: int = Path()):
        return item_id

    with pytest.raises(ValueError, match=r"Path\(\) but the route's path has no \{item_id\}"):
        build("/items/{id}", no_such_path_param)

    async def path_as_query(item_id: int = Query()):
        return item_id

    with pytest.raises(ValueError, match="declare it with Path"):
        build("/items/{item_id}", path_as_query)

    async def model_header(x: Point = Header()):
        return x

    with pytest.raises(TypeError, match="models and dicts are read from the JSON body"):
        build("/m", model_header)

    async def list_cookie(c: list[str] = Cookie()):
        return c

    with pytest.raises(TypeError, match="cannot be"):
        build("/c", list_cookie)

    async def default_inside_annotated(q: Annotated[str, Query("x")]):
        return q

    with pytest.raises(TypeError, match="set the default after '='"):
        build("/a", default_inside_annotated)

    def local_model():
        class Local(BaseModel):
            a: int

        async def create(item: Local):  # `Local` is a string here, unresolvable from the module
            return item

        return create

    with pytest.raises(TypeError, match="'Local' is not defined"):
        build("/local", local_model())

    with pytest.raises(TypeError, match="only JSON bodies"):
        Body(media_type="application/x-www-form-urlencoded")

    async def body_as_path(item_id: int = Body()):
        return item_id

    with pytest.raises(ValueError, match="declare it with Path"):
        build("/items/{item_id}", body_as_path)

    async def json_and_form(item: Point, name: str = Form()):
        return name

    with pytest.raises(TypeError, match="JSON or a form, not both"):
        build("/both", json_and_form)

    async def file_as_int(n: int = File()):
        return n

    with pytest.raises(TypeError, match="UploadFile or bytes"):
        build("/f", file_as_int)

    with pytest.raises(TypeError, match="always required"):
        Path(3)
    with pytest.raises(TypeError, match="max_lenght"):
        Query(max_lenght=3)
    with pytest.raises(TypeError, match="not both"):
        Query(1, default_factory=list)
    with pytest.raises(TypeError, match="alias"):
        Header(alias="")
    # Documentation keywords are accepted; `regex` is FastAPI's older `pattern`.
    assert Query(None, description="free text", regex="^a").constraints == {"pattern": "^a"}


def test_is_disconnected_is_false_while_the_client_waits(client):
    assert client.get("/is-disconnected").json() == {"disconnected": False}


def test_is_disconnected_turns_true_when_the_client_goes_away(server):
    """A real client that sends a request and closes its socket before the answer: the
    handler polling `await req.is_disconnected()` notices and stops."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(server.url)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        c.delete("/events")
        sock = socket.create_connection((url.hostname, url.port))
        sock.sendall(b"GET /watch-disconnect/gone HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 20
        while "watching:gone" not in events(c) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "watching:gone" in events(c)
        sock.close()
        while "disconnected:gone" not in events(c) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "disconnected:gone" in events(c), events(c)
        assert "never-disconnected:gone" not in events(c)


# Module level: this file's annotations are strings (`from __future__ import annotations`),
# resolved in the module's namespace.
class Cat(BaseModel):
    meows: int


class Dog(BaseModel):
    barks: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Tag(TypedDict):
    name: str


class Named(BaseModel):
    name: str


def test_unions_dataclasses_and_typeddicts_are_read_from_the_body_as_fastapi_reads_them():
    app = App()

    @app.post("/pet")
    async def pet(p: Union[Cat, Dog]) -> dict:
        return {"kind": type(p).__name__}

    @app.post("/pets")
    async def pets(ps: List[Union[Cat, Dog]]) -> dict:
        return {"kinds": [type(p).__name__ for p in ps]}

    @app.post("/point")
    async def point(p: Point) -> dict:
        return {"sum": p.x + p.y}

    @app.post("/tag")
    async def tag(t: Tag, q: Optional[int] = None) -> dict:
        return {"name": t["name"], "q": q}

    with TestClient(app) as c:
        assert c.post("/pet", json={"barks": 2}).json() == {"kind": "Dog"}
        assert c.post("/pets", json=[{"meows": 1}, {"barks": 2}]).json() == {"kinds": ["Cat", "Dog"]}
        assert c.post("/point", json={"x": 1, "y": 2}).json() == {"sum": 3}
        assert c.post("/tag?q=4", json={"name": "new"}).json() == {"name": "new", "q": 4}
        # Refused by the body's rules, not as a missing query parameter.
        res = c.post("/point", json={"x": 1})
        assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("missing", ["body", "y"])]


_TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
# Where (the thread) and with which tenant each part of a request ran.
_SEEN: dict[str, tuple[int, str]] = {}


def _where(what: str) -> None:
    _SEEN[what] = (threading.get_ident(), _TENANT.get())


class _Paging:
    """A class dependency: its `__init__` is plain code, run in the thread pool."""

    def __init__(self, page: int = 1) -> None:
        _where("class")
        self.page = page


def test_a_body_over_max_body_size_is_a_413_in_fastapis_shape_and_the_handler_never_runs():
    calls = []
    app = App(max_body_size=16)

    @app.post("/upload")
    async def upload(request: Request) -> dict:
        calls.append(1)
        return {"size": len(await request.body())}

    with TestClient(app) as c:
        assert c.post("/upload", content=b"x" * 16).json() == {"size": 16}
        res = c.post("/upload", content=b"x" * 17)
        assert (res.status_code, res.json(), res.headers["content-type"]) == (413, {"detail": "Request body too large"}, "application/json")
    assert calls == [1]


def test_plain_dependencies_run_in_the_thread_pool_with_the_requests_context_variables():
    """As FastAPI: a plain `def` dependency (a function, a class, a `yield` one before and
    after its `yield`), handler and background task run in the thread pool, never on the
    loop's thread, and see the context variables middleware set."""
    tenant, seen, where = _TENANT, _SEEN, _where

    def plain() -> str:
        where("plain")
        return "plain"

    def session():
        where("session:open")
        try:
            yield "session"
        finally:
            where("session:close")

    def task() -> None:
        where("task")

    app = App()

    @app.middleware("http")
    async def set_tenant(request: Request, call_next):
        tenant.set(request.headers.get("x-tenant", "none"))
        return await call_next(request)

    @app.get("/async")
    async def on_loop(tasks: BackgroundTasks, p: str = Depends(plain), s: str = Depends(session), paging: _Paging = Depends()) -> dict:
        where("loop")
        tasks.add_task(task)
        return {"p": p, "s": s, "page": paging.page}

    @app.get("/sync")
    def in_pool(p: str = Depends(plain)) -> dict:
        where("handler")
        return {"p": p}

    with TestClient(app) as c:
        assert c.get("/async?page=3", headers={"x-tenant": "acme"}).json() == {"p": "plain", "s": "session", "page": 3}
        loop_thread, _ = seen["loop"]
        for what in ["plain", "session:open", "session:close", "class", "task"]:
            thread, value = seen[what]
            assert thread != loop_thread, f"{what} ran on the loop's thread"
            assert value == "acme", what
        assert c.get("/sync", headers={"x-tenant": "globex"}).json() == {"p": "plain"}
        assert seen["handler"][0] != loop_thread
        assert seen["handler"][1] == seen["plain"][1] == "globex"


_CONNECTIONS = threading.BoundedSemaphore(2)  # a connection pool of two, blocking checkout


def _connection():
    _CONNECTIONS.acquire()
    try:
        yield "conn"
    finally:
        _CONNECTIONS.release()


def test_sixty_requests_on_a_pool_of_two_connections_do_not_deadlock_the_thread_pool():
    """More requests than the thread pool has threads, each holding one of two connections
    from before its dependency's `yield` to after it: the exits (which give the connections
    back) do not queue behind the 40 threads blocked in `__enter__`, as in FastAPI."""
    import asyncio

    app = App()

    @app.get("/q")
    async def query(conn: str = Depends(_connection)) -> dict:
        await asyncio.sleep(0.01)
        return {"conn": conn}

    results: list = []
    with TestClient(app) as c:
        threads = [threading.Thread(target=lambda: results.append(c.get("/q").json()), daemon=True) for _ in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results == [{"conn": "conn"}] * 60


class _AsyncCallable:
    """A class dependency whose instances have an `async __call__`: `Depends()` makes an
    instance (plain code), as FastAPI does; it is not awaited."""

    def __init__(self, page: int = 1) -> None:
        self.page = page

    async def __call__(self) -> int:  # pragma: no cover - not what Depends() calls
        return self.page


def test_a_class_dependency_with_an_async_call_method_is_instantiated_not_awaited():
    app = App()

    @app.get("/paged")
    async def paged(p: _AsyncCallable = Depends()) -> dict:
        return {"page": p.page}

    with TestClient(app) as c:
        assert c.get("/paged?page=3").json() == {"page": 3}


def test_run_in_threadpool_runs_blocking_code_off_the_loop_with_its_context():
    from armature.concurrency import run_in_threadpool

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def blocking(x: int, *, y: int) -> tuple[int, str, int]:
        var.set("changed in the pool")  # stays in the pool's copy
        return x + y, var.get(), threading.get_ident()

    def failing() -> None:
        raise LookupError("from the pool")

    app = App()

    @app.get("/")
    async def handler() -> dict:
        var.set("the request's")
        before = var.get()
        total, inside, thread = await run_in_threadpool(blocking, 2, y=3)
        with pytest.raises(LookupError, match="from the pool"):
            await run_in_threadpool(failing)
        return {"total": total, "inside": inside, "other_thread": thread != threading.get_ident(), "after": var.get(), "before": before}

    with TestClient(app) as c:
        assert c.get("/").json() == {"total": 5, "inside": "changed in the pool", "other_thread": True, "after": "the request's", "before": "the request's"}


def test_a_yield_dependency_that_swallows_the_handlers_exception_is_a_clear_500(caplog):
    def session():
        try:
            yield "db"
        except Exception:  # noqa: BLE001 - the mistake under test
            pass

    app = App()

    @app.get("/swallowed")
    async def swallowed(db: str = Depends(session)) -> dict:
        raise ValueError("the real error")

    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/swallowed")
    assert res.status_code == 500
    assert "a dependency with `yield` caught the exception" in caplog.text
    assert "UnboundLocalError" not in caplog.text


def test_a_yield_dependency_failing_after_the_handler_answered_leaves_the_answer(caplog):
    # As in FastAPI (0.118 on), which runs the exit code once the answer is sent: the answer
    # stands, the failure is logged, and a TestClient that raises server exceptions raises it.
    def session(request: Request):
        yield "db"
        if request.query_params.get("fail") == "http":
            raise HTTPException(418, "too late")
        raise ValueError("commit failed")

    app = App()

    @app.get("/done")
    async def done(db: str = Depends(session)) -> dict:
        return {"db": db}

    with TestClient(app, raise_server_exceptions=False) as c:
        for fail in ("http", "value"):
            res = c.get(f"/done?fail={fail}")
            assert (res.status_code, res.json()) == (200, {"db": "db"}), fail
    assert "commit failed" in caplog.text
    with TestClient(app) as c, pytest.raises(ValueError, match="commit failed"):
        c.get("/done?fail=value")


def test_invalid_json_is_one_error_even_with_several_body_parameters():
    app = App()

    @app.post("/two")
    async def two(item: Named, importance: int = Body()) -> dict:
        return {}

    with TestClient(app) as c:
        res = c.post("/two", content=b'{"item": ', headers={"content-type": "application/json"})
    assert [(e["type"], e["loc"]) for e in res.json()["detail"]] == [("json_invalid", ["body", 9])]


def test_an_empty_file_input_is_no_file_and_headers_read_in_any_case():
    app = App()

    @app.post("/upload")
    async def upload(note: str = Form(), file: Optional[UploadFile] = File(None)) -> dict:
        return {"note": note, "file": None if file is None else file.filename}

    @app.get("/auth")
    async def auth(request: HttpRequest) -> dict:
        h = request.headers
        return {"get": h.get("Authorization"), "item": h["X-Token"], "in": "ACCEPT" in h, "missing": h.get("X-Nope", "-")}

    # What a browser sends for a form whose `<input type=file>` was left empty.
    form = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n'
        b"--b--\r\n"
    )
    with TestClient(app) as c:
        res = c.post("/upload", content=form, headers={"content-type": "multipart/form-data; boundary=b"})
        assert res.json() == {"note": "hi", "file": None}
        res = c.get("/auth", headers={"authorization": "Bearer t", "x-token": "7", "accept": "*/*"})
        assert res.json() == {"get": "Bearer t", "item": "7", "in": True, "missing": "-"}


def test_an_upload_keeps_its_size_once_closed():
    # FastAPI's tutorial reads the file, closes it and answers with its `size`: a property
    # reading the closed buffer, it was a ValueError, so a 500. As Starlette's, `size` is an
    # attribute, which `write` grows.
    app = App()

    @app.post("/upload")
    async def upload(file: UploadFile) -> dict:
        data = await file.read()
        await file.close()
        return {"name": file.filename, "size": file.size, "read": len(data), "repr": repr(file)}

    @app.post("/append")
    async def append(file: UploadFile) -> dict:
        await file.write(b"!!")
        return {"size": file.size}

    with TestClient(app) as c:
        res = c.post("/upload", files={"file": ("a.txt", b"hello")})
        assert res.json() == {"name": "a.txt", "size": 5, "read": 5, "repr": "UploadFile(filename='a.txt', size=5, content_type='text/plain')"}
        assert c.post("/append", files={"file": ("a.txt", b"hello")}).json() == {"size": 7}


def test_the_test_client_gives_no_body_for_204_and_304_as_a_server_sends_none():
    app = App()

    @app.delete("/things/{n}", status_code=204)
    async def delete(n: int) -> None:
        return None

    @app.get("/cached")
    async def cached() -> dict:
        raise HTTPException(304)

    with TestClient(app) as c:
        res = c.delete("/things/1")
        assert (res.status_code, res.content) == (204, b"")
        res = c.get("/cached")
        assert (res.status_code, res.content) == (304, b"")


def test_a_lifespan_runs_around_the_app_and_its_state_reaches_handlers(caplog):
    from contextlib import asynccontextmanager

    events = []

    @asynccontextmanager
    async def lifespan(app):
        events.append("enter")
        yield {"pool": "connected"}
        events.append("exit")
        raise RuntimeError("cleanup failed")

    app = App(lifespan=lifespan, on_startup=[lambda: events.append("startup")], on_shutdown=[lambda: events.append("shutdown")])

    @app.get("/pool")
    async def pool() -> dict:
        return {"pool": app.state.pool}

    with TestClient(app) as c:
        assert c.get("/pool").json() == {"pool": "connected"}
        assert events == ["enter", "startup"]
    assert events == ["enter", "startup", "shutdown", "exit"]
    assert "Exception in the lifespan's shutdown" in caplog.text

    def not_a_manager(app):
        return None

    with pytest.raises(TypeError, match="not an async context manager"):
        with TestClient(App(lifespan=not_a_manager)):
            pass
    with pytest.raises(TypeError, match="App\\(lifespan=...\\)"):
        App(lifespan="soon")


def test_a_lifespans_state_is_each_requests_state_as_in_starlette():
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield {"pool": "connected", "hits": []}

    app = App(lifespan=lifespan)

    def pool(request: Request) -> str:
        return request.state.pool

    @app.middleware("http")
    async def seen(request: Request, call_next):
        response = await call_next(request)
        response.headers["x-pool"] = request.state.pool
        return response

    @app.get("/pool")
    async def read(request: Request, from_dependency: str = Depends(pool)) -> dict:
        own = getattr(request.state, "own", None)
        request.state.own = "set"  # this request's, not the next one's
        request.state.hits.append(1)  # a shallow copy: the objects are shared
        return {"pool": request.state.pool, "dependency": from_dependency, "own": own, "hits": len(request.state.hits)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.pool)
        await websocket.close()

    with TestClient(app) as c:
        res = c.get("/pool")
        assert (res.json(), res.headers["x-pool"]) == ({"pool": "connected", "dependency": "connected", "own": None, "hits": 1}, "connected")
        assert c.get("/pool").json() == {"pool": "connected", "dependency": "connected", "own": None, "hits": 2}
        with c.websocket_connect("/ws") as socket:
            assert socket.receive_text() == "connected"


def test_security_helpers_read_credentials_answer_401_and_describe_themselves_as_fastapi():
    oauth2 = OAuth2PasswordBearer(tokenUrl="token")
    bearer = HTTPBearer(auto_error=False)
    header_key = APIKeyHeader(name="X-Key")
    app = App()

    @app.post("/token")
    async def token(form: OAuth2PasswordRequestForm = Depends()) -> dict:
        return {"access_token": f"{form.username}:{form.password}", "scopes": form.scopes, "token_type": "bearer"}

    @app.get("/me")
    async def me(token: str = Depends(oauth2)) -> dict:
        return {"token": token}

    @app.get("/maybe")
    async def maybe(credentials=Depends(bearer)) -> dict:
        return {"credentials": None if credentials is None else credentials.credentials}

    @app.get("/digest")
    async def digest(credentials=Depends(HTTPDigest())) -> dict:
        return {"scheme": credentials.scheme, "credentials": credentials.credentials}

    @app.get("/keys", dependencies=[Depends(APIKeyCookie(name="k"))])
    async def keys(h: str = Depends(header_key), q: str = Depends(APIKeyQuery(name="key"))) -> dict:
        return {"h": h, "q": q}

    with TestClient(app) as c:
        res = c.post("/token", data={"username": "ann", "password": "pw", "scope": "read write"})
        assert res.json() == {"access_token": "ann:pw", "scopes": ["read", "write"], "token_type": "bearer"}
        assert c.post("/token", data={"username": "ann"}).status_code == 422
        assert c.get("/me", headers={"Authorization": "Bearer abc"}).json() == {"token": "abc"}
        for sent in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            res = c.get("/me", headers=sent)
            assert (res.status_code, res.json(), res.headers["www-authenticate"]) == (401, {"detail": "Not authenticated"}, "Bearer"), sent
        assert c.get("/maybe").json() == {"credentials": None}
        assert c.get("/maybe", headers={"authorization": "bearer xyz"}).json() == {"credentials": "xyz"}
        sent = 'Digest username="ann", realm="r", nonce="n", uri="/digest", response="6629"'
        assert c.get("/digest", headers={"authorization": sent}).json() == {"scheme": "Digest", "credentials": sent[7:]}
        for wrong in ({}, {"authorization": "Bearer abc"}, {"authorization": "Digest"}):
            res = c.get("/digest", headers=wrong)
            assert (res.status_code, res.json(), res.headers["www-authenticate"]) == (401, {"detail": "Not authenticated"}, "Digest"), wrong
        res = c.get("/keys?key=q1", headers={"x-key": "h1", "cookie": "k=c1"})
        assert res.json() == {"h": "h1", "q": "q1"}
        res = c.get("/keys?key=q1", headers={"x-key": "h1"})
        assert (res.status_code, res.headers["www-authenticate"]) == (401, "APIKey")
    doc = app.openapi()
    assert doc["paths"]["/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert doc["paths"]["/keys"]["get"]["security"] == [{"APIKeyCookie": []}, {"APIKeyHeader": []}, {"APIKeyQuery": []}]
    assert "security" not in doc["paths"]["/token"]["post"]
    assert doc["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {"type": "oauth2", "flows": {"password": {"scopes": {}, "tokenUrl": "token"}}},
        "HTTPBearer": {"type": "http", "scheme": "bearer"},
        "HTTPDigest": {"type": "http", "scheme": "digest"},
        "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": "k"},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "APIKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
    }
    # The form's fields are documented as FastAPI documents them.
    form = doc["paths"]["/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["username", "password"]


def test_security_scopes_gather_the_scopes_asked_above_each_dependency_as_fastapi():
    # FastAPI's "OAuth2 scopes" tutorial: the token names its scopes ("ann:me items").
    oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read yourself.", "items": "Read items."})
    key = APIKeyHeader(name="X-Key", auto_error=False)
    seen: list = []

    async def current_user(security_scopes: SecurityScopes, token: str = Depends(oauth2), _key=Security(key, scopes=["ignored"])) -> str:
        seen.append(security_scopes.scopes)
        user, _, granted = token.partition(":")
        missing = [s for s in security_scopes.scopes if s not in granted.split()]
        if missing:
            challenge = f'Bearer scope="{security_scopes.scope_str}"' if security_scopes.scopes else "Bearer"
            raise HTTPException(401, f"Not enough permissions: {' '.join(missing)}", headers={"WWW-Authenticate": challenge})
        return user

    def active_user(user: str = Security(current_user, scopes=["me"])) -> str:
        return user

    app = App()

    @app.get("/users/me")
    async def me(user: str = Depends(active_user)) -> dict:
        return {"user": user}

    @app.get("/users/me/items")
    async def items(user: str = Security(active_user, scopes=["items"]), again: str = Security(current_user, scopes=["items", "me"])) -> dict:
        return {"user": user, "again": again}

    @app.get("/status", dependencies=[Security(current_user)])
    async def plain(scopes: SecurityScopes) -> dict:
        return {"scopes": scopes.scopes, "scope_str": scopes.scope_str}

    with TestClient(app) as c:
        assert c.get("/users/me", headers={"Authorization": "Bearer ann:me"}).json() == {"user": "ann"}
        assert seen.pop() == ["me"]
        res = c.get("/users/me", headers={"Authorization": "Bearer ann:items"})
        assert (res.status_code, res.json(), res.headers["www-authenticate"]) == (401, {"detail": "Not enough permissions: me"}, 'Bearer scope="me"')
        seen.clear()
        # Outermost first; the same dependency asked for the same set of scopes runs once.
        assert c.get("/users/me/items", headers={"Authorization": "Bearer ann:me items"}).json() == {"user": "ann", "again": "ann"}
        assert seen == [["items", "me"]]
        res = c.get("/users/me/items", headers={"Authorization": "Bearer ann:me"})
        assert (res.status_code, res.json()["detail"], res.headers["www-authenticate"]) == (401, "Not enough permissions: items", 'Bearer scope="items me"')
        seen.clear()
        # No `Security()` above: no scopes, for the dependency and for the handler.
        assert c.get("/status", headers={"Authorization": "Bearer bob:"}).json() == {"scopes": [], "scope_str": ""}
        assert seen == [[]]
        assert c.get("/status").status_code == 401
    doc = app.openapi()
    # An OAuth2 scheme's requirement lists the scopes asked above it; an API key's lists none.
    assert doc["paths"]["/users/me"]["get"]["security"] == [{"OAuth2PasswordBearer": ["me"]}, {"APIKeyHeader": []}]
    assert doc["paths"]["/users/me/items"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items", "me"]}, {"APIKeyHeader": []}]
    assert doc["paths"]["/status"]["get"]["security"] == [{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}]
    assert doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["scopes"] == {"me": "Read yourself.", "items": "Read items."}
    assert repr(Security(current_user, scopes=["a"])) == "Security(current_user, scopes=['a'])"


def test_scopes_are_listed_once_and_a_dependency_that_ignores_them_runs_once():
    oauth2 = OAuth2PasswordBearer(tokenUrl="token")
    opened: list = []

    def get_db():
        session = object()
        opened.append(session)
        yield session

    async def user(scopes: SecurityScopes, token: str = Depends(oauth2), db=Depends(get_db)) -> dict:
        return {"db": id(db), "scopes": scopes.scopes, "scope_str": scopes.scope_str}

    async def active(u=Security(user, scopes=["me"])) -> dict:
        return u

    app = App()

    @app.get("/items")
    async def items(u=Security(active, scopes=["me", "items", "me"]), again=Security(user, scopes=["me", "items"]), db=Depends(get_db)) -> dict:
        return {"same_db": u["db"] == again["db"] == id(db), "scopes": u["scopes"], "scope_str": u["scope_str"]}

    with TestClient(app) as c:
        # `get_db` reads no scopes: one session for the request, below `Security()` or not.
        res = c.get("/items", headers={"authorization": "Bearer t"}).json()
        assert res == {"same_db": True, "scopes": ["me", "items"], "scope_str": "me items"}
        assert len(opened) == 1
    # A requirement per scheme and set of scopes, whatever their order: ["me", "items"] once.
    assert app.openapi()["paths"]["/items"]["get"]["security"] == [{"OAuth2PasswordBearer": ["me", "items"]}]
    for bad in ("items", ["items", 1]):
        with pytest.raises(TypeError, match="a list of scope names"):
            Security(user, scopes=bad)


def test_http_basic_reads_user_and_password_and_challenges_the_browser():
    import base64

    app = App()
    basic = HTTPBasic(realm="admin")

    @app.get("/admin")
    async def admin(credentials: HTTPBasicCredentials = Depends(basic)) -> dict:
        return {"user": credentials.username, "password": credentials.password}

    @app.get("/maybe")
    async def maybe(credentials: Optional[HTTPBasicCredentials] = Depends(HTTPBasic(auto_error=False))) -> dict:
        return {"user": None if credentials is None else credentials.username}

    def basic_header(raw: bytes) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    with TestClient(app) as c:
        # A password may hold colons and any UTF-8; the user name ends at the first colon.
        res = c.get("/admin", headers=basic_header("zoë:pa:ss".encode()))
        assert res.json() == {"user": "zoë", "password": "pa:ss"}
        for sent in ({}, {"Authorization": "Bearer abc"}):
            res = c.get("/admin", headers=sent)
            assert (res.status_code, res.json(), res.headers["www-authenticate"]) == (401, {"detail": "Not authenticated"}, 'Basic realm="admin"')
        invalid = [basic_header(b"no-colon"), {"Authorization": "Basic %%%"}, basic_header(b"\xff:x")]
        for sent in invalid:
            res = c.get("/admin", headers=sent)
            assert (res.status_code, res.json()) == (401, {"detail": "Invalid authentication credentials"}), sent
        assert c.get("/maybe").json() == {"user": None}
        # Credentials that are sent but broken are refused even with auto_error=False.
        assert c.get("/maybe", headers=invalid[0]).status_code == 401
        assert c.get("/maybe", headers=basic_header(b"bo:x")).json() == {"user": "bo"}
        # httpx's `auth=(user, password)`, as FastAPI's HTTP Basic tutorial tests it.
        assert c.get("/admin", auth=("zoë", "pa:ss")).json() == {"user": "zoë", "password": "pa:ss"}
        assert c.get("/admin", auth=("a", "b"), timeout=5).status_code == 200
    assert app.openapi()["components"]["securitySchemes"]["HTTPBasic"] == {"type": "http", "scheme": "basic"}


def test_an_optional_body_takes_an_explicit_null():
    app = App()

    @app.post("/maybe")
    async def maybe(item: Optional[Named] = None) -> dict:
        return {"item": None if item is None else item.name}

    @app.post("/required")
    async def required(item: Named) -> dict:
        return {"item": item.name}

    with TestClient(app) as c:
        null = {"content": b"null", "headers": {"content-type": "application/json"}}
        assert c.post("/maybe", **null).json() == {"item": None}
        assert c.post("/maybe").json() == {"item": None}
        assert c.post("/maybe", json={"name": "x"}).json() == {"item": "x"}
        assert c.post("/required", **null).status_code == 422


def test_multipart_parts_are_read_as_starlette_reads_them():
    from armature.forms import parse

    body = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="C:\\\\dir\\\\x.txt"\r\n\r\nraw\r\n'
        b'--b\r\nContent-Disposition: form-data; name="g"; filename="y.bin"\r\nContent-Transfer-Encoding: base64\r\n'
        b"Content-Type: application/octet-stream\r\n\r\naGk=\r\n"
        b'--b\r\nContent-Disposition: form-data; name="t"\r\n\r\n' + b"\n" * 100_000 + b"\r\n"
        b"--b--\r\n"
    )
    fields = parse("multipart/form-data; boundary=b", body)
    f, g = fields["f"][0], fields["g"][0]
    # No Content-Type is none (not text/plain); old browsers' directories are dropped.
    assert (f.filename, f.content_type, f.file.read()) == ("x.txt", None, b"raw")
    # Sent as it is: no transfer decoding.
    assert (g.content_type, g.file.read()) == ("application/octet-stream", b"aGk=")
    assert fields["t"] == ["\n" * 100_000]


def test_http_middleware_runs_around_handlers_and_sees_their_error_answers(caplog):
    app = App()
    order = []

    @app.middleware("http")
    async def inner(request: HttpRequest, call_next):
        order.append("inner")
        response = await call_next(request)
        response.headers["X-Inner"] = "1"
        return response

    @app.middleware("http")
    async def outer(request: HttpRequest, call_next):
        order.append("outer")
        if request.header("x-block"):
            return HttpResponse.json({"blocked": True}, status=403)
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"  # replaces the handler's
        response.headers.pop("x-drop", None)
        response.headers.append("set-cookie", "b=2")
        return response

    @app.get("/items/{n}")
    async def item(n: int) -> dict:
        return {"n": n}

    @app.get("/raw")
    async def raw() -> HttpResponse:
        return HttpResponse.text("raw", headers={"cache-control": "public", "x-drop": "1", "set-cookie": "a=1"})

    @app.get("/missing")
    async def missing() -> dict:
        raise HTTPException(404, "no such thing")

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/items/3")
        assert (res.json(), res.headers["x-inner"], res.headers["cache-control"], order) == ({"n": 3}, "1", "no-store", ["outer", "inner"])
        res = c.get("/raw")
        assert (res.text, res.headers["cache-control"], "x-drop" in res.headers, res.headers.get_list("set-cookie")) == ("raw", "no-store", False, ["a=1", "b=2"])
        # Error answers pass through it too: a raised HTTPException, a validation error.
        res = c.get("/missing")
        assert (res.status_code, res.json(), res.headers["x-inner"]) == (404, {"detail": "no such thing"}, "1")
        res = c.get("/items/x")
        assert (res.status_code, res.headers["x-inner"]) == (422, "1")
        assert c.get("/items/1", headers={"x-block": "1"}).json() == {"blocked": True}
        # What nothing handles is still a logged 500.
        assert c.get("/boom").status_code == 500
        # The router's 404 and 405 pass through it too, as Starlette's do.
        res = c.get("/nowhere")
        assert (res.status_code, res.json(), res.headers["x-inner"], res.headers["cache-control"]) == (404, {"detail": "Not Found"}, "1", "no-store")
        res = c.delete("/items/3")
        assert (res.status_code, res.json(), res.headers["allow"], res.headers["x-inner"]) == (405, {"detail": "Method Not Allowed"}, "GET,HEAD", "1")
        assert c.get("/nowhere", headers={"x-block": "1"}).status_code == 403
    assert "kaboom" in caplog.text
    with pytest.raises(ValueError, match="only \"http\""):
        app.middleware("websocket")


def test_an_exception_handler_for_exception_answers_what_middleware_and_handlers_raise(caplog):
    # As Starlette's ServerErrorMiddleware: the catch-all is outside the HTTP middleware.
    app = App()

    @app.exception_handler(Exception)
    async def anything(request, exc):
        return HttpResponse.json({"error": type(exc).__name__}, status=500)

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request, exc):
        raise KeyError("a handler failing")

    @app.middleware("http")
    async def checks(request: Request, call_next):
        if request.headers.get("x-fail"):
            raise RuntimeError("middleware failed")
        return await call_next(request)

    @app.get("/out")
    async def out() -> dict:
        raise OutOfStock("cap")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/nowhere").json() == {"detail": "Not Found"}
        with caplog.at_level("ERROR", logger="armature"):
            res = c.get("/nowhere", headers={"x-fail": "1"})
        assert (res.status_code, res.json()) == (500, {"error": "RuntimeError"})
        assert "middleware failed" in caplog.text  # still logged
        res = c.get("/out")
        assert (res.status_code, res.json()) == (500, {"error": "KeyError"})
    with TestClient(app) as c, pytest.raises(RuntimeError, match="middleware failed"):
        c.get("/nowhere", headers={"x-fail": "1"})


def test_a_json_body_may_start_with_a_utf8_byte_order_mark(client):
    body = b"\xef\xbb\xbf" + b'{"name": "Bo", "age": 3}'
    res = client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert res.status_code == 201, res.text
    assert res.json()["name"] == "Bo"


def test_a_response_parameter_carries_headers_cookies_and_a_status_as_fastapis_does():
    app = App()

    def session(response: HttpResponse) -> str:
        response.headers["x-from-dependency"] = "yes"
        return "s"

    @app.post("/login", status_code=201)
    async def login(response: HttpResponse, s: str = Depends(session)) -> dict:
        response.set_cookie("sid", "abc123", max_age=60, httponly=True)
        response.headers["X-Login"] = "ok"
        return {"ok": True}

    @app.post("/later")
    async def later(response: HttpResponse) -> dict:
        response.status_code = 202
        response.delete_cookie("sid")
        return {"queued": True}

    @app.get("/page", response_class=HTMLResponse)
    async def page(response: HttpResponse) -> str:
        # Rendered by response_class, the answer still carries what was set here.
        response.set_cookie("seen", "1")
        response.status_code = 203
        return "<p>hi</p>"

    @app.get("/own")
    async def own(response: HttpResponse) -> HttpResponse:
        response.headers["x-ignored"] = "1"  # a returned response is sent as it is
        return HttpResponse.text("mine")

    with TestClient(app) as c:
        res = c.post("/login")
        assert (res.status_code, res.json(), res.headers["x-login"], res.headers["x-from-dependency"]) == (201, {"ok": True}, "ok", "yes")
        assert res.headers["set-cookie"] == "sid=abc123; Max-Age=60; Path=/; HttpOnly; SameSite=lax"
        assert res.headers["content-type"] == "application/json"
        res = c.post("/later")
        assert res.status_code == 202
        assert res.headers["set-cookie"].startswith("sid=; Max-Age=0; expires=")
        res = c.get("/page")
        assert (res.status_code, res.text, res.headers["content-type"], res.headers["set-cookie"]) == (203, "<p>hi</p>", "text/html; charset=utf-8", "seen=1; Path=/; SameSite=lax")
        res = c.get("/own")
        assert (res.text, "x-ignored" in res.headers) == ("mine", False)
    r = HttpResponse.text("x")
    for bad in [("a b", "v"), ("k;", "v"), ("", "v")]:
        with pytest.raises(ValueError, match="invalid cookie name"):
            r.set_cookie(*bad)
    # A value any cookie may not hold bare is quoted as Starlette quotes it (http.cookies), and
    # read back as it was set.
    odd = ["two words", '{"a": [1, 2]}', "semi;colon,comma", "back\\slash", "caf\u00e9", "tab\t"]
    quoted = HttpResponse.text("x")
    for i, value in enumerate(odd):
        quoted.set_cookie(f"c{i}", value, path=None, samesite=None)
    from http.cookies import SimpleCookie

    expected = []
    for i, value in enumerate(odd):
        jar: SimpleCookie = SimpleCookie()
        jar[f"c{i}"] = value
        expected.append(jar.output(header="").strip())
    assert quoted.headers.getlist("set-cookie") == expected
    assert quoted.headers.getlist("set-cookie")[0] == 'c0="two words"'
    with pytest.raises(ValueError, match="samesite"):
        r.set_cookie("k", "v", samesite="sometimes")
    # `expires`, as Starlette's: seconds from now, an aware `datetime`, or the date as text.
    import datetime as dt

    r = HttpResponse.text("x")
    r.set_cookie("a", "1", expires=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    r.set_cookie("b", "2", expires="Wed, 02 Jan 2030 03:04:05 GMT")
    assert r.headers.getlist("set-cookie") == [
        "a=1; expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=lax",
        "b=2; expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=lax",
    ]
    with pytest.raises(ValueError, match="UTC"):
        r.set_cookie("c", "3", expires=dt.datetime(2030, 1, 2))
    with pytest.raises(TypeError, match="expires"):
        r.set_cookie("c", "3", expires=1.5)


def test_fastapis_response_names_make_http_responses(tmp_path):
    from armature.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse

    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n" * 50_000)  # several chunks
    app = App()

    @app.get("/old")
    async def old():
        return RedirectResponse("/new place?x=1")

    @app.get("/json")
    async def as_json():
        return JSONResponse({"ok": True}, status_code=201, headers={"x-a": "1"})

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<h1>Hi</h1>"

    @app.get("/plain")
    async def plain():
        return PlainTextResponse("hi", media_type="text/x-custom")

    @app.get("/raw")
    async def raw():
        return Response(b"\x00\x01", media_type="application/octet-stream")

    @app.get("/stream")
    async def stream():
        return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")

    @app.get("/latin")
    async def latin():
        return Response("a;b".encode("latin-1"), media_type="text/csv; charset=latin-1")

    @app.get("/csv")
    async def csv():
        return Response("é;b", media_type="text/csv")

    @app.get("/file")
    async def file():
        return FileResponse(report, filename="résumé report.csv")

    @app.get("/nofile")
    async def nofile():
        return FileResponse(tmp_path / "missing.txt")

    unknown = tmp_path / "data.unknownext"
    unknown.write_bytes(b"\x00\x01")

    @app.get("/unknown")
    async def unknown_type():
        return FileResponse(unknown)

    @app.get("/inline")
    async def inline():
        return FileResponse(unknown, filename="x.csv", headers={"content-disposition": "inline"})

    async def four_bytes():
        yield b"ab"
        yield b"cd"

    @app.get("/declared/{length}")
    async def declared(length: int):
        return HttpResponse.stream(four_bytes(), length=length)

    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/old", follow_redirects=False)
        assert (res.status_code, res.headers["location"]) == (307, "/new%20place?x=1")
        res = c.get("/json")
        assert (res.status_code, res.json(), res.headers["x-a"]) == (201, {"ok": True}, "1")
        res = c.get("/page")
        assert (res.text, res.headers["content-type"]) == ("<h1>Hi</h1>", "text/html; charset=utf-8")
        # A text media type without a charset is sent with UTF-8's, as Starlette sends it.
        assert c.get("/plain").headers["content-type"] == "text/x-custom; charset=utf-8"
        assert c.get("/raw").content == b"\x00\x01"
        assert c.get("/raw").headers["content-type"] == "application/octet-stream"
        res = c.get("/stream")
        assert (res.text, res.headers["content-type"]) == ("ab", "text/plain; charset=utf-8")
        assert c.get("/latin").headers["content-type"] == "text/csv; charset=latin-1"
        assert c.get("/csv").headers["content-type"] == "text/csv; charset=utf-8"
        res = c.get("/file")
        assert res.content == report.read_bytes()
        assert res.headers["content-type"] == "text/csv; charset=utf-8"
        assert res.headers["content-disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20report.csv"
        # As Starlette's: the file's length, modification time and an ETag of the two.
        import email.utils
        import hashlib

        stat = report.stat()
        assert res.headers["content-length"] == str(stat.st_size)
        assert res.headers["last-modified"] == email.utils.formatdate(stat.st_mtime, usegmt=True)
        assert res.headers["etag"] == '"' + hashlib.md5(f"{stat.st_mtime}-{stat.st_size}".encode()).hexdigest() + '"'
        assert c.get("/nofile").status_code == 500
        # As Starlette's (1.x): a type not guessed from the name given or the path is
        # application/octet-stream, and a Content-Disposition of the caller's own stays.
        res = c.get("/unknown")
        assert (res.content, res.headers["content-type"]) == (b"\x00\x01", "application/octet-stream")
        res = c.get("/inline")
        assert (res.headers["content-type"], res.headers["content-disposition"]) == ("text/csv; charset=utf-8", "inline")
        # A declared length is the Content-Length; a stream that breaks it is cut off, not sent wrong.
        res = c.get("/declared/4")
        assert (res.content, res.headers["content-length"]) == (b"abcd", "4")
        for length, why in [(10, "6 bytes short"), (3, "more bytes than its declared length")]:
            with pytest.raises(RuntimeError, match=why):
                c.get(f"/declared/{length}")


def test_redirect_and_file_responses_work_as_response_class(tmp_path):
    # FastAPI's "Custom Response" docs: return a URL (or a path) and let the class send it.
    from armature.responses import FileResponse, RedirectResponse

    report = tmp_path / "report.txt"
    report.write_text("numbers")
    app = App()

    @app.get("/docs-link", response_class=RedirectResponse)
    async def docs_link() -> str:
        return "https://fastapi.tiangolo.com"

    @app.get("/pydantic", response_class=RedirectResponse, status_code=302)
    async def pydantic_link() -> str:
        return "https://docs.pydantic.dev/"

    @app.get("/report", response_class=FileResponse)
    async def get_report() -> str:
        return str(report)

    with TestClient(app) as c:
        res = c.get("/docs-link", follow_redirects=False)
        assert (res.status_code, res.headers["location"]) == (307, "https://fastapi.tiangolo.com")
        assert c.get("/pydantic", follow_redirects=False).status_code == 302
        res = c.get("/report")
        assert (res.status_code, res.text, res.headers["content-type"]) == (200, "numbers", "text/plain; charset=utf-8")
    paths = app.openapi()["paths"]
    assert paths["/docs-link"]["get"]["responses"] == {"307": {"description": "Successful Response"}}
    assert list(paths["/pydantic"]["get"]["responses"]) == ["302"]
    assert paths["/report"]["get"]["responses"] == {"200": {"description": "Successful Response"}}


SMALL = RANGED_FILES["small.txt"]  # 36 bytes: 0-9 and a-z
LARGE = RANGED_FILES["large.bin"]


def byteranges(res) -> list:
    """The parts of a `multipart/byteranges` answer: `(content type, content range, bytes)`."""
    kind, _, boundary = res.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/byteranges" and boundary
    body = res.content
    assert res.headers["content-length"] == str(len(body))
    end = f"--{boundary}--".encode()
    assert body.endswith(end)
    chunks = body[: -len(end)].split(f"--{boundary}\r\n".encode())
    assert chunks[0] == b""
    parts = []
    for chunk in chunks[1:]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((fields["Content-Type"], fields["Content-Range"], data[:-2]))
    return parts


def test_file_response_accepts_ranges_and_answers_one_with_206(client):
    whole = client.get("/ranged/small.txt")
    assert (whole.status_code, whole.content) == (200, SMALL)
    assert (whole.headers["accept-ranges"], whole.headers["content-length"]) == ("bytes", "36")
    assert "content-range" not in whole.headers
    res = client.get("/ranged/small.txt", headers={"range": "bytes=2-5"})
    assert (res.status_code, res.content) == (206, b"2345")
    assert (res.headers["content-range"], res.headers["content-length"]) == ("bytes 2-5/36", "4")
    # The file's own headers stay, as in Starlette.
    for name in ["content-type", "accept-ranges", "etag", "last-modified"]:
        assert res.headers[name] == whole.headers[name], name
    # A range that ends past the file ends with it.
    res = client.get("/ranged/small.txt", headers={"range": "bytes=30-100"})
    assert (res.status_code, res.content, res.headers["content-range"]) == (206, b"uvwxyz", "bytes 30-35/36")
    res = client.get("/ranged/small.txt", headers={"range": "bytes=0-0"})
    assert (res.status_code, res.content, res.headers["content-length"]) == (206, b"0", "1")


def test_file_response_open_ended_and_suffix_ranges(client):
    res = client.get("/ranged/small.txt", headers={"range": "bytes=5-"})
    assert (res.status_code, res.content) == (206, SMALL[5:])
    assert (res.headers["content-range"], res.headers["content-length"]) == ("bytes 5-35/36", "31")
    res = client.get("/ranged/small.txt", headers={"range": "bytes=-3"})
    assert (res.status_code, res.content) == (206, b"xyz")
    assert (res.headers["content-range"], res.headers["content-length"]) == ("bytes 33-35/36", "3")
    # A suffix longer than the file is all of it, still a 206.
    res = client.get("/ranged/small.txt", headers={"range": "bytes=-100"})
    assert (res.status_code, res.content, res.headers["content-range"]) == (206, SMALL, "bytes 0-35/36")


def test_file_response_answers_several_ranges_with_multipart_byteranges(client):
    res = client.get("/ranged/small.txt", headers={"range": "bytes=0-2, 10-12, -2"})
    assert res.status_code == 206
    assert "content-range" not in res.headers
    text = "text/plain; charset=utf-8"
    assert byteranges(res) == [(text, "bytes 0-2/36", b"012"), (text, "bytes 10-12/36", b"abc"), (text, "bytes 34-35/36", b"yz")]
    # Sorted, as Starlette sends them.
    res = client.get("/ranged/small.txt", headers={"range": "bytes=20-21,0-1"})
    assert [part[1:] for part in byteranges(res)] == [("bytes 0-1/36", b"01"), ("bytes 20-21/36", b"kl")]
    # Ranges that overlap or touch are merged: one range is no multipart.
    for header in ["bytes=0-3,2-5", "bytes=0-3,4-5", "bytes=4-5,0-3"]:
        res = client.get("/ranged/small.txt", headers={"range": header})
        assert (res.status_code, res.content, res.headers["content-range"]) == (206, b"012345", "bytes 0-5/36"), header
        assert res.headers["content-type"] == text
    # Each multipart answer has a boundary of its own.
    first, second = (client.get("/ranged/small.txt", headers={"range": "bytes=0-0,2-2"}) for _ in range(2))
    assert first.headers["content-type"] != second.headers["content-type"]


def test_file_response_answers_an_unsatisfiable_range_with_416(client):
    for header in ["bytes=36-", "bytes=100-200", "bytes=0-1,40-50", "bytes=-0"]:
        res = client.get("/ranged/small.txt", headers={"range": header})
        assert (res.status_code, res.content) == (416, b""), header
        assert res.headers["content-range"] == "bytes */36"
        assert (res.headers["content-type"], res.headers["content-length"]) == ("text/plain; charset=utf-8", "0")
        # Starlette's 416 is a response of its own: none of the file's headers.
        assert not {"etag", "last-modified", "accept-ranges"} & set(res.headers)
    res = client.get("/ranged/empty.txt", headers={"range": "bytes=0-"})
    assert (res.status_code, res.headers["content-range"]) == (416, "bytes */0")
    assert client.get("/ranged/empty.txt").content == b""


def test_file_response_refuses_or_ignores_a_malformed_range_as_starlette(client):
    for header, message in [
        ("bytes", "Malformed range header."),
        ("items=0-1", "Only support bytes range"),
        ("bytes=abc", "Range header: range must be requested"),
        ("bytes=,-,", "Range header: range must be requested"),
        ("bytes=5-2", "Range header: start must be less than end"),
    ]:
        res = client.get("/ranged/small.txt", headers={"range": header})
        assert (res.status_code, res.text) == (400, message), header
        assert (res.headers["content-type"], res.headers["content-length"]) == ("text/plain; charset=utf-8", str(len(message)))
        assert not {"etag", "accept-ranges", "content-range"} & set(res.headers)
    # More than 100 ranges: the header is ignored, the whole file sent.
    res = client.get("/ranged/small.txt", headers={"range": "bytes=" + ",".join(f"{i}-{i}" for i in range(101))})
    assert (res.status_code, res.content) == (200, SMALL)
    # What is not a range among ranges is skipped; the unit and the ranges may be spaced.
    res = client.get("/ranged/small.txt", headers={"range": "bytes=x-y, 0-1"})
    assert (res.status_code, res.content, res.headers["content-range"]) == (206, b"01", "bytes 0-1/36")
    res = client.get("/ranged/small.txt", headers={"range": "Bytes = 3 - 4"})
    assert (res.status_code, res.content) == (206, b"34")


def test_file_response_sends_the_whole_file_when_if_range_does_not_match(client):
    whole = client.get("/ranged/small.txt")
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    for if_range in [etag, modified]:
        res = client.get("/ranged/small.txt", headers={"range": "bytes=1-2", "if-range": if_range})
        assert (res.status_code, res.content, res.headers["content-range"]) == (206, b"12", "bytes 1-2/36"), if_range
    for if_range in ['"another"', "W/" + etag, "Thu, 01 Jan 1970 00:00:00 GMT"]:
        res = client.get("/ranged/small.txt", headers={"range": "bytes=1-2", "if-range": if_range})
        assert (res.status_code, res.content) == (200, SMALL), if_range
        assert "content-range" not in res.headers
    # If-Range without Range changes nothing.
    assert client.get("/ranged/small.txt", headers={"if-range": '"another"'}).status_code == 200


def test_file_response_answers_head_with_a_range(client):
    res = client.head("/ranged/small.txt", headers={"range": "bytes=2-5"})
    assert (res.status_code, res.content) == (206, b"")
    assert (res.headers["content-range"], res.headers["content-length"]) == ("bytes 2-5/36", "4")
    res = client.head("/ranged/small.txt")
    assert (res.status_code, res.content, res.headers["content-length"], res.headers["accept-ranges"]) == (200, b"", "36", "bytes")
    res = client.head("/ranged/small.txt", headers={"range": "bytes=0-1,5-6"})
    assert (res.status_code, res.content) == (206, b"")
    assert res.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(res.headers["content-length"]) > 4
    res = client.head("/ranged/small.txt", headers={"range": "bytes=99-"})
    assert (res.status_code, res.headers["content-range"]) == (416, "bytes */36")


def test_file_response_with_a_status_of_its_own_ignores_range(client):
    res = client.get("/ranged/small.txt?status=404", headers={"range": "bytes=2-5"})
    assert (res.status_code, res.content, res.headers["content-length"]) == (404, SMALL, "36")
    assert "content-range" not in res.headers
    assert res.headers["accept-ranges"] == "bytes"  # as Starlette's, which sets it on every one
    res = client.get("/ranged/small.txt?status=404", headers={"range": "bytes=99-"})
    assert (res.status_code, res.content) == (404, SMALL)


def test_a_range_from_the_middle_of_a_large_file(client):
    size = len(LARGE)
    start, end = 1_000_003, 2_500_000  # many 64 KiB chunks, none of them aligned
    res = client.get("/ranged/large.bin", headers={"range": f"bytes={start}-{end}"})
    assert res.status_code == 206
    assert res.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert res.headers["content-length"] == str(end - start + 1)
    assert res.content == LARGE[start : end + 1]
    res = client.get("/ranged/large.bin", headers={"range": "bytes=65530-65545, 2000000-2200000, -70000"})
    kind = "application/octet-stream"
    assert byteranges(res) == [
        (kind, f"bytes 65530-65545/{size}", LARGE[65530:65546]),
        (kind, f"bytes 2000000-2200000/{size}", LARGE[2000000:2200001]),
        (kind, f"bytes {size - 70000}-{size - 1}/{size}", LARGE[-70000:]),
    ]


def test_a_range_of_a_file_from_a_def_handler_closes_its_dependency(client):
    client.delete("/events")
    res = client.get("/ranged-sync/small.txt", headers={"range": "bytes=-4"})
    assert (res.status_code, res.content, res.headers["content-range"]) == (206, b"wxyz", "bytes 32-35/36")
    assert res.headers["content-disposition"] == 'attachment; filename="small.txt"'
    assert wait_for_events(client, 2) == ["session:open", "session:close"]
    client.delete("/events")
    assert client.get("/ranged-sync/small.txt", headers={"range": "bytes=50-"}).status_code == 416
    assert wait_for_events(client, 2) == ["session:open", "session:close"]


def test_file_response_ranges_after_http_middleware(tmp_path):
    from armature import BackgroundTask
    from armature.responses import FileResponse

    path = tmp_path / "data.txt"
    path.write_bytes(b"0123456789" * 300)
    app = App()
    done: list = []
    seen: list = []

    @app.middleware("http")
    async def stamp(request: Request, call_next):
        response = await call_next(request)
        # What Starlette's middleware sees: the range answered already.
        seen.append((response.status_code, response.headers.get("content-range")))
        response.headers["x-stamp"] = "1"
        if request.headers.get("x-retype"):
            # The range's content type is one header, replaced as any other.
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            response.headers["content-type"] = "application/x-data"
        return response

    @app.get("/data")
    async def data():
        return FileResponse(path, headers={"cache-control": "no-store"}, background=BackgroundTask(done.append, "sent"))

    @app.post("/data")
    async def posted():
        return FileResponse(path)

    with TestClient(app) as c:
        # The middleware's headers and the file's stay on a 206.
        res = c.get("/data", headers={"range": "bytes=0-9,100-104"})
        assert [part[2] for part in byteranges(res)] == [b"0123456789", b"01234"]
        assert (res.headers["x-stamp"], res.headers["cache-control"], res.headers["accept-ranges"]) == ("1", "no-store", "bytes")
        # A 416 drops the file's headers (the `headers=` given too), not the middleware's.
        res = c.get("/data", headers={"range": "bytes=5000-"})
        assert (res.status_code, res.headers["content-range"], res.headers["x-stamp"]) == (416, "bytes */3000", "1")
        assert not {"cache-control", "etag", "accept-ranges"} & set(res.headers)
        res = c.get("/data", headers={"range": "bytes=9-1"})
        assert (res.status_code, res.headers["x-stamp"]) == (400, "1")
        # The background task runs whatever the answer.
        assert done == ["sent"] * 3
        # Only a GET or a HEAD is answered with a range, as in Starlette.
        res = c.post("/data", headers={"range": "bytes=0-1"})
        assert (res.status_code, len(res.content)) == (200, 3000)
        res = c.get("/data", headers={"range": "bytes=10-14", "x-retype": "1"})
        assert (res.status_code, res.content, res.headers["content-length"]) == (206, b"01234", "5")
        assert res.headers.get_list("content-type") == ["application/x-data"]
        res = c.get("/data")
        assert (res.status_code, len(res.content)) == (200, 3000)
    assert seen == [(206, None), (416, "bytes */3000"), (400, None), (200, None), (206, "bytes 10-14/3000"), (200, None)]


def test_gzip_leaves_a_206_as_it_is(tmp_path):
    from armature.middleware import GZipMiddleware
    from armature.responses import FileResponse

    path = tmp_path / "data.txt"
    path.write_bytes(b"0123456789" * 300)
    app = App()
    app.add_middleware(GZipMiddleware(minimum_size=10))

    @app.get("/data")
    async def data():
        return FileResponse(path)

    with TestClient(app) as c:
        res = c.get("/data", headers={"accept-encoding": "gzip"})
        assert (res.status_code, res.content, res.headers["content-encoding"]) == (200, path.read_bytes(), "gzip")
        # A 206 is never gzipped, as in Starlette: its ranges count the file's bytes (tower-http
        # skips those with a Content-Range, not the multipart/byteranges of several).
        for header in ["bytes=10-19", "bytes=0-9,100-104"]:
            res = c.get("/data", headers={"range": header, "accept-encoding": "gzip"})
            assert (res.status_code, "content-encoding" in res.headers) == (206, False), header
        assert [part[2] for part in byteranges(res)] == [b"0123456789", b"01234"]


def test_starlettes_request_reads_the_body_with_await_and_shares_state():
    app = App()
    app.state.greeting = "hi"
    seen = []

    @app.middleware("http")
    async def who(request: Request, call_next):
        # The middleware's `request.state` is the handler's and the dependencies'.
        request.state.user = request.headers.get("x-user", "anonymous")
        seen.append((request.method, request.url.path, request.app is app))
        return await call_next(request)

    def db(request: Request) -> str:
        return f"{request.app.state.greeting} {request.state.user}"

    @app.post("/echo/{name}")
    async def echo(name: str, request: Request, greeting: str = Depends(db)) -> dict:
        assert await request.json() is await request.json()  # parsed once
        chunks = [chunk async for chunk in request.stream()]
        return {
            "json": await request.json(),
            "body": (await request.body()).decode(),
            "chunks": len(chunks),
            "path": request.path_params,
            "query": request.query_params.getlist("q"),
            "greeting": greeting,
            "route": request.route,  # read from the wrapped HttpRequest
            "disconnected": await request.is_disconnected(),
        }

    @app.post("/form")
    async def form(request: Request) -> dict:
        data = await request.form()
        upload = data["doc"]
        answer = {"tag": data["tag"], "tags": data.getlist("tag"), "file": upload.filename, "bytes": (await upload.read()).decode()}
        await data.close()
        return answer

    @app.post("/bad-json")
    async def bad_json(request: Request) -> dict:
        return await request.json()

    @app.get("/unset")
    async def unset(request: Request) -> dict:
        return {"user": getattr(request.state, "missing", "no such attribute")}

    with TestClient(app, raise_server_exceptions=False) as client:
        res = client.post("/echo/ann?q=1&q=2", json={"a": [1, 2]}, headers={"x-user": "bob"})
        assert res.status_code == 200, res.text
        assert res.json() == {
            "json": {"a": [1, 2]},
            "body": '{"a":[1,2]}',
            "chunks": 2,
            "path": {"name": "ann"},
            "query": ["1", "2"],
            "greeting": "hi bob",
            "route": "/echo/{name}",
            "disconnected": False,
        }
        files = {"doc": ("notes.txt", b"hello", "text/plain")}
        res = client.post("/form", data={"tag": ["a", "b"]}, files=files)
        assert res.json() == {"tag": "b", "tags": ["a", "b"], "file": "notes.txt", "bytes": "hello"}
        # Not a form: 415, as a declared Form() parameter answers.
        res = client.post("/form", content=b"{}", headers={"content-type": "application/json"})
        assert res.status_code == 415
        # Not JSON: json.loads raises, a 500 as in Starlette; the app serves on.
        res = client.post("/bad-json", content=b"{nope", headers={"content-type": "application/json"})
        assert res.status_code == 500
        assert client.get("/unset").json() == {"user": "no such attribute"}
    assert seen[0] == ("POST", "/echo/ann", True)


def test_exception_handlers_get_starlettes_request():
    app = App()

    class Refused(Exception):
        pass

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> HttpResponse:
        return HttpResponse.json({"sent": (await request.body()).decode(), "path": request.url.path}, status=409)

    @app.post("/refuse")
    async def refuse() -> dict:
        raise Refused()

    with TestClient(app) as client:
        res = client.post("/refuse", content=b"payload")
        assert (res.status_code, res.json()) == (409, {"sent": "payload", "path": "/refuse"})


def test_status_code_exception_handlers_answer_the_routers_404_and_405_too():
    app = App()

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> HttpResponse:
        return HttpResponse.html(f"<h1>No page at {request.url.path}</h1><p>{exc.detail}</p>", status=404)

    @app.get("/pages/{n}")
    async def page(n: int) -> dict:
        if n > 10:
            raise HTTPException(404, "no such page")
        return {"n": n}

    with TestClient(app) as c:
        assert c.get("/pages/3").json() == {"n": 3}
        res = c.get("/nowhere")
        assert (res.status_code, res.headers["content-type"], res.text) == (404, "text/html; charset=utf-8", "<h1>No page at /nowhere</h1><p>Not Found</p>")
        assert c.get("/pages/11").text == "<h1>No page at /pages/11</h1><p>no such page</p>"
        # No handler for 405: the default answer, with the router's Allow.
        res = c.post("/pages/3")
        assert (res.status_code, res.json(), res.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "GET,HEAD")
        # Other HTTPExceptions keep their default answer; a request id still on every answer.
        assert "x-request-id" in res.headers

    shaped = App(max_body_size=16)

    @shaped.exception_handler(HTTPException)
    async def every_http_error(request: Request, exc: HTTPException) -> HttpResponse:
        return HttpResponse.json({"error": exc.detail, "status": exc.status_code}, status=exc.status_code)

    @shaped.get("/a")
    async def a() -> dict:
        return {}

    with TestClient(shaped) as c:
        assert c.get("/b").json() == {"error": "Not Found", "status": 404}
        res = c.put("/a")
        assert (res.json(), res.headers["allow"]) == ({"error": "Method Not Allowed", "status": 405}, "GET,HEAD")
        # Their bodies are not read: a large one is still a 404 or 405, not a 413.
        assert c.post("/b", content=b"x" * 1000).status_code == 404
        assert c.put("/a", content=b"x" * 1000).status_code == 405


def test_fastapi_idioms_a_review_found_missing():
    def settings() -> dict:
        return {"env": "prod"}

    app = App(default_response_class=HTMLResponse)
    items = APIRouter(prefix="/items", tags=["items"], responses={404: {"description": "Not found"}})

    @items.get("/{n}", response_class=HTMLResponse)
    async def item(n: int) -> str:
        return f"<b>{n}</b>"

    @app.get("/page")
    async def page() -> str:
        return "<p>hi</p>"

    @app.post("/upload", status_code=status.HTTP_201_CREATED, response_class=HttpResponse.json)
    async def upload(file: UploadFile, extra: Optional[UploadFile] = None, more: List[UploadFile] = []) -> dict:
        return {"name": file.filename, "size": len(await file.read()), "extra": extra is not None, "more": [f.filename for f in more]}

    @app.get("/cookie", response_class=HttpResponse.json)
    async def cookie(response: Response) -> dict:
        response.set_cookie("sid", "abc")
        return {"ok": True}

    @app.get("/env", response_class=HttpResponse.json)
    async def env(config: dict = Depends(settings)) -> dict:
        return config

    async def health() -> dict:
        return {"ok": True}

    app.add_api_route("/health", health, methods=["GET"], response_class=HttpResponse.json)
    app.include_router(items)

    with TestClient(app) as c:
        res = c.get("/page")
        assert (res.headers["content-type"], res.text) == ("text/html; charset=utf-8", "<p>hi</p>")
        assert c.get("/items/3").text == "<b>3</b>"
        res = c.post("/upload", files={"file": ("a.txt", b"hello")})
        assert (res.status_code, res.json()) == (201, {"name": "a.txt", "size": 5, "extra": False, "more": []})
        res = c.post("/upload", files=[("file", ("a.txt", b"x")), ("extra", ("b.txt", b"y")), ("more", ("c", b"1")), ("more", ("d", b"2"))])
        assert res.json() == {"name": "a.txt", "size": 1, "extra": True, "more": ["c", "d"]}
        res = c.post("/upload", data={"other": "x"}, files={"extra": ("b.txt", b"y")})
        assert (res.status_code, res.json()["detail"][0]["loc"]) == (422, ["body", "file"])
        res = c.get("/cookie")
        assert (res.json(), res.headers["set-cookie"].startswith("sid=abc")) == ({"ok": True}, True)
        assert c.get("/env").json() == {"env": "prod"}
        # Overridden while the app serves, as tests do; a stand-in with dependencies of its own.
        app.dependency_overrides[settings] = lambda q: {"env": q}
        assert c.get("/env?q=test").json() == {"env": "test"}
        assert c.get("/env").status_code == 422
        app.dependency_overrides.clear()
        assert c.get("/env").json() == {"env": "prod"}
        assert c.get("/health").json() == {"ok": True}
    doc = app.openapi()
    assert doc["paths"]["/items/{n}"]["get"]["responses"]["404"] == {"description": "Not found"}
    assert doc["paths"]["/items/{n}"]["get"]["tags"] == ["items"]
    assert "text/html" in doc["paths"]["/page"]["get"]["responses"]["200"]["content"]
    assert status.HTTP_422_UNPROCESSABLE_ENTITY == status.HTTP_422_UNPROCESSABLE_CONTENT == 422
    with pytest.raises(TypeError, match="unexpected keyword 'prefixx'|prefixx"):
        APIRouter(prefixx="/x")

    class Kind(str, __import__("enum").Enum):
        A = "a"

    import datetime
    import uuid

    model = Named(name="n")
    encoded = jsonable_encoder({"at": datetime.date(2026, 1, 2), 3: (Kind.A, None), "m": [model], "id": uuid.UUID(int=1), "none": None, "s": {Kind.A}}, exclude_none=True)
    assert encoded == {"at": "2026-01-02", "3": ["a", None], "m": [{"name": "n"}], "id": "00000000-0000-0000-0000-000000000001", "s": ["a"]}
    assert type(encoded["s"][0]) is str
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonable_encoder(object())
    # FastAPI's other keywords: `include` / `exclude` (a model's fields, a dict's keys, each
    # item's in a list), `exclude_defaults`, `custom_encoder` (by type).
    user = Named(name="ann")
    assert jsonable_encoder(user, exclude={"name"}) == {}
    assert jsonable_encoder([user, user], include={"name"}) == [{"name": "ann"}, {"name": "ann"}]
    assert jsonable_encoder({"a": 1, "b": 2, "c": None}, exclude={"b"}) == {"a": 1, "c": None}
    assert jsonable_encoder({"a": 1, "b": 2}, include=["a"]) == {"a": 1}
    assert jsonable_encoder(Named(name="n"), exclude_defaults=True) == {"name": "n"}
    assert jsonable_encoder({"at": datetime.date(2026, 1, 2)}, custom_encoder={datetime.date: lambda d: d.year}) == {"at": 2026}
    assert jsonable_encoder(user, sqlalchemy_safe=True) == {"name": "ann"}


def test_fastapis_usual_cors_snippet_with_credentials_lists_methods_and_mirrors_headers():
    app = App()
    app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"], allow_credentials=True, allow_methods=["*"], allow_headers=["*"])

    @app.get("/x")
    async def x() -> dict:
        return {}

    with TestClient(app) as c:
        res = c.options("/x", headers={"origin": "https://a.example", "access-control-request-method": "PATCH", "access-control-request-headers": "x-token, content-type"})
        assert res.status_code in (200, 204)
        assert res.headers["access-control-allow-origin"] == "https://a.example"
        assert res.headers["access-control-allow-credentials"] == "true"
        assert res.headers["access-control-allow-methods"].replace(" ", "").split(",") == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
        assert res.headers["access-control-allow-headers"].replace(" ", "") == "x-token,content-type"
    bad = App()
    bad.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(ValueError, match=r"allow_origins=\['\*'\] with allow_credentials=True") as caught:
        bad.build_engine()
    assert str(caught.value).count("invalid CORS configuration") == 1


def test_testclient_raises_server_exceptions_keeps_cookies_and_has_httpx_helpers():
    app = App()

    @app.get("/boom")
    async def boom() -> dict:
        raise LookupError("no such row")

    @app.post("/login")
    async def login(response: Response) -> dict:
        response.set_cookie("sid", "abc")
        return {"ok": True}

    @app.post("/login-redirect")
    async def login_redirect() -> HttpResponse:
        res = HttpResponse(b"", status=303, headers={"location": "/me"})
        res.set_cookie("sid", "via-redirect")
        return res

    @app.post("/logout")
    async def logout(response: Response) -> dict:
        response.delete_cookie("sid")
        return {"ok": True}

    @app.get("/me")
    async def me(sid: Optional[str] = Cookie(None), x_team: Optional[str] = Header(None)) -> dict:
        return {"sid": sid, "team": x_team}

    with TestClient(app, headers={"x-team": "blue"}) as c:
        # As Starlette's: an exception no handler answered is raised in the test.
        with pytest.raises(LookupError, match="no such row"):
            c.get("/boom")
        assert c.get("/me").json() == {"sid": None, "team": "blue"}
        res = c.post("/login")
        assert (res.is_success, c.cookies) == (True, {"sid": "abc"})
        assert (res.cookies, res.cookies["sid"]) == ({"sid": "abc"}, "abc")  # httpx's `response.cookies`
        assert c.get("/me").json() == {"sid": "abc", "team": "blue"}
        assert c.get("/me", cookies={"sid": "other"}).json()["sid"] == "other"
        assert c.post("/logout").is_success and c.cookies == {}
        assert c.get("/me").json()["sid"] is None
        # A redirect's cookie goes with the request that follows it.
        res = c.post("/login-redirect")
        assert (res.json()["sid"], res.url) == ("via-redirect", "http://testserver/me")
        missing = c.get("/nowhere")
        assert (missing.is_error, missing.reason_phrase) == (True, "Not Found")
        with pytest.raises(HTTPStatusError, match="404 Not Found"):
            missing.raise_for_status()
        assert c.post("/login-redirect", follow_redirects=False).is_redirect
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/boom").status_code == 500


class _Opaque:
    """A return annotation Pydantic cannot check."""


def test_a_declared_response_type_other_than_a_model_is_checked_too():
    app = App()

    @app.get("/counts", response_model=Dict[str, int])
    async def counts() -> dict:
        return {"a": "1", "b": 2}

    @app.get("/number")
    async def number() -> int:
        return "x"  # type: ignore[return-value]

    @app.get("/ids")
    async def ids() -> List[int]:
        return ["1", 2]  # type: ignore[list-item]

    @app.get("/plain")
    async def plain() -> dict:
        return {"a": "1"}

    @app.get("/opaque")
    async def opaque() -> _Opaque:
        return {"as": "is"}  # type: ignore[return-value]

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @app.get("/page-text", response_class=HTMLResponse)
    async def page_text() -> HTMLResponse:
        return "<p>text</p>"  # type: ignore[return-value]

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/counts").json() == {"a": 1, "b": 2}
        assert c.get("/ids").json() == [1, 2]
        assert c.get("/number").status_code == 500
        assert c.get("/plain").json() == {"a": "1"}
        assert c.get("/opaque").json() == {"as": "is"}
        assert c.get("/page").text == "<p>hi</p>"
        assert c.get("/page-text").text == "<p>text</p>"


class FilterParams(BaseModel):
    limit: int = Field(10, ge=1, le=100)
    tags: List[str] = []
    order_by: str = "created"


class LoginForm(BaseModel):
    username: str
    password: str


class CommonHeaders(BaseModel):
    x_token: str
    user_agent: Optional[str] = None


def test_testclient_percent_encodes_urls_and_writes_params_as_httpx_does():
    app = App()

    @app.get("/cafés/{name}")
    async def cafe(name: str, request: Request) -> dict:
        return {"name": name, "query": dict(request.query_params), "raw": request.url.query}

    with TestClient(app) as c:
        # httpx percent-encodes what a URL cannot hold (non-ASCII, spaces), keeping escapes.
        assert c.get("/cafés/José Ñ").json()["name"] == "José Ñ"
        assert c.get("/caf%C3%A9s/a%2Fb?q=a b&r=é").json() == {"name": "a/b", "query": {"q": "a b", "r": "é"}, "raw": "q=a%20b&r=%C3%A9"}
        # `params`: `None` is an empty value, booleans are JSON's `true` / `false`.
        assert c.get("/cafés/x", params={"a": None, "b": True, "c": False, "d": 1}).json()["query"] == {"a": "", "b": "true", "c": "false", "d": "1"}
        assert c.get("/cafés/x", params=[("t", "1"), ("t", "2")]).json()["raw"] == "t=1&t=2"


def test_testclient_base_url_gives_the_app_its_scheme_and_host():
    app = App()

    @app.get("/where")
    async def where(request: Request) -> dict:
        return {"url": str(request.url), "secure": request.url.is_secure, "link": str(request.url_for("where"))}

    with TestClient(app, base_url="https://api.example.org:8443") as c:
        assert c.get("/where?x=1").json() == {"url": "https://api.example.org:8443/where?x=1", "secure": True, "link": "https://api.example.org:8443/where"}
    with TestClient(app) as c:
        assert c.get("/where").json()["url"] == "http://testserver/where"


def test_testclient_resolves_relative_redirects_and_dot_segments_as_httpx_does():
    from armature.responses import RedirectResponse

    app = App()

    @app.get("/a/b")
    async def relative() -> HttpResponse:
        return RedirectResponse("c?x=1")

    @app.get("/up/b")
    async def up() -> HttpResponse:
        return RedirectResponse("../a/c")

    @app.get("/a/c")
    async def target(request: Request) -> dict:
        return {"path": request.url.path, "query": request.url.query}

    with TestClient(app) as c:
        res = c.get("/a/b")
        assert (res.json(), res.url) == ({"path": "/a/c", "query": "x=1"}, "http://testserver/a/c?x=1")
        assert c.get("/up/b").json() == {"path": "/a/c", "query": ""}
        assert c.get("/a/./b/../c").json() == {"path": "/a/c", "query": ""}
        assert c.get("http://testserver/a/c?y=2").json() == {"path": "/a/c", "query": "y=2"}


def test_testclient_sends_httpxs_default_headers_and_decodes_compressed_bodies():
    import zlib

    from armature import GZipMiddleware

    app = App()
    app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/who")
    async def who(request: Request, user_agent: str = Header()) -> dict:
        return {"ua": user_agent, "accept": request.headers["accept"], "encodings": request.headers["accept-encoding"], "pad": "x" * 100}

    @app.get("/deflated")
    async def deflated() -> HttpResponse:
        return HttpResponse(zlib.compress(b"squeezed"), headers={"content-encoding": "deflate"})

    with TestClient(app) as c:
        # As Starlette's client (httpx): `testclient` as the user agent, and compressed answers
        # accepted and decoded (the header says how it came).
        res = c.get("/who")
        assert res.headers["content-encoding"] == "gzip"
        assert res.json() == {"ua": "testclient", "accept": "*/*", "encodings": "gzip, deflate", "pad": "x" * 100}
        res = c.get("/who", headers={"user-agent": "probe", "accept-encoding": "identity"})
        assert ("content-encoding" in res.headers, res.json()["ua"]) == (False, "probe")
        assert c.get("/deflated").content == b"squeezed"


def test_parameter_models_read_their_fields_from_the_query_a_form_or_headers():
    app = App()

    @app.get("/items")
    async def items(f: Annotated[FilterParams, Query()]) -> dict:
        return f.model_dump()

    @app.post("/login")
    async def login(data: Annotated[LoginForm, Form()]) -> dict:
        return {"user": data.username, "pw": len(data.password)}

    @app.get("/whoami")
    async def whoami(h: Annotated[CommonHeaders, Header()]) -> dict:
        return {"token": h.x_token}

    with TestClient(app) as c:
        assert c.get("/items?limit=5&tags=a&tags=b").json() == {"limit": 5, "tags": ["a", "b"], "order_by": "created"}
        assert c.get("/items").json() == {"limit": 10, "tags": [], "order_by": "created"}
        res = c.get("/items?limit=0")
        assert (res.status_code, res.json()["detail"][0]["loc"]) == (422, ["query", "limit"])
        assert c.post("/login", data={"username": "ann", "password": "secret"}).json() == {"user": "ann", "pw": 6}
        res = c.post("/login", data={"username": "ann"})
        assert (res.status_code, res.json()["detail"][0]["loc"]) == (422, ["body", "password"])
        assert c.get("/whoami", headers={"x-token": "t1"}).json() == {"token": "t1"}
        assert c.get("/whoami").status_code == 422
    doc = app.openapi()
    names = [p["name"] for p in doc["paths"]["/items"]["get"]["parameters"]]
    assert names == ["limit", "tags", "order_by"]
    form = doc["paths"]["/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["username", "password"]


def test_a_responses_background_runs_after_it_is_handed_over():
    import asyncio
    from armature import BackgroundTask, BackgroundTasks
    from armature.responses import JSONResponse, PlainTextResponse

    app = App()
    done: list = []

    async def note(what: str) -> None:
        await asyncio.sleep(0)
        done.append(what)

    @app.post("/signup")
    async def signup() -> HttpResponse:
        return JSONResponse({"ok": True}, status_code=201, background=BackgroundTask(note, "welcome mail"))

    @app.post("/many")
    async def many() -> HttpResponse:
        tasks = BackgroundTasks()
        tasks.add_task(done.append, "sync one")
        tasks.add_task(note, "async two")
        return PlainTextResponse("queued", background=tasks)

    def until(count: int) -> list:
        deadline = time.monotonic() + 10
        while len(done) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return done

    with TestClient(app) as c:
        res = c.post("/signup")
        assert (res.status_code, res.json()) == (201, {"ok": True})
        assert until(1) == ["welcome mail"]
        assert c.post("/many").text == "queued"
        assert until(3) == ["welcome mail", "sync one", "async two"]


def test_http_middleware_that_returns_something_else_than_a_response_is_a_500_with_the_reason():
    app = App()

    @app.middleware("http")
    async def forgetful(request: Request, call_next):
        if request.url.path == "/dict":
            return {"not": "a response"}
        return await call_next(request)

    @app.get("/dict")
    async def handler() -> dict:
        return {"ok": True}

    @app.get("/fine")
    async def fine() -> dict:
        return {"ok": True}

    with TestClient(app) as c:
        with pytest.raises(TypeError, match="HTTP middleware .*forgetful returned dict, not a response"):
            c.get("/dict")
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/dict").status_code == 500
        assert c.get("/fine").json() == {"ok": True}


def test_http_middleware_reads_and_rewrites_bodies_through_body_iterator():
    from armature.responses import Response as StarletteResponse, StreamingResponse

    app = App()
    seen: list = []

    @app.middleware("http")
    async def log_bodies(request: Request, call_next):
        response = await call_next(request)
        body = b"".join([chunk async for chunk in response.body_iterator])
        seen.append((response.media_type, body))
        return StarletteResponse(body.upper(), status_code=response.status_code, headers={"x-len": str(len(body))}, media_type=response.media_type)

    @app.get("/json")
    async def as_json() -> dict:
        return {"a": "b"}

    @app.get("/stream")
    async def stream() -> HttpResponse:
        async def parts():
            yield "one,"
            yield b"two"

        return StreamingResponse(parts(), media_type="text/csv")

    @app.get("/sync-stream")
    async def sync_stream() -> HttpResponse:
        return StreamingResponse(iter(["x", "y"]), media_type="text/plain")

    with TestClient(app) as c:
        res = c.get("/json")
        assert (res.content, res.headers["x-len"], res.headers["content-type"]) == (b'{"A":"B"}', "9", "application/json")
        assert c.get("/stream").content == b"ONE,TWO"
        assert c.get("/sync-stream").content == b"XY"
    assert seen == [("application/json", b'{"a":"b"}'), ("text/csv", b"one,two"), ("text/plain", b"xy")]


def test_static_files_are_served_under_their_mount(tmp_path):
    from armature.staticfiles import StaticFiles

    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body { color: red }")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<h1>docs</h1>")
    (tmp_path / "a b.txt").write_text("spaced")
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("not for you")
    (tmp_path / "link.txt").symlink_to(outside)

    app = App()
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    app.mount("/site", StaticFiles(directory=tmp_path, html=True))

    @app.get("/static-info")
    async def info() -> dict:
        return {"route": True}

    with TestClient(app, follow_redirects=False) as c:
        res = c.get("/static/css/site.css")
        assert (res.status_code, res.text, res.headers["content-type"]) == (200, "body { color: red }", "text/css")
        assert c.get("/static/a%20b.txt").text == "spaced"
        # Conditional requests and ranges, by tower-http's ServeDir.
        etag = res.headers.get("etag")
        modified = res.headers["last-modified"]
        assert c.get("/static/css/site.css", headers={"if-modified-since": modified}).status_code == 304
        if etag:
            assert c.get("/static/css/site.css", headers={"if-none-match": etag}).status_code == 304
        part = c.get("/static/css/site.css", headers={"range": "bytes=0-3"})
        assert (part.status_code, part.text) == (206, "body")
        assert c.head("/static/css/site.css").headers["content-length"] == "19"
        # Missing files, directories without html=True, and paths out of the directory: 404.
        for path in ["/static/nope.css", "/static/docs/", "/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/link.txt"]:
            res = c.get(path)
            assert (res.status_code, res.json()) == (404, {"detail": "Not Found"}), path
        # html=True: a directory's index.html, and a redirect that keeps the mount's path.
        assert c.get("/site/docs/").text == "<h1>docs</h1>"
        res = c.get("/site/docs")
        assert (res.status_code // 100, res.headers["location"]) == (3, "/site/docs/")
        # The mount's own path redirects to it with a slash, as Starlette's, so the index
        # page's relative links resolve under the mount.
        res = c.get("/site")
        assert (res.status_code, res.headers["location"]) == (307, "/site/")
        assert c.get("/static-info").json() == {"route": True}
        assert c.post("/static/css/site.css").status_code == 405
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tmp_path / "missing")
    # follow_symlink=True serves what a link leads to, as Starlette's.
    trusting = App()
    trusting.mount("/static", StaticFiles(directory=tmp_path, follow_symlink=True))
    with TestClient(trusting) as c:
        assert c.get("/static/link.txt").text == "not for you"
    unchecked = App()
    unchecked.mount("/static", StaticFiles(directory=tmp_path / "missing", check_dir=False))
    with pytest.raises(ValueError, match="missing"):
        unchecked.build_engine()
    with pytest.raises(TypeError, match="only StaticFiles"):
        app.mount("/x", object())
    clash = App()
    clash.mount("/static", StaticFiles(directory=tmp_path))

    @clash.get("/static/{rest:path}")
    async def rest(rest: str) -> dict:
        return {}

    with pytest.raises(ValueError, match="static"):
        clash.build_engine()


def test_a_background_task_may_be_an_object_with_an_async_call():
    # As Starlette's (`is_async_callable`): an instance whose `__call__` is `async def`, or a
    # `partial` of one, is awaited on the loop. The instance was called in the thread pool,
    # which only made a coroutine nobody awaited: the task silently never ran.
    import functools
    from armature import BackgroundTask
    from armature.responses import JSONResponse

    done: list = []

    class Notifier:
        async def __call__(self, what: str) -> None:
            done.append((what, threading.current_thread().name))

    app = App()

    @app.post("/notify")
    async def notify(tasks: BackgroundTasks) -> dict:
        tasks.add_task(Notifier(), "instance")
        tasks.add_task(functools.partial(Notifier(), "partial"))
        return {"ok": True}

    @app.post("/respond")
    async def respond() -> HttpResponse:
        return JSONResponse({"ok": True}, background=BackgroundTask(Notifier(), "response"))

    with TestClient(app) as c:
        assert c.post("/notify").json() == {"ok": True}
        assert c.post("/respond").json() == {"ok": True}
    assert [what for what, _ in done] == ["instance", "partial", "response"]
    assert not any(thread.startswith("armature-sync") for _, thread in done)  # on the loop


def test_the_test_client_returns_once_the_requests_background_tasks_have_run():
    # As Starlette's TestClient: a test reads what a background task did right after the call.
    import asyncio
    from armature import BackgroundTask
    from armature.responses import StreamingResponse

    app = App()
    done: list = []

    async def slow(what: str) -> None:
        await asyncio.sleep(0.05)
        done.append(what)

    def blocking(what: str) -> None:
        time.sleep(0.05)
        done.append(what)

    @app.post("/mail")
    async def mail(tasks: BackgroundTasks) -> dict:
        tasks.add_task(slow, "async")
        tasks.add_task(blocking, "pool")
        return {"queued": 2}

    @app.get("/export")
    async def export() -> HttpResponse:
        async def rows():
            yield "a,b\n"

        return StreamingResponse(rows(), background=BackgroundTask(slow, "after the stream"))

    @app.get("/none")
    async def none() -> dict:
        return {}

    @app.get("/outer")
    async def outer(tasks: BackgroundTasks) -> dict:
        # A background task that itself calls the app through the client (not waited for by
        # the inner request: it waits only for the tasks it started).
        tasks.add_task(lambda: done.append(("inner", c.get("/none").status_code)))
        return {}

    @app.get("/failing")
    async def failing(tasks: BackgroundTasks) -> dict:
        async def broken() -> None:
            raise LookupError("mail server gone")

        tasks.add_task(broken)
        tasks.add_task(slow, "after the failure")
        return {"queued": 2}

    with TestClient(app) as c:
        assert c.post("/mail").json() == {"queued": 2}
        assert done == ["async", "pool"]
        assert c.get("/export").text == "a,b\n"
        assert done[2:] == ["after the stream"]
        assert c.get("/none").json() == {}
        assert len(done) == 3
        assert c.get("/outer").json() == {}
        assert done[3:] == [("inner", 200)]
        # As Starlette's: what a background task raised is raised in the test (the tasks after
        # it still run), unless raise_server_exceptions=False.
        with pytest.raises(LookupError, match="mail server gone"):
            c.get("/failing")
        assert done[4:] == ["after the failure"]
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/failing").json() == {"queued": 2}
        assert done[5:] == ["after the failure"]


def test_background_waits_for_a_stream_and_survives_middleware_that_answers_anew(tmp_path):
    import os
    from armature import BackgroundTask
    from armature.responses import FileResponse, JSONResponse, Response as StarletteResponse, StreamingResponse

    app = App()
    order: list = []

    @app.middleware("http")
    async def rewrap(request: Request, call_next):
        response = await call_next(request)
        if request.url.path != "/rewrapped":
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        return StarletteResponse(body, status_code=response.status_code)

    @app.get("/report/{n}")
    async def report(n: int) -> HttpResponse:
        path = tmp_path / f"report-{n}.csv"
        path.write_text("a,b\n" * 1000)
        # FastAPI's idiom: the temporary file removed once it is sent.
        return FileResponse(path, background=BackgroundTask(os.remove, path))

    @app.get("/chunks")
    async def chunks() -> HttpResponse:
        async def parts():
            for i in range(3):
                order.append(f"chunk{i}")
                yield f"{i}"

        return StreamingResponse(parts(), background=BackgroundTask(order.append, "bg"))

    @app.get("/rewrapped")
    async def rewrapped() -> HttpResponse:
        return JSONResponse({"ok": True}, background=BackgroundTask(order.append, "kept"))

    def until(item: str) -> list:
        deadline = time.monotonic() + 10
        while item not in order and time.monotonic() < deadline:
            time.sleep(0.01)
        return order

    with TestClient(app) as c:
        for n in range(5):
            res = c.get(f"/report/{n}")
            assert (res.status_code, len(res.content)) == (200, 4000)
        assert c.get("/chunks").text == "012"
        assert until("bg") == ["chunk0", "chunk1", "chunk2", "bg"]
        assert c.get("/rewrapped").json() == {"ok": True}
        assert until("kept")[-1] == "kept"
        deadline = time.monotonic() + 10
        while list(tmp_path.glob("report-*.csv")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(tmp_path.glob("report-*.csv")) == []


def test_a_500_handler_answers_what_nothing_else_did():
    app = App()

    @app.exception_handler(500)
    async def oops(request: Request, exc: Exception) -> HttpResponse:
        return HttpResponse.json({"oops": type(exc).__name__}, status=500)

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("db down")

    @app.get("/teapot")
    async def teapot() -> dict:
        raise HTTPException(418, "short and stout")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/boom").json() == {"oops": "RuntimeError"}
        # An HTTPException keeps its own answer; the router's 404 stays Rust's.
        assert c.get("/teapot").json() == {"detail": "short and stout"}
        assert c.get("/nowhere").json() == {"detail": "Not Found"}
        # HEAD answers have no body, as from a server.
        assert c.head("/teapot").content == b""
    with TestClient(app) as c, pytest.raises(RuntimeError, match="db down"):
        c.get("/boom")


def test_a_mount_at_the_root_serves_what_no_route_matches(tmp_path):
    from armature.staticfiles import StaticFiles

    (tmp_path / "index.html").write_text("<div id=app></div>")
    (tmp_path / "app.js").write_text("console.log(1)")
    app = App()
    # Mounted first, as single-page apps often are: the routes still win.
    app.mount("/", StaticFiles(directory=tmp_path, html=True), name="spa")

    @app.get("/api/health")
    async def health() -> dict:
        return {"ok": True}

    with TestClient(app) as c:
        assert c.get("/api/health").json() == {"ok": True}
        assert c.get("/").text == "<div id=app></div>"
        res = c.get("/app.js")
        assert (res.text, res.headers["content-type"]) == ("console.log(1)", "text/javascript")
        res = c.get("/nope.js")
        assert (res.status_code, res.json()) == (404, {"detail": "Not Found"})
        assert c.post("/api/health").status_code == 405
    with pytest.raises(ValueError, match="one mount at '/'"):
        app.mount("/", StaticFiles(directory=tmp_path))
    with pytest.raises(ValueError, match="a path like"):
        app.mount("/static/", StaticFiles(directory=tmp_path))


def test_url_for_builds_paths_of_named_routes_and_mounts(tmp_path):
    from armature import NoMatchFound
    from armature.staticfiles import StaticFiles

    app = App(root_path="/prefix")
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    users = APIRouter(prefix="/users")

    @users.get("/{user_id}")
    async def get_user(user_id: int, request: Request) -> dict:
        return {
            "self": str(request.url_for("get_user", user_id=user_id)),
            "files": str(request.url_for("files", path="a b/c.txt")),
            "css": str(request.url_for("static", path="/css/site.css")),
            "base": str(request.base_url),
        }

    @app.get("/files/{path:path}", name="files")
    async def files(path: str) -> dict:
        return {}

    app.include_router(users)
    assert app.url_path_for("get_user", user_id=7) == "/users/7"
    assert app.url_path_for("get_user", user_id="a/b") == "/users/a%2Fb"
    with pytest.raises(NoMatchFound, match='"get_user"'):
        app.url_path_for("get_user")
    with pytest.raises(NoMatchFound):
        app.url_path_for("nobody")
    with TestClient(app) as c:
        assert c.get("/users/3").json() == {
            "self": "http://testserver/prefix/users/3",
            "files": "http://testserver/prefix/files/a%20b/c.txt",
            "css": "http://testserver/prefix/static/css/site.css",
            "base": "http://testserver/prefix/",  # Starlette's `request.base_url`
        }


def test_request_url_has_starlettes_query_helpers_for_links():
    app = App()

    @app.get("/items")
    async def items(request: Request) -> dict:
        url = request.url
        return {
            "next": str(url.include_query_params(page=2)),
            "only": str(url.replace_query_params(page=3)),
            "without": str(url.remove_query_params(["tag", "nope"])),
            "moved": str(url.replace(path="/other", scheme="https")),
            "host": str(url.replace(hostname="example.com", port=8080)),
            "secure": url.is_secure,
            "fragment": url.fragment,
        }

    with TestClient(app) as c:
        assert c.get("/items?page=1&tag=a&tag=b&q=x y").json() == {
            "next": "http://testserver/items?tag=a&tag=b&q=x+y&page=2",
            "only": "http://testserver/items?page=3",
            "without": "http://testserver/items?page=1&q=x+y",
            "moved": "https://testserver/other?page=1&tag=a&tag=b&q=x%20y",
            "host": "http://example.com:8080/items?page=1&tag=a&tag=b&q=x%20y",
            "secure": False,
            "fragment": "",
        }


def test_jinja2_templates_render_pages_with_url_for_and_escaping(tmp_path):
    from armature.templating import Jinja2Templates

    (tmp_path / "base.html").write_text("<title>{{ site }}</title>{% block body %}{% endblock %}")
    (tmp_path / "item.html").write_text(
        '{% extends "base.html" %}{% block body %}<a href="{{ url_for(\'item\', item_id=id) }}">{{ name }}</a>'
        "<i>{{ request.url.path }}</i>{% endblock %}"
    )
    templates = Jinja2Templates(directory=tmp_path, context_processors=[lambda request: {"site": "Shop"}])
    app = App()

    @app.get("/items/{item_id}")
    async def item(request: Request, item_id: str) -> HttpResponse:
        return templates.TemplateResponse(request, "item.html", {"id": item_id, "name": "<b>Mug</b>"})

    @app.get("/old")
    async def old(request: Request) -> HttpResponse:
        # Starlette's older form, still common in FastAPI code.
        return templates.TemplateResponse("item.html", {"request": request, "id": "9", "name": "x"}, status_code=203)

    @app.get("/missing")
    async def missing(request: Request) -> HttpResponse:
        return templates.TemplateResponse(request, "nope.html")

    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/items/7")
        assert res.headers["content-type"] == "text/html; charset=utf-8"
        assert res.text == '<title>Shop</title><a href="http://testserver/items/7">&lt;b&gt;Mug&lt;/b&gt;</a><i>/items/7</i>'
        res = c.get("/old")
        assert (res.status_code, "http://testserver/items/9" in res.text) == (203, True)
        assert c.get("/missing").status_code == 500
    with pytest.raises(TypeError, match="one of them"):
        Jinja2Templates()


def test_starlette_style_middleware_classes_are_added_with_add_middleware():
    from armature.middleware import BaseHTTPMiddleware, TrustedHostMiddleware

    class Stamp(BaseHTTPMiddleware):
        def __init__(self, app, header: str = "X-Stamp") -> None:
            super().__init__(app)
            self.header = header

        async def dispatch(self, request, call_next):
            response = await call_next(request)
            response.headers[self.header] = request.url.path
            return response

    async def deny_post(request, call_next):
        if request.method == "POST":
            return HttpResponse.json({"denied": True}, status=403)
        return await call_next(request)

    app = App()
    app.add_middleware(Stamp, header="X-Seen")
    app.add_middleware(BaseHTTPMiddleware, dispatch=deny_post)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["TestServer", "*.example.com", "www.shop.test"])

    @app.api_route("/x", methods=["GET", "POST"])
    async def x() -> dict:
        return {"ok": True}

    with TestClient(app, follow_redirects=False) as c:
        res = c.get("/x")
        assert (res.json(), res.headers["x-seen"]) == ({"ok": True}, "/x")
        # The last added is outermost, as in Starlette: deny_post answers before Stamp runs.
        res = c.post("/x")
        assert (res.status_code, "x-seen" in res.headers) == (403, False)
        assert c.get("/x", headers={"host": "api.example.com"}).status_code == 200
        res = c.get("/x", headers={"host": "evil.test"})
        assert (res.status_code, res.text) == (400, "Invalid host header")
        res = c.get("/x?a=1", headers={"host": "shop.test"})
        assert (res.status_code, res.headers["location"]) == (307, "http://www.shop.test/x?a=1")
        # The decoded path is encoded again for the Location: no space, no header split.
        res = c.get("/x%20y%0D%0Aset-cookie:%20a=b", headers={"host": "shop.test"})
        assert (res.status_code, res.headers["location"], "set-cookie" in res.headers) == (
            307, "http://www.shop.test/x%20y%0D%0Aset-cookie:%20a=b", False)
        # A request line with an authority (absolute form) names the host the URL has, which
        # url_for builds links with: that host is the one checked, not the Host header.
        status, _, _ = c._engine.request("GET", "http://evil.test/x", [("host", "testserver")], b"")
        assert status == 400

    class Asgi:
        def __init__(self, app) -> None:
            self.app = app

    with pytest.raises(TypeError, match="ASGI"):
        App().add_middleware(Asgi)
    with pytest.raises(ValueError, match="wildcard"):
        TrustedHostMiddleware(allowed_hosts=["api.*.com"])


def test_gzip_middleware_compresses_large_answers_for_clients_that_accept_it():
    from armature import GZipMiddleware

    app = App()
    app.add_middleware(GZipMiddleware, minimum_size=100, compresslevel=6)

    @app.get("/big")
    async def big() -> dict:
        return {"items": ["x" * 10] * 50}

    @app.get("/small")
    async def small() -> dict:
        return {"a": 1}

    with TestClient(app) as c:
        res = c.get("/big", headers={"accept-encoding": "gzip"})
        assert (res.headers["content-encoding"], res.headers["vary"].lower()) == ("gzip", "accept-encoding")
        # The test client decodes it, as httpx does.
        assert res.content == b'{"items":[' + b",".join([b'"xxxxxxxxxx"'] * 50) + b"]}"
        res = c.get("/small", headers={"accept-encoding": "gzip"})
        assert ("content-encoding" in res.headers, res.content) == (False, b'{"a":1}')
        res = c.get("/big", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in res.headers
    for level in (0, 12, 2**40):
        with pytest.raises(ValueError, match="1 to 9"):
            App().add_middleware(GZipMiddleware, compresslevel=level)


def test_an_app_may_replace_its_openapi_document_as_in_fastapi():
    from armature.openapi import get_openapi

    app = App(title="Shop")

    @app.get("/items/{item_id}", tags=["items"])
    async def read_item(item_id: int) -> dict:
        return {}

    calls = []

    def custom_openapi() -> dict:
        calls.append(1)
        if app.openapi_schema is None:
            doc = get_openapi(title="Custom", version="2.5", routes=app.routes, description="Ours", tags=[{"name": "items"}])
            doc["info"]["x-logo"] = {"url": "/logo.png"}
            app.openapi_schema = doc
        return app.openapi_schema

    assert app.openapi_schema is None
    app.openapi = custom_openapi
    with TestClient(app) as c:
        doc = c.get("/openapi.json").json()
    assert doc["info"] == {"title": "Custom", "version": "2.5", "description": "Ours", "x-logo": {"url": "/logo.png"}}
    assert doc["tags"] == [{"name": "items"}]
    assert doc["paths"]["/items/{item_id}"]["get"]["parameters"][0]["name"] == "item_id"
    # Made once (the first call), then the kept document; it is what was served.
    assert app.openapi() is app.openapi_schema and app.openapi_schema["info"]["x-logo"] == {"url": "/logo.png"}
    assert app.openapi_schema is custom_openapi()


# ----------------------------------------------------------------- Starlette's path convertors

def test_path_convertors_match_convert_and_refuse_what_does_not_fit_with_404():
    app = App()

    @app.get("/items/{item_id:int}")
    async def item(item_id: int, request: Request) -> dict:
        return {"item_id": item_id, "params": repr(request.path_params)}

    @app.get("/prices/{amount:float}")
    async def price(amount) -> dict:  # no annotation: the convertor's value
        return {"amount": amount, "type": type(amount).__name__}

    @app.get("/keys/{key:uuid}")
    def key(key: uuid.UUID, req: HttpRequest) -> dict:  # a thread-pool handler
        return {"key": str(key), "is_uuid": isinstance(key, uuid.UUID), "raw": req.param("key")}

    @app.get("/shelves/{shelf:str}/{slot:int}")
    async def slot(req: HttpRequest) -> dict:  # reads the request itself
        return {"params": repr(req.path_params)}

    key_text = "12345678-9abc-def0-1234-56789abcdef0"
    with TestClient(app) as c:
        assert c.get("/items/42").json() == {"item_id": 42, "params": "{'item_id': 42}"}
        assert c.get("/items/0042").json()["item_id"] == 42
        big = "9" * 30
        assert c.get(f"/items/{big}").json()["item_id"] == int(big)
        assert c.get("/prices/2.50").json() == {"amount": 2.5, "type": "float"}
        assert c.get("/prices/3").json() == {"amount": 3.0, "type": "float"}
        assert c.get(f"/keys/{key_text}").json() == {"key": key_text, "is_uuid": True, "raw": key_text}
        # As Starlette's since 0.44: either case, dashes optional; the handler gets the UUID.
        for text in [key_text.upper(), key_text.replace("-", ""), "12345678-9abcdef0-1234-56789abcdef0"]:
            assert c.get(f"/keys/{text}").json() == {"key": key_text, "is_uuid": True, "raw": text}, text
        assert c.get("/shelves/top/3").json() == {"params": "{'shelf': 'top', 'slot': 3}"}
        # What does not fit the convertor's regular expression is a path no route matches:
        # 404, not 422 (as in Starlette), and the handler is not called.
        for path in ["/items/abc", "/items/-1", "/items/1.5", "/items/+1", "/prices/1e3", "/prices/.5", "/prices/1.",
                     f"/keys/{key_text[:-1]}", f"/keys/{key_text}0", f"/keys/-{key_text}", f"/keys/{key_text.replace('a', 'g')}",
                     "/shelves/top/x"]:
            res = c.get(path)
            assert (res.status_code, res.json()) == (404, {"detail": "Not Found"}), path


def test_a_registered_convertor_checks_converts_and_renders_as_starlettes():
    from armature.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

    class DateConvertor(Convertor[datetime.date]):
        regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

        def convert(self, value: str) -> datetime.date:
            return datetime.date.fromisoformat(value)

        def to_string(self, value: datetime.date) -> str:
            return value.isoformat()

    register_url_convertor("isodate", DateConvertor())
    try:
        app = App()

        @app.get("/days/{day:isodate}")
        async def day(day: datetime.date, request: Request) -> dict:
            return {"day": day.isoformat(), "weekday": day.weekday(), "params": repr(request.path_params)}

        @app.get("/days/{name}")
        async def named(name: str) -> dict:
            return {"name": name}

        @app.get("/months/{m:isodate}", name="month")
        async def month(m) -> dict:  # no annotation: what `convert` returns
            return {"type": type(m).__name__}

        @app.get("/weeks/{start:isodate}")
        async def week(start: datetime.date) -> dict:
            return {"start": start.isoformat()}

        @app.get("/weeks/{rest:path}")
        async def weeks(rest: str) -> dict:
            return {"rest": rest}

        with TestClient(app) as c:
            assert c.get("/days/2026-12-07").json() == {"day": "2026-12-07", "weekday": 0, "params": "{'day': datetime.date(2026, 12, 7)}"}
            # What the regex does not match falls through to the next route of the shape...
            assert c.get("/days/today").json() == {"name": "today"}
            assert c.get("/months/2026-12-01").json() == {"type": "date"}
            # ... or is a path no route matches; the regex is matched whole.
            for path in ["/months/2026-12", "/months/x2026-12-01", "/months/2026-12-01x"]:
                assert c.get(path).status_code == 404, path
            # A route of another shape is tried next, as Starlette tries its next route.
            assert c.get("/weeks/2026-12-07").json() == {"start": "2026-12-07"}
            assert c.get("/weeks/this").json() == {"rest": "this"}
        # Matched, but `convert` raised: the app's failure, a 500, as in Starlette.
        with TestClient(app, raise_server_exceptions=False) as c:
            assert c.get("/months/2026-13-01").status_code == 500
        assert app.url_path_for("month", m=datetime.date(2026, 1, 2)) == "/months/2026-01-02"

        # The regex is Rust's `regex` crate's: look-around is a ValueError naming the convertor
        # when the app is built.
        class Lookbehind(Convertor[str]):
            regex = "(?<=a)b"

            def convert(self, value: str) -> str:
                return value

        register_url_convertor("behind", Lookbehind())
        app = App()
        app.get("/b/{x:behind}")(lambda x: {})
        with pytest.raises(ValueError, match=r"path convertor \"behind\": its regex \"\(\?<=a\)b\" does not compile"):
            app.build_engine()
        # Not a convertor, or not a name: refused when registered.
        with pytest.raises(TypeError, match="needs a `regex` string"):
            register_url_convertor("nothing", object())
        with pytest.raises(ValueError, match="a name like 'date'"):
            register_url_convertor("two words", DateConvertor())
        for key in ("str", "path"):
            with pytest.raises(ValueError, match=f"'{key}' cannot be replaced"):
                register_url_convertor(key, DateConvertor())
        # An unknown one says how to add it.
        with pytest.raises(ValueError, match="unknown path convertor 'weekday'.*register_url_convertor"):
            App().get("/w/{d:weekday}")(lambda d: {})
    finally:
        CONVERTOR_TYPES.pop("isodate", None)
        CONVERTOR_TYPES.pop("behind", None)


def test_a_convertor_value_is_then_checked_against_the_annotation_as_fastapi_does():
    app = App()

    @app.get("/pages/{page:int}")
    async def page(page: Annotated[int, Path(ge=10)]) -> dict:
        return {"page": page}

    @app.get("/whole/{n:float}")
    async def whole(n: int) -> dict:
        return {"n": n}

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/pages/12").json() == {"page": 12}
        res = c.get("/pages/5")
        assert res.status_code == 422
        assert res.json()["detail"][0]["loc"] == ["path", "page"]
        assert c.get("/whole/2.0").json() == {"n": 2}
        assert c.get("/whole/2.5").status_code == 422


def test_a_not_fitting_value_reaches_the_apps_404_handler_and_middleware():
    app = App()
    seen = []

    @app.middleware("http")
    async def note(request, call_next):
        response = await call_next(request)
        seen.append((request.url.path, response.status_code))
        return response

    @app.exception_handler(404)
    async def not_found(request, exc):
        return HttpResponse.json({"missing": request.url.path}, status=404)

    @app.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict:
        return {"item_id": item_id}

    with TestClient(app) as c:
        assert c.get("/items/7").json() == {"item_id": 7}
        res = c.get("/items/seven")
        assert (res.status_code, res.json()) == (404, {"missing": "/items/seven"})
    assert seen == [("/items/7", 200), ("/items/seven", 404)]


def test_convertor_routes_and_the_routers_precedence():
    app = App()

    @app.get("/files/{file_id:int}")
    async def by_id(file_id: int) -> dict:
        return {"id": file_id}

    @app.get("/files/latest")
    async def latest() -> dict:
        return {"latest": True}

    @app.get("/guide/{rest:path}")
    async def guide(rest: str) -> dict:
        return {"rest": rest}

    @app.get("/guide/{page:int}")
    async def doc_page(page: int) -> dict:
        return {"page": page}

    @app.get("/orders/{order:uuid}")
    async def order(order: uuid.UUID) -> dict:
        return {"order": str(order)}

    @app.post("/orders/{rest:path}")
    async def orders(rest: str) -> dict:
        return {"rest": rest}

    @app.get("/shelf/{n:int}")
    async def shelf(n: int) -> dict:
        return {"n": n}

    with TestClient(app) as c:
        # A static segment wins over a parameter whatever the order (Starlette: the order).
        assert c.get("/files/latest").json() == {"latest": True}
        assert c.get("/files/3").json() == {"id": 3}
        # A parameter wins over a catch-all; a value that does not fit it goes on to the
        # catch-all, as Starlette tries its next route.
        assert c.get("/guide/2").json() == {"page": 2}
        assert c.get("/guide/a/b").json() == {"rest": "a/b"}
        assert c.get("/guide/intro").json() == {"rest": "intro"}
        assert c.get("/guide/%32").json() == {"page": 2}
        # The catch-all's methods then apply: it has no POST.
        res = c.post("/guide/intro")
        assert res.status_code == 405
        assert res.headers["allow"] == "GET,HEAD"
        # The same with another convertor and methods: the route that takes the value is the
        # path's, whatever the method.
        some = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        assert c.get(f"/orders/{some}").json() == {"order": some}
        assert c.post(f"/orders/{some}").status_code == 405
        assert c.post("/orders/pending").json() == {"rest": "pending"}
        assert c.get("/orders/pending").status_code == 405
        # Nothing behind: the 404 of a path no route matches.
        res = c.get("/shelf/top")
        assert res.status_code == 404
        assert res.json() == {"detail": "Not Found"}
        assert c.get("/shelf/4").json() == {"n": 4}



def test_routes_of_one_shape_are_tried_in_order_as_starlette_tries_them():
    from armature import rate_limit

    app = App()

    @app.get("/items/{item_id:int}")
    async def by_number(item_id: int, request: Request) -> dict:
        return {"by": "number", "item_id": item_id, "params": repr(request.path_params)}

    @app.get("/items/{key:uuid}")
    async def by_key(key: uuid.UUID, req: HttpRequest) -> dict:
        return {"by": "key", "is_uuid": isinstance(key, uuid.UUID), "raw": req.param("key"), "other": req.param("item_id")}

    @app.get("/items/{name}")
    @rate_limit(1, per="minute")
    async def by_name(name: str, req: HttpRequest) -> dict:
        return {"by": "name", "name": name, "params": repr(req.path_params), "route": req.route}

    # One method's routes fit only numbers, another's anything: a value only the other takes
    # is Starlette's partial match, a 405 naming that method.
    @app.get("/orders/{order_id:int}")
    async def order(order_id: int) -> dict:
        return {"order": order_id}

    @app.delete("/orders/{ref}")
    async def cancel(ref: str) -> dict:
        return {"cancelled": ref}

    @app.put("/slots/{n:int}")
    async def put_slot(n: int) -> dict:
        return {"slot": n}

    @app.post("/slots/{n:float}")
    async def post_slot(n: float) -> dict:
        return {"slot": n}

    key_text = "12345678-9abc-def0-1234-56789abcdef0"
    with TestClient(app) as c:
        assert c.get("/items/7").json() == {"by": "number", "item_id": 7, "params": "{'item_id': 7}"}
        assert c.get(f"/items/{key_text}").json() == {"by": "key", "is_uuid": True, "raw": key_text, "other": None}
        # `{name}` takes what neither convertor does, under its own name; its rate limit is its own.
        assert c.get("/items/abc").json() == {"by": "name", "name": "abc", "params": "{'name': 'abc'}", "route": "/items/{name}"}
        limited = c.get("/items/def")
        assert limited.status_code == 429 and "retry-after" in limited.headers
        assert c.get("/items/8").json()["by"] == "number"  # the other routes are not limited
        # HEAD is answered by the GET routes, without a body.
        head = c.head("/items/9")
        assert head.status_code == 200 and head.content == b""

        assert c.get("/orders/5").json() == {"order": 5}
        assert c.delete("/orders/5").json() == {"cancelled": "5"}
        assert c.delete("/orders/x1").json() == {"cancelled": "x1"}
        res = c.get("/orders/x1")
        assert (res.status_code, res.json(), res.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "DELETE")
        # A method no route of the shape has: a 405 listing the methods of the routes that
        # take the value, not those of every route of the shape.
        res = c.patch("/orders/5")
        assert res.status_code == 405 and set(res.headers["allow"].split(",")) == {"GET", "HEAD", "DELETE"}
        res = c.patch("/orders/x1")
        assert (res.status_code, res.json(), res.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "DELETE")
        res = c.options("/slots/2.5")
        assert (res.status_code, res.headers["allow"]) == (405, "POST")

        assert c.put("/slots/2").json() == {"slot": 2}
        res = c.put("/slots/2.5")  # only POST's `{n:float}` takes it
        assert (res.status_code, res.headers["allow"]) == (405, "POST")
        assert c.post("/slots/2.5").json() == {"slot": 2.5}
        res = c.put("/slots/two")  # no route takes it: no path matches
        assert (res.status_code, res.json()) == (404, {"detail": "Not Found"})
        assert c.delete("/slots/two").status_code == 404

    # A route after one of its method that takes every value (or the same values) could never
    # answer: an error naming both when the app is built (Starlette would ignore it).
    @app.get("/items/{never}")
    async def unreachable(never: str) -> dict:
        return {"by": "never"}

    with pytest.raises(ValueError, match=r"GET `/items/\{never\}` is already registered \(as `/items/\{name\}`\)"):
        app.build_engine()
    # Every integer is a float: `{n:int}` after `{x:float}` is never reached either.
    app = App()
    app.get("/n/{x:float}")(lambda x: {})
    app.get("/n/{n:int}")(lambda n: {})
    with pytest.raises(ValueError, match=r"GET `/n/\{n\}` is already registered \(as `/n/\{x\}`\)"):
        app.build_engine()


def test_routes_tried_in_order_take_head_with_get_and_the_colon_form():
    app = App()

    @app.head("/files/{n:int}")
    async def head_numbered(n: int) -> Response:
        return Response(b"", headers={"x-by": "head"})

    @app.get("/files/:name")
    async def by_name(name: str) -> dict:
        return {"name": name}

    with TestClient(app) as c:
        res = c.head("/files/3")
        assert (res.status_code, res.headers["x-by"]) == (200, "head")
        # Not a number: the GET route answers the HEAD, as in Starlette, without a body.
        res = c.head("/files/readme")
        assert (res.status_code, res.content, "x-by" in res.headers) == (200, b"", False)
        assert c.get("/files/readme").json() == {"name": "readme"}
        assert c.get("/files/3").json() == {"name": "3"}


def test_routes_tried_in_order_answer_unmatched_requests_through_the_apps_handlers():
    app = App()
    seen = []

    @app.middleware("http")
    async def record(request: Request, call_next):
        response = await call_next(request)
        seen.append((request.method, request.url.path, response.status_code))
        return response

    @app.exception_handler(404)
    async def not_found(request: Request, exc) -> Response:
        return Response(b"nothing here", status_code=404)

    @app.get("/pages/{n:int}")
    async def page(n: int) -> dict:
        return {"page": n}

    @app.post("/pages/{slug}")
    async def create(slug: str) -> dict:
        return {"created": slug}

    with TestClient(app) as c:
        assert c.get("/pages/3").json() == {"page": 3}
        res = c.get("/pages/intro")
        assert (res.status_code, res.headers["allow"]) == (405, "POST")
        assert c.post("/pages/intro").json() == {"created": "intro"}
    assert seen == [("GET", "/pages/3", 200), ("GET", "/pages/intro", 405), ("POST", "/pages/intro", 200)]

    app = App()

    @app.exception_handler(404)
    async def missing(request: Request, exc) -> Response:
        return Response(b"nothing here", status_code=404)

    @app.get("/pages/{n:int}")
    async def number(n: int) -> dict:
        return {"page": n}

    @app.get("/pages/{n:float}")
    async def fraction(n: float) -> dict:
        return {"fraction": n}

    with TestClient(app) as c:
        assert c.get("/pages/1.5").json() == {"fraction": 1.5}
        res = c.get("/pages/x")
        assert (res.status_code, res.content) == (404, b"nothing here")

    # `Allow` goes on a 405 only, as the router's: not on what a handler made of it.
    app = App()

    @app.exception_handler(405)
    async def teapot(request: Request, exc) -> Response:
        return Response(b"no", status_code=418)

    @app.get("/pots/{n:int}")
    async def pot(n: int) -> dict:
        return {"pot": n}

    @app.post("/pots/{slug}")
    async def make(slug: str) -> dict:
        return {"made": slug}

    with TestClient(app) as c:
        res = c.get("/pots/tea")
        assert (res.status_code, res.content, "allow" in res.headers) == (418, b"no", False)


def test_an_unknown_path_convertor_is_an_error_naming_the_route():
    app = App()
    with pytest.raises(ValueError, match=r"GET /items/\{item_id:integer\}: unknown path convertor 'integer'"):
        app.get("/items/{item_id:integer}")(lambda item_id: {})
    router = APIRouter(prefix="/v1")
    with pytest.raises(ValueError, match=r"POST /v1/a/\{x:nope\}: unknown path convertor 'nope'"):
        router.post("/a/{x:nope}")(lambda x: {})
    with pytest.raises(ValueError, match="a catch-all takes no convertor"):
        app.get("/files/{*rest:int}")(lambda rest: {})
    # In an included router's prefix too.
    inner = APIRouter()
    inner.get("/x")(lambda: {})
    with pytest.raises(ValueError, match="unknown path convertor 'bad'"):
        app.include_router(inner, prefix="/{tenant:bad}")


def test_openapi_strips_convertors_from_paths_and_gives_their_types():
    app = App()

    @app.get("/items/{item_id:int}")
    async def read_item(item_id: int) -> dict:
        return {}

    @app.get("/keys/{key:uuid}/{ratio:float}/{name:str}")
    async def read_key(req: HttpRequest) -> dict:  # parameters not declared
        return {}

    @app.get("/plain/{x:float}")
    async def plain(x) -> dict:
        return {}

    doc = app.openapi()
    assert list(doc["paths"]) == ["/items/{item_id}", "/keys/{key}/{ratio}/{name}", "/plain/{x}"]
    op = doc["paths"]["/items/{item_id}"]["get"]
    assert op["operationId"] == "read_item_items__item_id__get"  # FastAPI's (its path_format)
    assert op["parameters"][0]["schema"] == {"type": "integer", "title": "Item Id"}
    key = doc["paths"]["/keys/{key}/{ratio}/{name}"]["get"]["parameters"]
    assert [p["schema"] for p in key] == [
        {"type": "string", "format": "uuid", "title": "Key"},
        {"type": "number", "title": "Ratio"},
        {"type": "string", "title": "Name"},
    ]
    assert doc["paths"]["/plain/{x}"]["get"]["parameters"][0]["schema"]["type"] == "number"
    assert [r.path_format for r in app.routes][:1] == ["/items/{item_id}"]
    assert app.routes[0].path == "/items/{item_id:int}"
    from openapi_spec_validator import validate

    validate(doc)


def test_url_path_for_renders_convertor_values_as_starlette():
    app = App()

    @app.get("/items/{item_id:int}")
    async def item(item_id: int, request: Request) -> dict:
        return {"self": str(request.url_for("item", item_id=item_id))}

    @app.get("/prices/{amount:float}", name="price")
    async def price(amount: float) -> dict:
        return {}

    @app.get("/keys/{key:uuid}", name="key")
    async def key(key: uuid.UUID) -> dict:
        return {}

    assert app.url_path_for("item", item_id=7) == "/items/7"
    assert app.url_path_for("item", item_id="7") == "/items/7"
    assert app.url_path_for("price", amount=2.5) == "/prices/2.5"
    assert app.url_path_for("price", amount=3) == "/prices/3"
    assert app.url_path_for("price", amount=1e20) == "/prices/100000000000000000000"
    assert app.url_path_for("key", key=uuid.UUID(int=255)) == "/keys/00000000-0000-0000-0000-0000000000ff"
    with pytest.raises(ValueError, match="negative"):
        app.url_path_for("item", item_id=-1)
    with TestClient(app) as c:
        assert c.get("/items/12").json() == {"self": "http://testserver/items/12"}


def test_websocket_routes_of_one_shape_are_tried_in_order_too():
    app = App()

    @app.websocket("/rooms/{room:int}")
    async def numbered(websocket: WebSocket, room: int) -> None:
        await websocket.accept()
        await websocket.send_json({"by": "number", "room": room})
        await websocket.close()

    @app.websocket("/rooms/{name}")
    async def named(websocket: WebSocket, name: str) -> None:
        await websocket.accept()
        await websocket.send_json({"by": "name", "name": name, "params": repr(websocket.path_params)})
        await websocket.close()

    @app.get("/rooms/{room:int}")
    async def page(room: int) -> dict:
        return {"page": room}

    with TestClient(app) as c:
        with c.websocket_connect("/rooms/5") as ws:
            assert ws.receive_json() == {"by": "number", "room": 5}
        with c.websocket_connect("/rooms/lobby") as ws:
            assert ws.receive_json() == {"by": "name", "name": "lobby", "params": "{'name': 'lobby'}"}
        # A page (not a handshake) is the HTTP routes' only, as in Starlette.
        assert c.get("/rooms/5").json() == {"page": 5}
        res = c.get("/rooms/lobby")
        assert (res.status_code, res.json()) == (404, {"detail": "Not Found"})

    # WebSocket routes only: a handshake no route takes is refused (a 404 to the handshake).
    app = App()

    @app.websocket("/chat/{n:int}")
    async def chat(websocket: WebSocket, n: int) -> None:
        await websocket.accept()
        await websocket.send_json({"n": n})
        await websocket.close()

    @app.websocket("/chat/{n:float}")
    async def fractional(websocket: WebSocket, n: float) -> None:
        await websocket.accept()
        await websocket.send_json({"f": n})
        await websocket.close()

    with TestClient(app) as c:
        with c.websocket_connect("/chat/2") as ws:
            assert ws.receive_json() == {"n": 2}
        with c.websocket_connect("/chat/2.5") as ws:
            assert ws.receive_json() == {"f": 2.5}
        with pytest.raises(WebSocketDenialResponse) as denied:
            with c.websocket_connect("/chat/x"):
                pass
        assert denied.value.status_code == 404
        # A page to a path of WebSocket routes only: their handshake check answers it.
        assert c.get("/chat/2").status_code == 400


def test_a_websocket_route_takes_convertors_too():
    app = App()

    @app.websocket("/rooms/{room:int}")
    async def room(websocket: WebSocket, room: int) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "params": repr(websocket.path_params)})
        await websocket.close()

    with TestClient(app) as c:
        with c.websocket_connect("/rooms/5") as ws:
            assert ws.receive_json() == {"room": 5, "params": "{'room': 5}"}
        with pytest.raises(Exception):
            with c.websocket_connect("/rooms/five"):
                pass
