"""The application the tests run, both through TestClient and on a real server
(`python tests/apps.py --port 0`)."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import dataclasses
import datetime
import decimal
import uuid
import os
import sys
import tempfile
import threading
import time
from typing import Annotated, AsyncIterator, Dict, Iterator, List, Optional, Set, Tuple

from pydantic import BaseModel, ConfigDict, Field

from armature import (
    APIRouter,
    App,
    BackgroundTask,
    BackgroundTasks,
    Body,
    CORSMiddleware,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    HttpRequest,
    HttpResponse,
    LoggerMiddleware,
    Path,
    Query,
    Router,
    UploadFile,
    WebSocket,
    rate_limit,
)
from armature.responses import FileResponse, StreamingResponse

# What dependencies, background tasks and hooks did, for the tests to read back.
EVENTS: List[str] = []
STATE: dict = {}


class User(BaseModel):
    name: str
    age: int


class Item(BaseModel):
    title: str
    price: float = 0.0


class FakeDb:
    def __init__(self) -> None:
        self.users: List[User] = []


DB = FakeDb()


def get_db() -> Iterator[FakeDb]:
    EVENTS.append("db:open")
    try:
        yield DB
    finally:
        EVENTS.append("db:close")


async def get_settings() -> dict:
    await asyncio.sleep(0)
    return {"greeting": "hi"}


async def get_session() -> AsyncIterator[str]:
    EVENTS.append("session:open")
    try:
        await asyncio.sleep(0)
        yield "session"
    finally:
        await asyncio.sleep(0)
        EVENTS.append("session:close")


CALLS = {"counted": 0}


def counted() -> int:
    CALLS["counted"] += 1
    return CALLS["counted"]


def needs_counted(n: int = Depends(counted)) -> int:
    return n


def current_user(token: Optional[str] = None) -> str:
    if token != "secret":
        raise HTTPException(401, "bad token", headers={"www-authenticate": "Bearer"})
    return "alice"


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


@router.get("/whoami")
async def whoami(request: HttpRequest) -> dict:
    client = request.client
    if client is None:
        return {"client": None}
    host, port = client  # a tuple too
    return {"client": [client.host, client.port == port and isinstance(port, int), host == client.host]}


@router.get("/items/{item_id}")
async def get_item(item_id: int, q: Optional[str] = None, limit: int = 10, flag: bool = False) -> dict:
    return {"item_id": item_id, "q": q, "limit": limit, "flag": flag}


@router.get("/orders/{order_id:int}")
async def get_order(order_id: int, req: HttpRequest) -> dict:
    # Starlette's convertor: an int, in `path_params` too; `/orders/abc` is a 404.
    return {"order_id": order_id, "params": repr(req.path_params)}


@router.get("/tags")
async def tags(tag: List[str] = []) -> list:  # noqa: B006 - FastAPI style
    return tag


@router.get("/sync")
def sync_handler(req: HttpRequest) -> dict:
    return {"thread": threading.current_thread().name, "loop_thread": STATE.get("loop_thread")}


@router.get("/model")
async def returns_model() -> User:
    return User(name="Bob", age=41)


@router.get("/keys")
async def keys() -> dict:
    return {1: "one", 2.5: "x", False: "f", None: "n", 'é"': [1, (2, 3)]}


@router.get("/list")
async def returns_list() -> list:
    return [1, "two", {"three": 3.5}, None, True]


@router.get("/custom")
async def custom() -> HttpResponse:
    res = HttpResponse(b"created!", status=201, headers={"x-custom": "yes"}, media_type="text/plain")
    res.set_header("x-more", "1")
    return res


@router.get("/boom")
async def boom() -> dict:
    raise RuntimeError("kaboom from the handler")


@router.get("/boom-late")
async def boom_late() -> dict:
    await asyncio.sleep(0.01)
    raise ValueError("late kaboom")


@router.get("/boom-sync")
def boom_sync() -> dict:
    raise KeyError("sync kaboom")


@router.get("/unserializable")
async def unserializable() -> object:
    return {"x": object()}


@router.get("/forbidden")
async def forbidden() -> dict:
    raise HTTPException(status_code=403, detail="nope")


@router.get("/sleep")
async def sleep(seconds: float = 0.2) -> dict:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@router.post("/echo")
async def echo(req: HttpRequest) -> HttpResponse:
    view = memoryview(req.body)
    return HttpResponse.json({
        "len": len(view),
        "readonly": view.readonly,
        "text": bytes(req.body).decode(),
        "request_id": req.request_id,
        "content_type": req.header("content-type"),
        "method": req.method,
        "route": req.route,
    })


@router.get("/stream")
async def stream() -> HttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0.01)
            yield f"chunk{i};".encode()

    return HttpResponse.stream(chunks(), media_type="text/plain")


# A large stream's progress, by tag: how many chunks its generator has made so far.
PRODUCED: Dict[str, int] = {}


@router.get("/stream/large/{tag}")
async def large_stream(tag: str) -> HttpResponse:
    """100 MiB in 64 KiB chunks, counted as they are made; `stream-closed:{tag}` once the
    generator is closed."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for _ in range(1600):
                PRODUCED[tag] = PRODUCED.get(tag, 0) + 1
                yield b"x" * 65536
        finally:
            EVENTS.append(f"stream-closed:{tag}")

    return HttpResponse.stream(chunks(), media_type="application/octet-stream")


