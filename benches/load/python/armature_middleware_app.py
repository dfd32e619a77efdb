"""Armature's Python package with one `@app.middleware("http")` function that only calls
`call_next`: what an HTTP middleware costs a request (an A/B input for `benches/load/ab.sh`,
not a peer of run.sh).

    python benches/load/python/armature_middleware_app.py --port 3000
    curl localhost:3000/users/42       # {"id":"42","name":"Alice"}
"""

import argparse

from armature import App, HttpRequest, HttpResponse, Router

router = Router()


@router.get("/plaintext")
async def plaintext() -> HttpResponse:
    return HttpResponse.text("Hello, World!")


@router.get("/users/{user_id}")
async def get_user(req: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"id": req.param("user_id"), "name": "Alice"})


app = App()


@app.middleware("http")
async def passthrough(request, call_next):
    return await call_next(request)


app.include_router(router)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    app.run("127.0.0.1", args.port)
