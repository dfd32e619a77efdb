"""The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`): validated with
openapi-spec-validator, served through the whole Rust stack and by a real server."""

from __future__ import annotations

from typing import Annotated, List, Optional

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from apps import build
from armature import APIRouter, App, Body, Cookie, Depends, File, Form, Header, HttpRequest, HttpResponse, Path, Query, TestClient, UploadFile


@pytest.fixture(scope="module", params=["testclient", "http"])
def client(request):
    if request.param == "testclient":
        with TestClient(build()) as c:
            yield c
    else:
        server = request.getfixturevalue("server")
        with httpx.Client(base_url=server.url, timeout=30) as c:
            yield c


def test_the_test_apps_document_is_valid_and_served_as_built(client):
    res = client.get("/openapi.json")
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/json"
    served = res.json()
    validate(served)
    assert served == build().openapi()
    assert served["openapi"] == "3.1.0"
    assert "/params/items/{item_id}" in served["paths"]


def test_swagger_ui_is_served_offline_beside_the_routes(client):
    res = client.get("/docs", follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == "/docs/"
    page = client.get("/docs/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in page.text
    assert "https://" not in page.text  # nothing loaded from another origin
    initializer = client.get("/docs/swagger-initializer.js")
    assert initializer.status_code == 200
    assert "/openapi.json" in initializer.text
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/plaintext").text == "Hello, World!"


class Address(BaseModel):
    city: str


class Customer(BaseModel):
    name: str
    address: Address


class Receipt(BaseModel):
    id: int
    customer: Customer


class Message(BaseModel):
    detail: str


def current_user(x_token: str = Header(description="the session token")) -> str:
    return x_token


shop = APIRouter(prefix="/shop", tags=["shop"])


@shop.post("/customers/{region}", status_code=201, summary="Create a customer", responses={409: {"model": Message, "description": "Already there"}})
async def create_customer(
    region: Annotated[str, Path(pattern="^[a-z]+$")],
    customer: Customer,
    dry_run: bool = Query(False, description="check only"),
    user: str = Depends(current_user),
) -> Receipt:
    """Creates the customer, once."""
    return Receipt(id=1, customer=customer)


@shop.get("/customers", tags=["listing"], deprecated=True, operation_id="listCustomers")
async def list_customers(page: int = Query(1, ge=1), session: Optional[str] = Cookie(None), tag: List[str] = Query([])) -> List[Customer]:
    return []


@shop.put("/notes/{note_id}")
async def put_note(note_id: int, text: str = Body(embed=True), pinned: bool = Body(False)) -> HttpResponse:
    return HttpResponse.json({})


@shop.post("/login")
async def login(username: str = Form(), password: str = Form()) -> dict:
    return {}


@shop.post("/avatar")
async def avatar(image: UploadFile = File(), caption: str = Form("")) -> dict:
    return {}


@shop.get("/raw/{*rest}")
async def raw(req: HttpRequest) -> HttpResponse:
    return HttpResponse.text(req.param("rest"))


@shop.get("/hidden", include_in_schema=False)
async def hidden() -> dict:
    return {}


legacy = APIRouter(prefix="/legacy")


@legacy.get("/ping", responses={200: {"description": "pong"}})
async def ping() -> dict:
    return {}


@legacy.get("/internal")
async def internal() -> dict:
    return {}


def shop_app(**options) -> App:
    app = App(title="Shop", version="2.0.0", description="Customers and receipts", **options)
    app.include_router(shop, tags=["v1"])
    app.include_router(legacy, deprecated=True, responses={404: {"description": "Gone"}, 200: {"description": "ignored: the route's own wins"}})
    return app


def test_operations_describe_what_the_handlers_read():
    doc = shop_app().openapi()
    validate(doc)
    assert doc["info"] == {"title": "Shop", "version": "2.0.0", "description": "Customers and receipts"}
    paths = doc["paths"]
    assert "/shop/hidden" not in paths

    create = paths["/shop/customers/{region}"]["post"]
    assert create["tags"] == ["v1", "shop"]
    assert create["summary"] == "Create a customer"
    assert create["description"] == "Creates the customer, once."
    assert create["operationId"] == "create_customer_shop_customers__region__post"
    by_name = {p["name"]: p for p in create["parameters"]}
    assert by_name["region"]["in"] == "path" and by_name["region"]["schema"]["pattern"] == "^[a-z]+$"
    assert by_name["dry_run"] == {"name": "dry_run", "in": "query", "required": False, "schema": {"type": "boolean", "title": "Dry Run", "default": False}, "description": "check only"}
    # A dependency's parameters are the operation's too.
    assert by_name["x-token"]["in"] == "header" and by_name["x-token"]["required"] is True
    assert create["requestBody"] == {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Customer"}}}, "required": True}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Receipt"}
    assert create["responses"]["409"]["description"] == "Already there"
    assert create["responses"]["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Message"}
    assert doc["components"]["schemas"]["Message"]["properties"]["detail"]["type"] == "string"
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HTTPValidationError"}
    schemas = doc["components"]["schemas"]
    assert {"Address", "Customer", "Receipt", "HTTPValidationError", "ValidationError"} <= set(schemas)
    assert schemas["Customer"]["properties"]["address"] == {"$ref": "#/components/schemas/Address"}

    listing = paths["/shop/customers"]["get"]
    assert listing["tags"] == ["v1", "shop", "listing"]
    assert listing["deprecated"] is True
    assert listing["operationId"] == "listCustomers"
    by_name = {p["name"]: p for p in listing["parameters"]}
    assert by_name["page"]["schema"]["minimum"] == 1
    assert by_name["session"]["in"] == "cookie" and by_name["session"]["required"] is False
    assert by_name["tag"]["schema"]["type"] == "array"
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Customer"}}

    note = paths["/shop/notes/{note_id}"]["put"]
    body = note["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"text", "pinned"} and body["required"] == ["text"]
    assert "content" not in note["responses"]["200"]  # an HttpResponse: no schema to promise

    login_form = paths["/shop/login"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert login_form["required"] == ["username", "password"]
    upload = paths["/shop/avatar"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["image"] == {"type": "string", "format": "binary"}

    # include_router's documentation applies to the routes it includes, beneath their own.
    ping_op = paths["/legacy/ping"]["get"]
    assert ping_op["deprecated"] is True
    assert ping_op["responses"]["404"] == {"description": "Gone"}
    assert ping_op["responses"]["200"]["description"] == "pong"
    hidden_app = App()
    hidden_app.include_router(legacy, include_in_schema=False)
    assert hidden_app.openapi()["paths"] == {}
    with pytest.raises(TypeError, match="include_router: unexpected keyword argument 'prefx'"):
        App().include_router(legacy, prefx="/x")

    # A catch-all the handler reads itself is still a declared path parameter.
    raw_op = paths["/shop/raw/{rest}"]["get"]
    assert raw_op["parameters"] == [{"name": "rest", "in": "path", "required": True, "schema": {"type": "string", "title": "Rest"}}]
    assert "422" not in raw_op["responses"]


class Inner(BaseModel):
    code: int


class Outer(BaseModel):
    inner: Inner


def _refs(node) -> list:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_models_of_extra_responses_are_defined_with_the_models_they_hold():
    app = App()

    # `Inner` is used nowhere else: only through `Outer`, the model of an extra response.
    @app.get("/thing", responses={404: {"model": Outer, "description": "Not there"}, 409: {"model": List[Outer]}})
    async def thing() -> dict:
        return {}

    doc = app.openapi()
    validate(doc)
    responses = doc["paths"]["/thing"]["get"]["responses"]
    assert responses["404"] == {"description": "Not there", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outer"}}}}
    assert responses["409"]["content"]["application/json"]["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Outer"}}
    schemas = doc["components"]["schemas"]
    assert schemas["Outer"]["properties"]["inner"] == {"$ref": "#/components/schemas/Inner"}
    assert schemas["Inner"]["properties"]["code"]["type"] == "integer"
    # Every reference resolves.
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_docs_can_be_moved_or_turned_off():
    with TestClient(shop_app(openapi_url="/api/spec.json", docs_url="/api/docs")) as c:
        assert c.get("/api/spec.json").json()["info"]["title"] == "Shop"
        assert "/api/spec.json" in c.get("/api/docs/swagger-initializer.js").text
        assert c.get("/openapi.json").status_code == 404
    with TestClient(shop_app(docs_url=None)) as c:
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/docs/").status_code == 404
    with TestClient(shop_app(openapi_url=None, docs_url=None)) as c:
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/docs/").status_code == 404
        assert c.get("/shop/customers").json() == []
    with pytest.raises(ValueError, match="docs_url"):
        App(docs_url="docs")
    # With a trailing slash, as FastAPI serves it; "//" is refused as "/" is.
    with TestClient(shop_app(docs_url="/api/docs/")) as c:
        assert "/openapi.json" in c.get("/api/docs/swagger-initializer.js").text
        assert c.get("/api/docs/").status_code == 200
    with pytest.raises(ValueError, match="a path of its own"):
        shop_app(docs_url="//").build_engine()
    # FastAPI's way to turn them off (its "Conditional OpenAPI": an empty URL from settings).
    for off in (None, ""):
        with TestClient(shop_app(openapi_url=off)) as c:
            assert (c.get("/openapi.json").status_code, c.get("/docs/").status_code) == (404, 404)
            assert c.get("/shop/customers").json() == []
    with TestClient(shop_app(docs_url="")) as c:
        assert (c.get("/openapi.json").status_code, c.get("/docs/").status_code) == (200, 404)
    with pytest.raises(ValueError, match="turns off both"):
        App(openapi_url=None, docs_url="/docs")
    # A route of the app at the document's own path is a conflict, named when the app is built.
    app = shop_app(docs_url=None)

    @app.get("/openapi.json")
    async def mine() -> dict:
        return {}

    with pytest.raises(ValueError, match="openapi.json"):
        with TestClient(app):
            pass


def test_root_path_prefixes_the_docs_links_and_the_servers_not_the_routes():
    # Behind a proxy that serves the app under /shop-api and strips the prefix, as FastAPI's
    # root_path: the routes and the docs are answered where they were declared, while the
    # links the browser follows and the document's servers carry the prefix.
    with TestClient(shop_app(root_path="/shop-api/")) as c:
        doc = c.get("/openapi.json").json()
        assert doc["servers"] == [{"url": "/shop-api"}]
        validate(doc)
        res = c.get("/docs", follow_redirects=False)
        assert (res.status_code, res.headers["location"]) == (303, "/shop-api/docs/")
        assert "/shop-api/openapi.json" in c.get("/docs/swagger-initializer.js").text
        assert c.get("/shop/customers").json() == []
    # Listed servers keep theirs, after the prefix; root_path_in_servers=False leaves it out.
    with TestClient(shop_app(root_path="/p", servers=[{"url": "https://shop.example"}])) as c:
        assert c.get("/openapi.json").json()["servers"] == [{"url": "/p"}, {"url": "https://shop.example"}]
    with TestClient(shop_app(root_path="/p", root_path_in_servers=False)) as c:
        assert "servers" not in c.get("/openapi.json").json()
    with pytest.raises(ValueError, match="root_path"):
        App(root_path="api")


def test_redoc_url_is_not_silently_ignored(caplog):
    with caplog.at_level("WARNING", logger="armature"):
        App(redoc_url=None)
        App()
    assert caplog.records == []
    with caplog.at_level("WARNING", logger="armature"):
        App(redoc_url="/redoc")
    assert [r.getMessage() for r in caplog.records] == [
        "App(redoc_url='/redoc'): Armature serves no ReDoc page, so nothing is served there; "
        "Swagger UI is at docs_url ('/docs'). Pass redoc_url=None to silence this."
    ]


def test_a_document_that_cannot_be_built_is_logged_and_the_app_still_serves(caplog):
    app = App()

    @app.get("/odd", responses={404: "not a mapping"})
    async def odd() -> dict:
        return {"ok": True}

    with caplog.at_level("ERROR", logger="armature"), TestClient(app) as c:
        assert c.get("/odd").json() == {"ok": True}
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/docs/").status_code == 404
    assert "Could not build the OpenAPI document" in caplog.text


def test_response_class_renders_what_the_handler_returns():
    # FastAPI's `response_class=HTMLResponse` and friends, with Armature's renderers.
    app = App()

    @app.get("/page", response_class=HttpResponse.html)
    async def page() -> str:
        return "<h1>hi</h1>"

    @app.get("/plain", response_class=HttpResponse.text, status_code=202)
    def plain() -> str:
        return "accepted"

    @app.get("/own", response_class=HttpResponse.html)
    async def own() -> HttpResponse:
        return HttpResponse.json({"kept": True})

    with TestClient(app) as c:
        res = c.get("/page")
        assert (res.status_code, res.headers["content-type"], res.text) == (200, "text/html; charset=utf-8", "<h1>hi</h1>")
        res = c.get("/plain")
        assert (res.status_code, res.headers["content-type"], res.text) == (202, "text/plain; charset=utf-8", "accepted")
        assert c.get("/own").json() == {"kept": True}  # an HttpResponse goes as it is
        doc = c.get("/openapi.json").json()
        assert doc["paths"]["/page"]["get"]["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}
        validate(doc)
    with pytest.raises(TypeError, match="response_class=.*HTMLResponse"):

        @app.get("/bad", response_class=dict)
        async def bad() -> dict:
            return {}


def test_generate_unique_id_function_names_the_operations_as_in_fastapi():
    # FastAPI's "Generate Clients": operation ids from the route's first tag and name.
    def by_tag(route) -> str:
        return f"{route.tags[0]}-{route.name}"

    def shouted(route) -> str:
        return f"{route.name.upper()}_{sorted(route.methods)[0]}_{route.path_format}"

    app = App(generate_unique_id_function=by_tag)
    items = APIRouter(tags=["items"])
    users = APIRouter(tags=["users"], generate_unique_id_function=shouted)

    @items.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict:
        return {}

    @items.post("/items", operation_id="make_item")  # an explicit one wins
    async def create_item() -> dict:
        return {}

    @users.get("/users")
    async def list_users() -> list:
        return []

    @app.get("/health", tags=["ops"], name="ping")
    async def health() -> dict:
        return {}

    app.include_router(items)
    app.include_router(users, prefix="/v1")
    other = APIRouter(tags=["other"])

    @other.get("/other")
    async def other_route() -> dict:
        return {}

    app.include_router(other, generate_unique_id_function=lambda route: "from-include")
    paths = app.openapi()["paths"]
    assert paths["/items/{item_id}"]["get"]["operationId"] == "items-read_item"
    assert paths["/items"]["post"]["operationId"] == "make_item"
    assert paths["/v1/users"]["get"]["operationId"] == "LIST_USERS_GET_/v1/users"
    assert paths["/health"]["get"]["operationId"] == "ops-ping"
    assert paths["/other"]["get"]["operationId"] == "from-include"
    validate(app.openapi())


def test_status_codes_given_as_int_enums_are_numbers_in_the_document():
    import enum

    class Status(enum.IntEnum):  # as `http.HTTPStatus` is written before Python 3.11
        CREATED = 201
        NOT_FOUND = 404

        def __str__(self) -> str:
            return f"Status.{self.name}"

    app = App()

    @app.post("/things", status_code=Status.CREATED, responses={Status.NOT_FOUND: {"description": "gone"}})
    async def make() -> dict:
        return {}

    with TestClient(app) as c:
        assert c.post("/things").status_code == 201
    responses = app.openapi()["paths"]["/things"]["post"]["responses"]
    assert set(responses) == {"201", "404"} and responses["404"]["description"] == "gone"
    validate(app.openapi())


def test_parameters_marked_include_in_schema_false_are_left_out_of_the_document():
    # FastAPI's "Exclude parameters from OpenAPI": still read, just not described.
    app = App()

    @app.get("/items")
    async def items(
        q: Optional[str] = None,
        debug: Optional[str] = Query(None, include_in_schema=False),
        x_internal: Optional[str] = Header(None, include_in_schema=False),
        trace: Annotated[Optional[int], Cookie(include_in_schema=False)] = None,
    ) -> dict:
        return {"debug": debug, "internal": x_internal, "trace": trace}

    @app.get("/hidden-only")
    async def hidden_only(n: int = Query(1, include_in_schema=False)) -> dict:
        return {"n": n}

    with TestClient(app) as c:
        assert c.get("/items?debug=1", headers={"x-internal": "y"}, cookies={"trace": "3"}).json() == {"debug": "1", "internal": "y", "trace": 3}
        assert c.get("/hidden-only?n=x").status_code == 422
    operation = app.openapi()["paths"]["/items"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["q"]
    hidden = app.openapi()["paths"]["/hidden-only"]["get"]
    assert "parameters" not in hidden and "422" in hidden["responses"]
    validate(app.openapi())
