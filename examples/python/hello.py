"""The three benchmark endpoints through Python handlers, on Armature's Rust server and
preset stack (request id → logger → CORS → router).

    pip install ./armature-bindings/python
    python examples/python/hello.py --port 3000 [--workers N]
    curl localhost:3000/plaintext      # Hello, World!
    curl localhost:3000/json           # {"message":"Hello, World!"}
    curl localhost:3000/users/42       # {"id":"42","name":"Alice"}

Access logs go to stderr at `info`; `ARMATURE_LOG=warn` silences them (the load test does).
"""

import argparse
import os

from armature import App, CORSMiddleware, HttpRequest, HttpResponse, LoggerMiddleware, Router

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
app.add_middleware(LoggerMiddleware())
app.add_middleware(CORSMiddleware(allow_origins=["*"]))
app.include_router(router)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    app.run(args.host, args.port, workers=args.workers)
