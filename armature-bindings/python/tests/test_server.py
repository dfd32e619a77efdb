"""The same package on a real socket: a server process (`tests/apps.py`) and httpx."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time

import httpx
import pytest

from conftest import Server


def test_endpoints_over_http(server):
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/plaintext").text == "Hello, World!"
        assert c.get("/json").json() == {"message": "Hello, World!"}
        assert c.get("/users/42").content == b'{"id":"42","name":"Alice"}'
        assert c.get("/items/abc").status_code == 422
        assert c.get("/orders/7").json() == {"order_id": 7, "params": "{'order_id': 7}"}
        assert (c.get("/orders/abc").status_code, c.get("/orders/abc").json()) == (404, {"detail": "Not Found"})
        res = c.post("/api/v1/users", json={"name": "Ann", "age": 30})
        assert (res.status_code, res.json()) == (201, {"name": "Ann", "age": 30})
        assert c.get("/state").json() == {"started": True}  # the startup hook ran


def test_streaming_over_http(server):
    with httpx.Client(base_url=server.url) as c:
        with c.stream("GET", "/stream") as res:
            assert res.headers.get("transfer-encoding") == "chunked"
            assert b"".join(res.iter_raw()) == b"chunk0;chunk1;chunk2;chunk3;chunk4;"


def _stalled_stream(srv: Server, path: str, until: bytes) -> socket.socket:
    """A client that asks for `path`, reads up to `until` and then nothing more."""
    host, port = srv.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, to count
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    seen = b""
    while until not in seen:
        got = sock.recv(4096)
        assert got, seen
        seen += got
    return sock


def _wait_for_events(c: httpx.Client, *wanted: str) -> list:
    deadline = time.monotonic() + 15
    events = c.get("/events").json()
    while not all(w in events for w in wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
        events = c.get("/events").json()
    return events


def test_a_stream_waits_for_a_client_that_reads_slowly(server):
    """Flow control, as uvicorn's: a generator gets ahead of its client by a bounded amount.
    Its chunks went to an unbounded queue, so for a client reading nothing the generator
    ran to its end and the whole 100 MiB waited in the server's memory."""
    sock = _stalled_stream(server, "/stream/large/unread", b"\r\n\r\n")
    try:
        with httpx.Client(base_url=server.url) as c:
            # Until the generator stops making chunks (it waits for room) or has made all.
            made, steady = -1, 0
            deadline = time.monotonic() + 30
            while steady < 10 and made < 1600 and time.monotonic() < deadline:
                time.sleep(0.05)
                now = c.get("/stream/progress/unread").json()
                steady = steady + 1 if now == made else 0
                made = now
            assert 0 < made < 1600 // 4, made  # well under 25 of the 100 MiB
    finally:
        sock.close()
    with httpx.Client(base_url=server.url) as c:
        assert "stream-closed:unread" in _wait_for_events(c, "stream-closed:unread")
        assert c.get("/stream/progress/unread").json() < 1600  # closed, not run to its end
        with c.stream("GET", "/stream/large/read") as res:  # a client that reads gets it all
            assert sum(len(chunk) for chunk in res.iter_raw()) == 1600 * 65536


def test_a_client_leaving_a_stream_closes_the_generator_where_it_waits(server):
    """As Starlette's `StreamingResponse`: a client that leaves cancels the stream, so a
    generator waiting for its next event (an event stream with nothing to say) is closed and
    its `finally` runs, then the response's background task. The client's leaving was only
    noticed at the next chunk, so such a generator waited forever."""
    sock = _stalled_stream(server, "/stream/waiting/left", b"first;")
    sock.close()
    with httpx.Client(base_url=server.url) as c:
        events = _wait_for_events(c, "stream-closed:left", "stream-background:left")
        assert "stream-closed:left" in events
        assert events.index("stream-closed:left") < events.index("stream-background:left")
        assert c.get("/plaintext").text == "Hello, World!"


def test_preset_layers_over_http(server):
    with httpx.Client(base_url=server.url) as c:
        res = c.get("/users/7", headers={"origin": "https://app.example"})
        rid = res.headers["x-request-id"]
        assert res.headers["access-control-allow-origin"] == "https://app.example"
        res = c.request("OPTIONS", "/users/7", headers={"origin": "https://app.example", "access-control-request-method": "PUT"})
        assert res.status_code == 204
    # The Rust logger's access line, labelled by route template, with the request id.
    deadline = time.monotonic() + 5
    while rid not in server.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in server.stderr().splitlines() if rid in line)
    assert "GET /users/{user_id} 200" in line


def test_a_failing_handler_gives_500_a_log_line_and_the_worker_lives(server):
    with httpx.Client(base_url=server.url) as c:
        for _ in range(3):
            res = c.get("/boom")
            assert (res.status_code, res.text) == (500, "Internal Server Error")
        assert c.get("/boom-sync").status_code == 500
        assert c.get("/plaintext").status_code == 200
    assert "kaboom from the handler" in server.stderr()
    assert "Traceback" in server.stderr()


