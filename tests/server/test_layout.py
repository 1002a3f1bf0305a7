"""The server's packages stay free of import cycles with no import exempted.

Each case plants, in a copy of the tree, one import of the kind that used to close a
cycle (docs/server-layout.md); the import-linter contract must now refuse it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT = "No cycles are allowed in zhishiyun_server."


def _lint_with(tmp_path: Path, module: str, extra: str) -> subprocess.CompletedProcess:
    """Run lint-imports over a copy of the packages where ``module`` ends with ``extra``."""
    for package in ("zhishiyun", "zhishiyun_server", "zhishiyun_formats"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + "\n\n" + extra, encoding="utf-8")
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(tmp_path / "pyproject.toml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(("module", "back_import", "packages"), [
    # A feature's admin commands reaching the admin entry (which registers them).
    ("zhishiyun_server/face/admin.py", "from zhishiyun_server.admin import COMMANDS",
     (".face", ".admin")),
    # The core recordings reaching the integrity feature (whose report reads them).
    ("zhishiyun_server/recordings.py", "from zhishiyun_server.integrity import report",
     (".recordings", ".integrity")),
    # The core schemas reaching the integrity settings (which fill one of them).
    ("zhishiyun_server/schemas.py", "from zhishiyun_server.integrity import settings",
     (".schemas", ".integrity")),
], ids=["feature_admin_to_admin", "recordings_to_integrity", "schemas_to_integrity"])
def test_an_import_that_used_to_close_a_cycle_breaks_the_contract(
        tmp_path, module, back_import, packages):
    planted = f"def _planted():\n    {back_import}\n    return None\n"
    result = _lint_with(tmp_path, module, planted)
    assert result.returncode != 0, result.stdout[-2000:]
    assert CONTRACT in result.stdout
    assert any(f"{a} -> {b}" in result.stdout or f"{b} -> {a}" in result.stdout
               for a, b in [packages]), result.stdout[-2000:]
