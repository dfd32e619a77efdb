"""FastAPI peer for the load test: the three endpoints, served by uvicorn.

    uvicorn fastapi_app:app --app-dir benches/load/python --host 127.0.0.1 --port 18101 \
        --workers 1 --loop uvloop --http httptools --no-access-log
"""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json_message() -> dict:
    return {"message": "Hello, World!"}


@app.get("/users/{user_id}")
async def get_user(user_id: str) -> dict:
    return {"id": user_id, "name": "Alice"}
