"""The phone page's tus-js-client is built from npm by the build step, never kept in git."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "zhishiyun_server" / "bindings" / "phone"
VENDOR = PAGE / "vendor"
NPM = REPO / "tests" / "interop" / "node_modules" / "tus-js-client"
PINNED = "4.3.1"


def test_the_build_step_puts_the_pinned_npm_build_and_its_licence_into_the_page():
    if shutil.which("npm") is None:
        require("npm", "the build step installs tus-js-client from the npm registry")
    done = subprocess.run(["sh", str(REPO / "scripts" / "build_phone_client.sh")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert f"tus-js-client {PINNED} built" in done.stdout
    assert json.loads((NPM / "package.json").read_text(encoding="utf-8"))["version"] == PINNED
    assert (VENDOR / "tus.min.js").read_bytes() == (NPM / "dist" / "tus.min.js").read_bytes()
    assert "MIT" in (VENDOR / "tus-js-client.LICENSE").read_text(encoding="utf-8")
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    assert html.index("vendor/tus.min.js") < html.index("phone.js")
    tracked = subprocess.run(["git", "ls-files", str(VENDOR)], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == "", "the build is not kept in git"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(VENDOR / "tus.min.js")],
                             cwd=REPO, check=False)
    assert ignored.returncode == 0, "the build is ignored by git"


def test_a_server_without_the_build_does_not_serve_the_phone_page_and_says_why(
        tmp_path, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from zhishiyun_server.app import create_app
    from zhishiyun_server.bindings import routes
    from zhishiyun_server.settings import ServerConfig

    page = tmp_path / "phone"
    shutil.copytree(PAGE, page, ignore=shutil.ignore_patterns("vendor"))
    monkeypatch.setattr(routes, "PHONE_DIR", page)
    with caplog.at_level(logging.ERROR, logger="zhishiyun_server.bindings.routes"):
        app = create_app(ServerConfig(db_url="sqlite://", data_dir=tmp_path / "data",
                                      migrate=False))
    assert "run ./bootstrap.sh setup" in caplog.text
    with TestClient(app) as client:
        reply = client.get("/phone/")
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "phone_page_unavailable"
    assert "./bootstrap.sh setup" in reply.json()["error"]["message"]
    app.state.engine.dispose()
