"""``zhishiyun demo --headless`` as a newcomer on a machine without a desktop runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.integration
@pytest.mark.slow
def test_headless_demo_records_and_uploads_everything(isolated_home):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "zhishiyun", "demo", "--headless",
                             "--language", "en"], capture_output=True, text=True, env=env,
                            timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Logged in: 张三 (110*************11)" in out
    assert "Traceback" not in out + result.stderr
    camera = next(line for line in out.splitlines() if line.startswith("camera"))
    assert "missing -" in camera and "chain ok" in camera
    assert "Demo finished: everything recorded reached the server." in out
    logs = "".join(p.read_text(encoding="utf-8")
                   for p in (isolated_home / "data" / "logs").glob("zhishiyun.log*"))
    assert "entered" in logs or "session" in logs
    assert "110101199003070011" not in logs and "zsy-demo-1" not in logs