def test_one_thousand_concurrent_sleeping_requests(server):
    """1,000 requests at once, on 1,000 connections, to a handler that awaits
    asyncio.sleep(0.5): every one completes with the right answer. (No timing assertion:
    this machine is shared; the elapsed time is printed for the record.)"""

    async def run() -> tuple[list[tuple[int, dict]], float]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as c:
            start = time.monotonic()
            results = await asyncio.gather(*(c.get("/sleep?seconds=0.5") for _ in range(1000)))
            return [(r.status_code, r.json()) for r in results], time.monotonic() - start

    results, elapsed = asyncio.run(run())
    assert results == [(200, {"slept": 0.5})] * 1000
    print(f"1,000 concurrent 0.5 s requests: {elapsed:.2f} s")


@pytest.mark.parametrize("threads", [1, 2])
def test_concurrent_requests_each_get_their_own_answer(threads):
    """3,000 requests on 64 connections, mixing handlers that answer at once (their answers
    go back in batches) with ones that suspend (each answered when its Task ends), on the
    current-thread runtime (`threads=1`) and the multi-thread one: every answer is the one
    its request asked for."""
    srv = Server("--threads", str(threads))

    async def run() -> list[tuple[str, int, bytes]]:
        async def connection(first: int) -> list[tuple[str, int, bytes]]:
            async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
                got = []
                for i in range(first, 3000, 64):
                    path = f"/users/{i}" if i % 5 else f"/sleep?seconds=0.00{i % 10}"
                    res = await c.get(path)
                    got.append((path, res.status_code, res.content))
                return got

        per_connection = await asyncio.gather(*(connection(first) for first in range(64)))
        return [answer for answers in per_connection for answer in answers]

    try:
        for path, status, body in asyncio.run(run()):
            assert status == 200, path
            if path.startswith("/users/"):
                assert body == b'{"id":"%s","name":"Alice"}' % path[len("/users/") :].encode()
            else:
                assert json.loads(body) == {"slept": float(path.split("=")[1])}, path
    finally:
        assert srv.stop() == 0


def test_graceful_shutdown_on_sigint():
    srv = Server()
    results: dict = {}

    def slow() -> None:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            results["slow"] = c.get("/sleep?seconds=1.0")

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.4)  # the request is in flight
    code = srv.stop()
    thread.join()
    assert code == 0
    assert results["slow"].status_code == 200
    assert results["slow"].json() == {"slept": 1.0}
    assert "shutdown hook ran" in srv.stdout()
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()


def test_a_websocket_on_the_real_server_closes_with_1012_when_it_shuts_down():
    """A WebSocket open when the server is asked to stop is closed with `1012 Service
    Restart` (as uvicorn does), its handler sees the disconnect, and the process still exits
    cleanly."""
    from armature._armature import WebSocketClient

    srv = Server()
    ws = WebSocketClient.connect(srv.url.replace("http://", "ws://") + "/ws/echo", [], [])
    ws.send("hello")
    assert ws.receive() == ("text", "echo: hello")
    srv.proc.send_signal(signal.SIGINT)
    assert ws.receive() == ("close", 1012, "server shutting down")
    # (Not `srv.stop()`: a second signal would cancel the handlers still running.)
    assert srv.proc.wait(timeout=15) == 0
    assert "websocket closed: DISCONNECTED" in srv.stdout()
    assert "shutdown hook ran" in srv.stdout()


def _raw_websocket(srv: Server) -> socket.socket:
    """A socket that has done a WebSocket handshake with `/ws/echo` by hand (to send frames no
    client library would)."""
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _close_code(sock: socket.socket) -> int:
    """The code of the close frame the server sends next (unmasked, short)."""
    frame = b""
    while len(frame) < 4:
        chunk = sock.recv(64)
        assert chunk, f"the connection ended without a close frame: {frame!r}"
        frame += chunk
    assert frame[0] == 0x88, frame  # FIN + close
    return int.from_bytes(frame[2:4], "big")


def test_a_websocket_frame_that_breaks_the_protocol_is_answered_with_1002_or_1007():
    srv = Server()
    try:
        # Unmasked (a client's frames must be masked): 1002.
        sock = _raw_websocket(srv)
        sock.sendall(b"\x81\x02hi")
        assert _close_code(sock) == 1002
        sock.close()
        # A masked text frame whose payload is not UTF-8: 1007.
        sock = _raw_websocket(srv)
        mask = b"\x01\x02\x03\x04"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"\xff\xfe"))
        sock.sendall(b"\x81\x82" + mask + payload)
        assert _close_code(sock) == 1007
        sock.close()
    finally:
        assert srv.stop() == 0, srv.stderr()


