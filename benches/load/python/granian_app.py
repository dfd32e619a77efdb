"""Bare ASGI peer for the load test (no framework), served by Granian.

    granian --interface asgi --host 127.0.0.1 --port 18103 --workers 1 --loop uvloop \
        --no-ws --working-dir benches/load/python granian_app:app
"""

import json

PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]
JSON = [(b"content-type", b"application/json")]
MESSAGE = json.dumps({"message": "Hello, World!"}, separators=(",", ":")).encode()
PREFIX = "/users/"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/plaintext":
        status, headers, body = 200, PLAIN, b"Hello, World!"
    elif path == "/json":
        status, headers, body = 200, JSON, MESSAGE
    elif path.startswith(PREFIX) and "/" not in path[len(PREFIX):] and len(path) > len(PREFIX):
        user = path[len(PREFIX):]
        status, headers, body = 200, JSON, json.dumps({"id": user, "name": "Alice"}, separators=(",", ":")).encode()
    else:
        status, headers, body = 404, PLAIN, b"Not Found"
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
