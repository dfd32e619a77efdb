"""Armature (this repository's Python package) for the load test: the three endpoints as
Python handlers, with no optional middleware, like the other peers here. Request ids stay on
(the binding's preset stack always has them); `examples/python/hello.py` is the same app with
the logger and CORS layers added (`armature-py-stack` in run.sh).

    python benches/load/python/armature_app.py --port 18100
"""

import argparse
import os

from armature import App, HttpRequest, HttpResponse, Router

router = Router()


@router.get("/plaintext")
async def plaintext() -> HttpResponse:
    return HttpResponse.text("Hello, World!")


@router.get("/json")
async def json_message() -> dict:
    return {"message": "Hello, World!"}


@router.get("/users/{user_id}")
async def get_user(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"id": req.param("user_id"), "name": "Alice"})


app = App()
app.include_router(router)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "18100")))
    args = parser.parse_args()
    app.run(args.host, args.port)