def test_a_websocket_client_that_answers_no_ping_is_closed_with_1011():
    """uvicorn's keep-alive: a ping every `ws_ping_interval`; a client silent for that and
    `ws_ping_timeout` more is closed (`1011`), one that talks is not."""
    from armature._armature import WebSocketClient

    srv = Server("--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.2")
    try:
        url = srv.url.replace("http://", "ws://") + "/ws/echo"
        talking, silent = WebSocketClient.connect(url, [], []), WebSocketClient.connect(url, [], [])
        for i in range(10):  # 1 s, past the 0.4 s a silent client gets
            talking.send(str(i))
            assert talking.receive() == ("text", f"echo: {i}")
            time.sleep(0.1)
        assert silent.receive() == ("close", 1011, "keepalive ping timeout")
        talking.close(1000, "")
    finally:
        srv.stop()


def test_without_a_ping_timeout_a_silent_websocket_client_stays_connected():
    from armature._armature import WebSocketClient

    srv = Server("--ws-ping-interval", "0.1", "--ws-ping-timeout", "none")
    try:
        silent = WebSocketClient.connect(srv.url.replace("http://", "ws://") + "/ws/echo", [], [])
        time.sleep(1.0)  # ten pings unanswered (nothing reads them)
        silent.send("still here")
        message = silent.receive()
        assert message == ("text", "echo: still here")
        silent.close(1000, "")
    finally:
        srv.stop()


def test_workers_share_the_port():
    srv = Server("--workers", "2")
    try:
        pids = set()
        for _ in range(60):
            with httpx.Client(base_url=srv.url) as c:  # a new connection each time
                pids.add(c.get("/pid").json()["pid"])
        assert len(pids) == 2
        assert srv.proc.pid not in pids
    finally:
        assert srv.stop() == 0
    assert srv.stdout().count("shutdown hook ran") == 2


def _in_flight(srv: Server, path: str, results: dict) -> threading.Thread:
    """Sends `path` from a thread; the answer (or the error) lands in `results[path]`."""

    def send() -> None:
        try:
            with httpx.Client(base_url=srv.url, timeout=120) as c:
                results[path] = c.get(path)
        except httpx.HTTPError as exc:
            results[path] = exc

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize("timeout", ["1", "inf"])
def test_shutdown_is_not_held_up_by_a_blocked_sync_handler(timeout):
    srv = Server("--shutdown-timeout", timeout)
    results: dict = {}
    # With "inf" the in-flight request may run to its end: make that end near.
    seconds = 60 if timeout == "1" else 1
    thread = _in_flight(srv, f"/bad/block?seconds={seconds}", results)
    with httpx.Client(base_url=srv.url) as c:
        deadline = time.monotonic() + 10
        while "blocking" not in c.get("/events").json() and time.monotonic() < deadline:
            time.sleep(0.02)
    # Exits well before the handler's 60 s end: the pool's threads are daemons.
    assert srv.stop(timeout=30) == 0, srv.stderr()
    thread.join()
    assert "shutdown hook ran" in srv.stdout()
    if timeout == "inf":
        assert results[f"/bad/block?seconds={seconds}"].json() == {"blocked": 1.0}


def test_a_failing_worker_makes_the_parent_exit_with_an_error():
    srv = Server("--workers", "2", "--fail-startup")
    code = srv.proc.wait(30)
    assert code != 0
    assert "workers failed" in srv.stderr()


def test_invalid_timeouts_and_periods_are_value_errors():
    from armature import App, TestClient, rate_limit

    app = App()

    @app.get("/")
    @rate_limit(5, per=1e300)
    async def limited() -> str:
        return "x"

    with pytest.raises(ValueError, match="period"):
        TestClient(app).__enter__()
    with pytest.raises(ValueError, match="shutdown_timeout"):
        App().run(port=0, shutdown_timeout=float("nan"))


def test_a_second_signal_stops_waiting_for_running_requests():
    srv = Server("--shutdown-timeout", "120")
    results: dict = {}
    thread = _in_flight(srv, "/sleep?seconds=60", results)
    with httpx.Client(base_url=srv.url) as c:
        # /sleep is in flight once the server has started it: wait until a request after it
        # is answered (the server serves them concurrently).
        assert c.get("/plaintext").status_code == 200
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    # Without the second signal this would wait the full 60 s request (within 120 s).
    assert srv.stop(timeout=30) == 0, srv.stderr()
    thread.join()
    answer = results["/sleep?seconds=60"]
    assert isinstance(answer, httpx.HTTPError) or answer.status_code == 500
    assert "second signal" in srv.stderr()
    assert "shutdown hook ran" in srv.stdout()


def test_shutdown_hooks_that_never_return_are_cancelled_at_the_deadline_or_a_second_signal():
    # Past what is left of shutdown_timeout (here 1 s, no request in flight)...
    srv = Server("--shutdown-timeout", "1", "--hang-shutdown")
    assert srv.stop(timeout=30) == 0, srv.stderr()
    assert "hanging shutdown hook started" in srv.stdout()
    assert "shutdown hooks still running after shutdown_timeout: cancelled" in srv.stderr()
    # ...or at once on a second signal, however long the deadline.
    srv = Server("--shutdown-timeout", "120", "--hang-shutdown")
    srv.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 30
    while "hanging shutdown hook started" not in srv.stdout() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.stop(timeout=30) == 0, srv.stderr()
    assert "second signal" in srv.stderr()
