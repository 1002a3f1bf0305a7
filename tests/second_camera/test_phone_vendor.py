"""The phone page ships the tus-js-client the interop tests install from npm, with its licence."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "zhishiyun_server" / "bindings" / "phone" / "vendor"
NPM = REPO / "tests" / "interop" / "node_modules" / "tus-js-client"


def test_the_vendored_tus_client_is_the_npm_build_with_its_licence():
    assert "MIT" in (VENDOR / "tus-js-client.LICENSE").read_text(encoding="utf-8")
    assert b"tus" in (VENDOR / "tus.min.js").read_bytes()[:400]
    html = (VENDOR.parent / "index.html").read_text(encoding="utf-8")
    assert html.index("vendor/tus.min.js") < html.index("phone.js")
    if not (NPM / "dist" / "tus.min.js").exists():
        require("npm packages", "tests/interop: npm ci (tus-js-client)")
    assert (VENDOR / "tus.min.js").read_bytes() == (NPM / "dist" / "tus.min.js").read_bytes(), \
        "run scripts/vendor_tus_js.sh"
