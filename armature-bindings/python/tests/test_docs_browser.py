"""A real browser is the judge of `/docs`: headless Chromium (Debian's, through puppeteer-core)
opens Swagger UI of a live Python app with every request to any other origin blocked, reads
the operations it lists, and runs try-it-out on them against the server: a GET with a path and
a query parameter, a POST with a Pydantic model body, and the same POST with a bad body.

The driver is armature-openapi's (`armature-openapi/tests/js/docs.mjs`, shared with the Rust
docs layer's browser test); it reports what the page shows and this test decides.

Needs Node.js, Debian's `chromium` and `npm ci` in `armature-openapi/tests/js/` (.ci/test-all
installs them); without them this test fails saying what to install, as the Rust one does.
`CHROMIUM` overrides the browser path, `NODE` the node binary.

This file is also the app's script: `python tests/test_docs_browser.py --port 0` serves it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from armature import App
from conftest import Server

HERE = Path(__file__).resolve().parent
DRIVER_DIR = HERE.parents[2] / "armature-openapi" / "tests" / "js"


class Pet(BaseModel):
    name: str
    age: int


def pets_app() -> App:
    app = App(title="Pets", version="1.0.0")

    @app.get("/pets/{pet_id}", tags=["pets"])
    async def read_pet(pet_id: int, greeting: str = "hello") -> dict:
        # Values only this handler computes, so the page cannot show them from anywhere else.
        return {"pet_id": pet_id, "twice": pet_id * 2, "greeting": greeting.upper()}

    @app.post("/pets", tags=["pets"], status_code=201)
    async def create_pet(pet: Pet) -> Pet:
        return pet

    return app


def node() -> str:
    """Node.js with the driver's npm packages, or a failure saying how to get them."""
    node = os.environ.get("NODE", "node")
    try:
        ok = subprocess.run([node, "--version"], capture_output=True).returncode == 0
    except OSError:
        ok = False
    if not ok:
        pytest.fail("this test needs Node.js (>= 18) on PATH (or NODE=/path/to/node): `apt-get install -y nodejs npm`")
    if not (DRIVER_DIR / "node_modules" / "puppeteer-core" / "package.json").exists():
        pytest.fail(f"this test needs its npm packages: run `npm ci` in {DRIVER_DIR}")
    return shutil.which(node) or node


def chromium() -> str:
    """Debian's Chromium (`CHROMIUM` overrides), or a failure saying how to install it."""
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"this test needs Chromium at {path} (or CHROMIUM=/path/to/chromium): "
            "`apt-get update && apt-get install -y chromium` (never a downloaded browser)"
        )
    return path


def drive(config: dict, dir: Path, limit: float = 180) -> dict:
    """Runs the driver on `config`, in its own process group (killed, browser and all, after
    `limit` seconds), and returns what it reported."""
    config_path, out_path = dir / "config.json", dir / "out.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [node(), str(DRIVER_DIR / "docs.mjs"), str(config_path), str(out_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CHROMIUM": chromium()},
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the browser driver did not finish within {limit}s:\n{stderr.decode()}")
    try:
        out = json.loads(out_path.read_text())
    except (OSError, ValueError):
        pytest.fail(f"the browser driver wrote no results (exit {proc.returncode}):\n{stdout.decode()}{stderr.decode()}")
    print(json.dumps(out, indent=2))
    assert proc.returncode == 0 and out["failure"] is None, f"the browser driver failed: {out['failure']}\n{stderr.decode()}"
    return out


@pytest.fixture(scope="module")
def pets_server():
    srv = Server(script=Path(__file__))
    yield srv
    srv.stop()


def test_chromium_runs_try_it_out_from_the_offline_docs_page(pets_server, tmp_path):
    origin = pets_server.url
    operation = "operations-pets-{}".format
    read_pet, create_pet = operation("read_pet_pets__pet_id__get"), operation("create_pet_pets_post")
    out = drive(
        {
            "page": f"{origin}/docs",
            "origin": origin,
            "screenshot": str(tmp_path / "docs.png"),
            "steps": [
                {"operation": read_pet, "params": {"pet_id": "42", "greeting": "hi there"}},
                {"operation": create_pet, "body": '{"name": "Rex", "age": "3"}'},
                {"operation": create_pet, "body": '{"name": "Rex", "age": "old"}'},
            ],
        },
        tmp_path,
    )
    # Nothing but the server was asked for anything: the page works with no network.
    assert out["blocked"] == [], "requests to other origins"
    # Swagger UI read the whole document: no resolver or parser errors shown.
    assert out["errors"] == ""
    assert out["operations"] == [
        {"id": read_pet, "method": "GET", "path": "/pets/{pet_id}"},
        {"id": create_pet, "method": "POST", "path": "/pets"},
    ]

    got, created, refused = out["results"]
    # The GET went where the document says, the query encoded, and the handler answered.
    assert got["url"] == f"{origin}/pets/42?greeting=hi%20there"
    assert got["status"] == "200"
    assert json.loads(got["body"]) == {"pet_id": 42, "twice": 84, "greeting": "HI THERE"}
    # The body went as JSON and came back through the model ("3" became 3).
    assert created["url"] == f"{origin}/pets"
    assert created["status"] == "201"
    assert json.loads(created["body"]) == {"name": "Rex", "age": 3}
    # A body the model refuses: the 422 the document promises, shown as documented.
    assert refused["status"] == "422"
    detail = json.loads(refused["body"])["detail"]
    assert [(d["loc"], d["type"]) for d in detail] == [(["body", "age"], "int_parsing")]

    # Every try-it-out really reached the live server, after the page and its document.
    requests = out["requests"]
    for expected in [f"GET {origin}/docs/", f"GET {origin}/openapi.json", f"GET {origin}/pets/42?greeting=hi%20there"]:
        assert expected in requests
    assert requests.count(f"POST {origin}/pets") == 2
    assert (tmp_path / "docs.png").read_bytes().startswith(b"\x89PNG")


if __name__ == "__main__":
    from apps import serve

    serve(pets_app())