@router.get("/stream/progress/{tag}")
async def stream_progress(tag: str) -> int:
    return PRODUCED.get(tag, 0)


@router.get("/stream/waiting/{tag}")
async def waiting_stream(tag: str) -> HttpResponse:
    """One chunk, then a wait for something that never comes (an event stream with nothing
    to say); `stream-closed:{tag}` once the generator is closed, then its background task."""
    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"first;"
            await asyncio.Event().wait()
            yield b"never"
        finally:
            EVENTS.append(f"stream-closed:{tag}")

    return StreamingResponse(chunks(), media_type="text/plain", background=BackgroundTask(EVENTS.append, f"stream-background:{tag}"))


# The files `/ranged/{name}` serves (Range requests), in a directory removed at exit; their
# bytes are these, for the tests to compare with. `large` is 3 MiB and a bit of a pattern
# that does not repeat at 64 KiB (the chunks the file is read in).
RANGED_FILES = {
    "small.txt": b"0123456789abcdefghijklmnopqrstuvwxyz",
    "large.bin": (bytes(range(251)) * (3 * 2**20 // 251 + 100))[: 3 * 2**20 + 12345],
    "empty.txt": b"",
}
_RANGED_DIR = tempfile.TemporaryDirectory(prefix="armature-ranged-")
for _name, _content in RANGED_FILES.items():
    with open(os.path.join(_RANGED_DIR.name, _name), "wb") as _file:
        _file.write(_content)


@router.get("/ranged/{name}")
async def ranged(name: str, status: int = 200) -> HttpResponse:
    """A `FileResponse` of one of `RANGED_FILES`, with `status` as its `status_code`."""
    return FileResponse(os.path.join(_RANGED_DIR.name, name), status_code=status)


@router.get("/ranged-sync/{name}")
def ranged_sync(name: str, session: str = Depends(get_session)) -> HttpResponse:
    """The same from a `def` handler behind a `yield` dependency (closed once it is sent)."""
    return FileResponse(os.path.join(_RANGED_DIR.name, name), filename=name)


@router.get("/deps")
async def deps(settings: dict = Depends(get_settings), a: int = Depends(counted), b: int = Depends(needs_counted), session: str = Depends(get_session)) -> dict:
    EVENTS.append("deps:handler")
    return {"greeting": settings["greeting"], "a": a, "b": b, "session": session}


@router.get("/me")
async def me(user: str = Depends(current_user)) -> dict:
    return {"user": user}


@router.get("/watch-disconnect/{tag}")
async def watch_disconnect(tag: str, req: HttpRequest) -> dict:
    """Works until its client goes away (up to 30 s), then records that it noticed."""
    EVENTS.append(f"watching:{tag}")
    for _ in range(3000):
        if await req.is_disconnected():
            EVENTS.append(f"disconnected:{tag}")
            return {"disconnected": True}
        await asyncio.sleep(0.01)
    EVENTS.append(f"never-disconnected:{tag}")
    return {"disconnected": False}


@router.get("/is-disconnected")
async def is_disconnected(req: HttpRequest) -> dict:
    return {"disconnected": await req.is_disconnected()}


@router.get("/events")
async def events() -> list:
    return EVENTS


@router.delete("/events")
async def clear_events() -> None:
    EVENTS.clear()


@router.get("/limited")
@rate_limit(2, per="minute")
async def limited() -> dict:
    EVENTS.append("limited:handler")
    return {"ok": True}


class _PyBuffer(ctypes.Structure):
    """CPython's `Py_buffer`, to read where a buffer-protocol exporter's bytes live."""

    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


def buffer_address(obj: object) -> int:
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = [ctypes.POINTER(_PyBuffer)]
    view = _PyBuffer()
    if get(obj, ctypes.byref(view), 0) != 0:
        raise BufferError("no buffer")
    try:
        return int(view.buf or 0)
    finally:
        release(ctypes.byref(view))


@router.post("/buffer")
async def buffer(req: HttpRequest) -> dict:
    body = req.body
    view = memoryview(body)
    return {
        "same_object": req.body is body,
        "exporter_is_body": view.obj is body,
        "first": buffer_address(body),
        "again": buffer_address(req.body),
        "a_copy": buffer_address(bytes(body)),
        "len": view.nbytes,
        "head": bytes(view[:4]).decode(),
    }


@router.post("/notify")
async def notify(tasks: BackgroundTasks, who: str = "x") -> dict:
    async def later(name: str) -> None:
        await asyncio.sleep(0.05)
        EVENTS.append(f"notified:{name}")

    def later_sync(name: str) -> None:
        EVENTS.append(f"notified-sync:{name}")

    tasks.add_task(later, who)
    tasks.add_task(later_sync, who)
    return {"queued": 2}


@router.get("/pid")
async def pid() -> dict:
    return {"pid": os.getpid()}


@router.get("/state")
async def state() -> dict:
    return {"started": STATE.get("started", False)}


api = APIRouter(prefix="/api/v1")


@api.post("/users", status_code=201)
async def create_user(user: User, db: FakeDb = Depends(get_db)) -> User:
    db.users.append(user)
    EVENTS.append(f"created:{user.name}")
    return user


@api.post("/orders")
async def create_order(user: User, item: Item) -> dict:
    return {"user": user.name, "item": item.title, "price": item.price}


@api.put("/users/{user_id}")
def replace_user(user_id: int, user: User) -> dict:
    return {"user_id": user_id, **user.model_dump()}


# Bad handler output and bad input: each answers, and the server lives on.
bad = APIRouter(prefix="/bad")


@bad.get("/exit-after-await")
async def exit_after_await() -> dict:
    await asyncio.sleep(0.01)
    raise SystemExit(4)


@bad.get("/interrupt-sync")
def interrupt_sync() -> dict:
    raise KeyboardInterrupt()


@bad.get("/content-type")
async def replaced_content_type() -> HttpResponse:
    return HttpResponse.json({"title": "x"}, status=400, headers={"Content-Type": "application/problem+json"})


@bad.get("/content-length/{length}")
async def declared_length(length: str) -> HttpResponse:
    return HttpResponse(b"body!", headers={"content-length": length})


@bad.get("/status/{code}")
async def any_status(code: int) -> HttpResponse:
    return HttpResponse(b"", status=code)


@bad.get("/stream/plain")
async def plain_stream() -> HttpResponse:
    return HttpResponse.stream(chunk.encode() for chunk in ["a", "b", "c"])


@bad.get("/stream/not-iterable")
async def not_iterable_stream() -> HttpResponse:
    return HttpResponse.stream(5)


@dataclasses.dataclass
class Point:
    x: int
    at: datetime.date


@bad.get("/not-a-number/{kind}")
async def not_a_number(kind: str) -> object:
    value = float(kind)  # "nan", "inf", "-inf"
    return HttpResponse.json({"value": value}) if kind == "inf" else {"nested": [value]}


class Reading(BaseModel):
    value: float
    note: Optional[str] = None


@bad.get("/model/{kind}")
async def model_reading(kind: str) -> object:
    # No response model: the model is sent as it is (Pydantic would write NaN as null).
    return Reading(value=float(kind))


@bad.get("/fastapi-types")
async def fastapi_types() -> dict:
    return {
        "when": datetime.datetime(2026, 12, 6, 12, 30, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 12, 6),
        "span": datetime.timedelta(minutes=1, seconds=30),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "price": decimal.Decimal("1.50"),
        "count": decimal.Decimal("3"),
        "tags": {"only"},
        "raw": b"bytes",
        "point": Point(1, datetime.date(2026, 1, 2)),
        datetime.date(2026, 12, 7): "a date key",
    }


class Aliased(BaseModel):
    user_name: str = Field(alias="userName")


@bad.get("/aliased/{how}")
async def aliased(how: str) -> object:
    """A model returned without a response model: sent by alias, as FastAPI's jsonable_encoder."""
    model = Aliased(userName="z")
    if how == "model":
        return model
    if how == "nested":
        return {"one": model, "many": [model]}
    return HttpResponse.json(model)


@bad.get("/big-ints")
async def big_ints() -> dict:
    """Integers beyond 64 bits: JSON numbers, as Python's json writes them."""
    return {"big": 2**70, "negative": [-(2**64) - 1], "edges": [2**63 - 1, 2**64 - 1, -(2**63)], 2**65: "key"}


@bad.get("/block")
def block(seconds: float = 60.0) -> dict:
    """A sync handler stuck in a blocking call (shutdown must not wait for it)."""
    EVENTS.append("blocking")
    time.sleep(seconds)
    return {"blocked": seconds}


@bad.get("/tags")
async def appending_tags(tag: List[str] = []) -> list:  # noqa: B006 - FastAPI style
    tag.append("seen")
    return tag


@bad.post("/items")
async def item_list(items: List[Item]) -> dict:
    return {"titles": [item.title for item in items]}


@bad.post("/counts")
async def counts(payload: Dict[str, int]) -> dict:
    return {"total": sum(payload.values())}


# Query(), Path(), Header() and Cookie(): FastAPI's parameter markers.
params = APIRouter(prefix="/params")


@params.get("/files/{file_path:path}")
async def file_at(file_path: str) -> dict:
    return {"file_path": file_path}


@params.get("/sync-files/{file_path:path}")
def file_at_sync(file_path: str, v: int = 1) -> dict:
    return {"file_path": file_path, "v": v}


@params.get("/kept/")
async def kept_root() -> dict:
    return {"own": True}


@params.get("/kept/{rest:path}")
async def kept_rest(rest: str) -> dict:
    return {"rest": rest}


@params.get("/search")
async def search(
    q: Annotated[Optional[str], Query(max_length=5)] = None,
    page: int = Query(1, ge=1, le=100),
    tags: List[str] = Query(default_factory=list, alias="tag"),
    sort: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
) -> dict:
    return {"q": q, "page": page, "tags": tags, "sort": sort}


@params.get("/items/{item_id}")
def constrained_item(item_id: Annotated[int, Path(gt=0)], size: float = Query(..., lt=10.5)) -> dict:
    return {"item_id": item_id, "size": size}


@params.get("/headers")
async def headers(
    user_agent: str = Header(),
    x_token: Annotated[List[str], Header()] = [],  # noqa: B006 - FastAPI style
    strange_header: Optional[str] = Header(None, convert_underscores=False),
    x_count: int = Header(0, alias="X-Count", ge=0),
) -> dict:
    return {"user_agent": user_agent, "x_token": x_token, "strange_header": strange_header, "x_count": x_count}


def session_user(session: str = Cookie()) -> str:
    return f"user-of-{session}"


@params.get("/cookie-header")
async def cookie_header(req: HttpRequest) -> dict:
    return {"header": req.header("cookie"), "all": req.headers.get("cookie"), "cookies": req.cookies}


@params.get("/cookies")
async def cookies(req: HttpRequest, user: str = Depends(session_user), theme: str = Cookie("light"), visits: Optional[int] = Cookie(None, ge=0)) -> dict:
    return {"user": user, "theme": theme, "visits": visits, "all": req.cookies}


@params.put("/items/{item_id}")
async def update_item(item_id: int, item: Annotated[Item, Body(embed=True)], importance: int = Body(gt=0), note: Optional[str] = Body(None, alias="comment")) -> dict:
    return {"item_id": item_id, "title": item.title, "importance": importance, "note": note}


@params.post("/embedded")
async def embedded_one(item: Item = Body(embed=True)) -> dict:
    return {"title": item.title}


@params.post("/score")
async def score(value: Annotated[float, Body(ge=0, le=1)]) -> dict:
    return {"value": value}


class Filter(BaseModel):
    """A model class as a dependency (`Depends()`): its fields are query parameters."""

    limit: int = Field(10, ge=1)
    q: Annotated[Optional[str], Field(max_length=3)] = None
    tags: List[str] = Field(default_factory=list)


@params.get("/filter")
async def filtered(f: Filter = Depends()) -> dict:
    return f.model_dump()


@params.get("/collections")
async def collections(
    tags: list = Query([]),
    unique: Set[int] = Query(set()),
    ordered: Tuple[int, ...] = Query(()),
    pair: Optional[Tuple[int, str]] = Query(None),
) -> dict:
    return {"tags": tags, "unique": sorted(unique), "types": [type(unique).__name__, type(ordered).__name__], "ordered": ordered, "pair": pair}


@params.post("/login")
async def login(username: str = Form(), password: Annotated[str, Form(min_length=3)] = "", scope: List[str] = Form([]), avatar: Optional[bytes] = Form(None)) -> dict:
    return {"username": username, "password": password, "scope": scope, "avatar": None if avatar is None else list(avatar)}


@params.post("/upload")
async def upload(files: List[UploadFile] = File(), raw: Optional[bytes] = File(None), note: str = Form("")) -> dict:
    described = []
    for f in files:
        data = await f.read()
        described.append({"name": f.filename, "type": f.content_type, "size": f.size, "head": data[:4].decode("latin-1")})
    return {"files": described, "raw": None if raw is None else raw.decode(), "note": note}


# response_model: answers validated and filtered through the declared type.
models = APIRouter(prefix="/models")


class UserOut(BaseModel):
    name: str
    nickname: Optional[str] = None


class UserInDB(UserOut):
    password_hash: str


@models.get("/me", response_model=UserOut)
async def me() -> UserInDB:
    return UserInDB(name="ann", password_hash="secret-hash")


@models.get("/annotated")
def annotated() -> List[UserOut]:  # the return annotation is the model; plain dicts are filtered too
    return [{"name": "bob", "password_hash": "x"}, UserInDB(name="cy", nickname="c", password_hash="y")]


@models.get("/no-none", response_model=UserOut, response_model_exclude_none=True)
async def no_none() -> dict:
    return {"name": "dee", "nickname": None}


@models.get("/unfiltered", response_model=None)
async def unfiltered() -> UserInDB:
    return UserInDB(name="eve", password_hash="kept")


@models.get("/wrong", response_model=UserOut)
async def wrong() -> dict:
    return {"nickname": "no name"}


@models.get("/raw", response_model=UserOut)
async def raw_response() -> HttpResponse:
    return HttpResponse.text("as it is")


# Failures at a handler's own `await` (the first one included) and in its dependencies'
# transactions: what a database session in a `yield` dependency sees.
failures = APIRouter(prefix="/failures")


class Teapot(Exception):
    pass


def transaction() -> Iterator[str]:
    EVENTS.append("tx:open")
    try:
        yield "tx"
    except Exception as exc:
        EVENTS.append(f"tx:rollback:{type(exc).__name__}")
        raise
    finally:
        EVENTS.append("tx:close")


def _fail() -> None:
    raise ValueError("failed in the pool")


@failures.get("/sync-http/{n}")
def sync_http(n: int, tx: str = Depends(transaction)) -> dict:
    raise HTTPException(404, f"no item {n}")


@failures.get("/sync-custom")
def sync_custom(tx: str = Depends(transaction)) -> dict:
    raise Teapot()


@failures.get("/first-await")
async def first_await() -> dict:
    try:
        await asyncio.get_running_loop().run_in_executor(None, _fail)
    except ValueError as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@failures.get("/first-await-tx")
async def first_await_tx(tx: str = Depends(transaction)) -> dict:
    await asyncio.get_running_loop().run_in_executor(None, _fail)
    return {}


class LazySession:
    def __init__(self) -> None:
        self.open = True


class LazyUser:
    """An ORM object whose relationship loads on first read, through its session."""

    def __init__(self, session: LazySession) -> None:
        self.session = session
        self.name = "ann"

    @property
    def items(self) -> List[str]:
        if not self.session.open:
            raise RuntimeError("lazy load after the session closed")
        return ["hat", "cap"]


class LazyUserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    items: List[str]


def lazy_session() -> Iterator[LazySession]:
    session = LazySession()
    try:
        yield session
    finally:
        session.open = False


@failures.get("/lazy", response_model=LazyUserOut)
def lazy(session: LazySession = Depends(lazy_session)) -> LazyUser:
    return LazyUser(session)


def build() -> App:
    app = App()
    app.add_middleware(LoggerMiddleware())
    app.add_middleware(CORSMiddleware(allow_origins=["https://app.example"], allow_methods=["GET", "PUT"], allow_headers=["x-api-key"], expose_headers=["x-request-id"]))
    app.include_router(router)
    app.include_router(api)
    app.include_router(bad)
    app.include_router(params)
    app.include_router(models)
    app.include_router(failures)

    @app.exception_handler(Teapot)
    def teapot(request: HttpRequest, exc: Teapot) -> HttpResponse:
        return HttpResponse.json({"detail": "short and stout"}, status=418)

    @app.websocket("/ws/echo")
    async def ws_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            async for text in websocket.iter_text():
                await websocket.send_text(f"echo: {text}")
        finally:
            print(f"websocket closed: {websocket.client_state.name}", flush=True)

    @app.on_event("startup")
    async def started() -> None:
        STATE["started"] = True
        STATE["loop_thread"] = threading.current_thread().name
        print("startup hook ran", flush=True)

    @app.on_event("shutdown")
    def stopped() -> None:
        print("shutdown hook ran", flush=True)

    return app


def serve(app: App) -> None:
    """Runs `app` on 127.0.0.1 as the command line says (`--port 0`: a free port); the
    server prints `serving on http://...`, which `conftest.Server` waits for."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shutdown-timeout", type=float, default=5.0)
    parser.add_argument("--fail-startup", action="store_true")
    parser.add_argument("--hang-shutdown", action="store_true")
    parser.add_argument("--ws-ping-interval", type=float, default=20.0)
    parser.add_argument("--ws-ping-timeout", type=lambda v: None if v == "none" else float(v), default=20.0)
    args = parser.parse_args()
    if args.fail_startup:

        @app.on_event("startup")
        def fail() -> None:
            raise RuntimeError("startup failed on purpose")

    if args.hang_shutdown:

        @app.on_event("shutdown")
        async def hang() -> None:
            print("hanging shutdown hook started", flush=True)
            await asyncio.sleep(3600)

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    app.run("127.0.0.1", args.port, workers=args.workers, threads=args.threads, shutdown_timeout=args.shutdown_timeout, ws_ping_interval=args.ws_ping_interval, ws_ping_timeout=args.ws_ping_timeout)


app = build()

if __name__ == "__main__":
    serve(app)
