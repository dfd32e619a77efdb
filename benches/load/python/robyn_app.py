"""Robyn peer for the load test: the three endpoints, one process, one worker.

    python benches/load/python/robyn_app.py --port 18102
"""

import json
import os
import sys

from robyn import Headers, Response, Robyn

app = Robyn(__file__)

PLAIN = Headers({"content-type": "text/plain; charset=utf-8"})
JSON = Headers({"content-type": "application/json"})
MESSAGE = json.dumps({"message": "Hello, World!"}, separators=(",", ":"))


@app.get("/plaintext")
async def plaintext():
    return Response(status_code=200, headers=PLAIN, description="Hello, World!")


@app.get("/json")
async def json_message():
    return Response(status_code=200, headers=JSON, description=MESSAGE)


@app.get("/users/:user_id")
async def get_user(request):
    body = json.dumps({"id": request.path_params["user_id"], "name": "Alice"}, separators=(",", ":"))
    return Response(status_code=200, headers=JSON, description=body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "18102"))
    if "--port" in sys.argv:
        i = sys.argv.index("--port")
        port = int(sys.argv[i + 1])
        del sys.argv[i : i + 2]  # Robyn parses the rest (--processes, --workers)
    app.start(host="127.0.0.1", port=port)
