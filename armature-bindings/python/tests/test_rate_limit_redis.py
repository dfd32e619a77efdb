"""`@rate_limit(..., redis=...)`: the Rust layer's Redis store, against a real `redis-server`
that each test starts on a free port in its own temporary directory (no persistence) and
kills at the end.

Needs `redis-server` on the PATH (Debian: `apt-get install -y redis-server`, which
`.ci/test-all` does), or `REDIS_SERVER` set to its path; fails saying so otherwise.

Quotas are per hour, so no count depends on how fast the machine is.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from armature import App, TestClient, rate_limit


class RedisServer:
    """A `redis-server` of our own on a free port, like armature-layers' tests/support/redis.rs."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = os.environ.get("REDIS_SERVER", "redis-server")
        try:
            self.proc: Optional[subprocess.Popen[bytes]] = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                cwd=directory,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            pytest.fail(
                f"cannot start {binary!r}: these tests need a real Redis "
                "(`apt-get install -y redis-server`, or set REDIS_SERVER to its path)"
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.command("PING") == "PONG":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("redis-server did not answer PING within 10 s")
            time.sleep(0.02)

    def command(self, *args: str) -> object:
        """One command in RESP; the reply as a str, int, None or list."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
            s.sendall(request.encode())
            return _reply(s.makefile("rb"))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def _reply(f) -> object:  # type: ignore[no-untyped-def]
    line = f.readline().decode().rstrip("\r\n")
    kind, rest = line[0], line[1:]
    if kind == "+":
        return rest
    if kind == "-":
        raise RuntimeError(f"redis: {rest}")
    if kind == ":":
        return int(rest)
    if kind == "$":
        return None if rest == "-1" else f.read(int(rest) + 2)[:-2].decode()
    if kind == "*":
        return [_reply(f) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected reply {line!r}")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def limited_app(url: str, calls: list, **options) -> App:
    """`/` limited to 2 per hour per client as the policy `api`, `/other` as `other`, both in
    the Redis at `url` under the prefix `test:rl:`; `calls` records which handlers ran."""
    app = App()

    @app.get("/")
    @rate_limit("2/hour", redis=url, redis_prefix="test:rl:", name="api", **options)
    async def index() -> str:
        calls.append("index")
        return "index"

    @app.get("/other")
    @rate_limit("2/hour", redis=url, redis_prefix="test:rl:", name="other", **options)
    async def other() -> str:
        calls.append("other")
        return "other"

    return app


def test_two_apps_and_another_process_share_one_budget(redis: RedisServer) -> None:
    calls_a: list = []
    calls_b: list = []
    with TestClient(limited_app(redis.url, calls_a)) as a, TestClient(limited_app(redis.url, calls_b)) as b:
        first = a.get("/")
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == '"api";q=2;w=3600'
        assert re.fullmatch(r'"api";r=1;t=\d+', first.headers["ratelimit"])
        # The other app (its own engine, store and connections) sees the first one's request.
        second = b.get("/")
        assert second.status_code == 200
        assert re.fullmatch(r'"api";r=0;t=\d+', second.headers["ratelimit"])
        for client in (a, b):
            refused = client.get("/")
            assert refused.status_code == 429
            # The quota's answer (a replenished request in about 30 minutes), not the
            # failure policy's (1 s, without RateLimit headers).
            assert 1700 < int(refused.headers["retry-after"]) <= 1800
            assert re.fullmatch(r'"api";r=0;t=\d+', refused.headers["ratelimit"])
        assert calls_a == calls_b == ["index"]
        # Another name is another budget, in the same Redis.
        assert a.get("/other").status_code == 200
        assert calls_a == ["index", "other"]

    # The keys are `{redis_prefix}{name}:{client}`.
    keys = sorted(redis.command("KEYS", "*"))  # type: ignore[arg-type]
    assert [k.rsplit(":", 1)[0] for k in keys] == ["test:rl:api", "test:rl:other"]

    # A separate process (as another worker or machine would be) is refused too.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_rate_limit_redis import limited_app
        from armature import TestClient
        calls = []
        res = TestClient(limited_app({redis.url!r}, calls)).get("/")
        print(res.status_code, res.headers.get("ratelimit"), calls)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r'429 "api";r=0;t=\d+ \[\]\n', out.stdout), out.stdout


@pytest.mark.parametrize("policy", [None, "open", "closed"])
def test_while_redis_is_down_the_failure_policy_decides(redis: RedisServer, policy: Optional[str]) -> None:
    calls: list = []
    options = {} if policy is None else {"redis_on_failure": policy}
    with TestClient(limited_app(redis.url, calls, **options)) as client:
        up = client.get("/")
        assert up.status_code == 200
        assert re.fullmatch(r'"api";r=1;t=\d+', up.headers["ratelimit"])
        redis.stop()
        answers = [client.get("/") for _ in range(3)]
    if policy == "closed":
        # Refused although one request of the quota is left: the layer cannot count.
        assert [r.status_code for r in answers] == [429, 429, 429]
        assert [r.headers["retry-after"] for r in answers] == ["1", "1", "1"]
        assert calls == ["index"]
    else:
        # "open", the default: admitted, though this is more than the quota of 2.
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert all("retry-after" not in r.headers for r in answers)
        assert calls == ["index"] * 4
    # The failure policy decided: there are no counts to report.
    assert all("ratelimit" not in r.headers and "ratelimit-policy" not in r.headers for r in answers)


def test_redis_down_at_start_is_not_a_build_error() -> None:
    # Nothing listens on this port; the store connects on the first request, not when built.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls: list = []
    with TestClient(limited_app(f"redis://127.0.0.1:{port}/0", calls, redis_on_failure="closed")) as client:
        res = client.get("/")
    assert (res.status_code, res.headers["retry-after"], calls) == (429, "1", [])


def test_bad_redis_options_are_errors_when_the_app_is_built() -> None:
    with pytest.raises(TypeError, match=r"redis_on_failure only apply with redis='redis://\.\.\.'"):
        rate_limit("1/hour", redis_on_failure="closed")
    with pytest.raises(TypeError, match=r"redis_on_failure and redis_prefix only apply with redis="):
        rate_limit("1/hour", redis_on_failure="open", redis_prefix="x:")
    with pytest.raises(TypeError, match=r"redis must be a URL like 'redis://127\.0\.0\.1:6379/0', not 6379"):
        rate_limit("1/hour", redis=6379)  # type: ignore[arg-type]

    cases = [
        ({"redis": "http://not-redis/"}, r"^invalid rate limit: rate-limit Redis store: "),
        ({"redis": "not a url"}, r"^invalid rate limit: rate-limit Redis store: "),
        (
            {"redis": "redis://127.0.0.1:6379/0", "redis_on_failure": "maybe"},
            r'^invalid rate limit: redis_on_failure: unknown Redis failure policy "maybe": use "open" .* or "closed"',
        ),
        (
            {"redis": "redis://127.0.0.1:6379/0", "name": "two words"},
            r'^invalid rate limit: invalid rate-limit policy name "two words"',
        ),
    ]
    for options, message in cases:
        app = App()

        @app.get("/")
        @rate_limit("1/hour", **options)
        async def index() -> str:
            return "x"

        with pytest.raises(ValueError, match=message):
            app.build_engine()
        with pytest.raises(ValueError, match=message):
            TestClient(app)
