"""``zhishiyun demo --headless`` as a newcomer runs it (``./bootstrap.sh demo`` without a
desktop starts a virtual display and PulseAudio first, so all three sources are recorded)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import require
from tests.exam.conftest import pulse_running


@pytest.mark.integration
@pytest.mark.slow
def test_headless_demo_records_and_uploads_screen_camera_and_microphone(isolated_home):
    if not os.environ.get("DISPLAY"):
        require("Xvfb", "the virtual display bootstrap.sh starts (scripts/services.sh)")
    if not pulse_running():
        require("PulseAudio", "the virtual microphone bootstrap.sh starts")
    result = subprocess.run([sys.executable, "-m", "zhishiyun", "demo", "--headless",
                             "--language", "en"], capture_output=True, text=True,
                            env=dict(os.environ), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert "Entered “" in result.stderr
    for track in ("screen", "camera"):
        line = next(line for line in out.splitlines() if line.startswith(track))
        assert "missing -" in line and "chain ok" in line, line
    assert "Audio: recorded with the camera track" in out
    assert "Demo finished: everything recorded reached the server." in out
    import av

    segments = sorted((isolated_home / "data" / "sessions").glob("*/camera/*.mp4"))
    assert segments
    with av.open(str(segments[0])) as container:  # the microphone is in the camera track
        assert container.streams.audio and container.streams.video
    assert list((isolated_home / "data" / "sessions").glob("*/screen/*.mp4"))
    logs = "".join(p.read_text(encoding="utf-8")
                   for p in (isolated_home / "data" / "logs").glob("zhishiyun.log*"))
    assert "session" in logs
    assert "110101199003070011" not in logs and "zsy-demo-1" not in logs
