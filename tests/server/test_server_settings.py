"""The server's settings: read from the environment in one place, checked at start-up."""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import zhishiyun_server

PACKAGE = Path(zhishiyun_server.__file__).resolve().parent
#: The one module allowed to read the process environment.
SETTINGS = PACKAGE / "settings.py"
_READERS = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(source: str) -> list[int]:
    """Line numbers where ``source`` reads the process environment through :mod:`os`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in _READERS and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(alias.name in _READERS for alias in node.names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_each_way_of_reading_the_environment():
    planted = ("import os\nfrom os import getenv\n"
               "a = os.environ.get('X')\nb = os.getenv('Y')\nc = os.environ['Z']\n")
    assert environment_reads(planted) == [2, 3, 4, 5]
    assert environment_reads("import os\nos.umask(0o077)\n") == []


def test_only_the_settings_module_reads_the_environment():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == SETTINGS:
            continue
        for line in environment_reads(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == [], "read the value into ServerConfig (settings.py) instead"
    assert environment_reads(SETTINGS.read_text(encoding="utf-8"))  # the scan still sees it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("name", "value"), [
    ("ZHISHIYUN_SERVER_PHONE_LOST_S", "soon"),
    ("ZHISHIYUN_SERVER_MAX_INFLIGHT", "-3"),
    ("ZHISHIYUN_SERVER_DB_POOL_SIZE", "ten"),
    ("ZHISHIYUN_SERVER_CLOCK_OFFSET", "nan"),
    ("ZHISHIYUN_SERVER_FACE_TOLERANCE", "loose"),
    ("ZHISHIYUN_SERVER_FACE_TOLERENCE", "0.5"),  # misspelt: no such face-login setting
    ("ZHISHIYUN_DEMO_FACE_ENROL", "maybe"),
])
def test_a_malformed_setting_stops_start_up_with_one_line(tmp_path, name, value):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHISHIYUN_")}
    env[name] = value
    result = subprocess.run(
        [sys.executable, "-m", "zhishiyun_server", "--data", str(tmp_path / "data"),
         "--port", str(port)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {name}")
    assert value in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "server.db").exists()  # nothing started, nothing written
