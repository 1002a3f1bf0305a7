"""The phone page in real headless Chromium (fake camera) against the real server."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import av
import pytest
import requests

from tests.second_camera.conftest import server_rows
from zhishiyun.exam.second_camera import SecondCameraMonitor

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# Into docs/screenshots/ only when refreshing the docs (ZHISHIYUN_TEST_SCREENSHOTS=1).
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("ZHISHIYUN_TEST_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "zhishiyun-second-camera-shots")
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy (the deadline only guards hangs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def phone_state(driver) -> dict:
    return driver.execute_script("return window.zsyPhone || {}")


def test_phone_binds_by_url_records_and_uploads_a_phone_track(entered, chromium):
    from zhishiyun_server.models import Event, RecordingSegment
    from zhishiyun_server.tus.storage import LocalDiskStorage

    server, client, sid, _key = entered
    monitor = SecondCameraMonitor(client, sid, poll_seconds=0.5)
    seen: list[str] = []
    monitor.second_camera_did_update.append(
        lambda status: seen.append(status.state) if not seen or seen[-1] != status.state
        else None)
    monitor.start()
    try:
        code = monitor.create_code()
        chromium.get(code.url)
        wait_for(lambda: phone_state(chromium).get("phase") == "bound", 30, "the phone to bind")
        # The code left the address bar, and nobody can use it again.
        assert "code=" not in chromium.current_url
        reuse = requests.post(f"{server.url}/api/v1/phone/redeem", json={"code": code.code},
                              timeout=10)
        assert reuse.status_code == 409 and reuse.json()["error"]["code"] == "code_used"
        wait_for(lambda: chromium.find_element("id", "start").is_enabled(), 20, "the camera")
        wait_for(lambda: "bound" in seen, 10, "the desktop to see the phone bound")

        chromium.find_element("id", "start").click()
        wait_for(lambda: len(client.recordings(sid).tracks.get("phone", _none).received) >= 2,
                 30, "the first phone chunks")
        chromium.save_screenshot(str(SCREENSHOTS / "phone_recording.png"))
        # The phone loses the network for 8 s: it records on, keeps the chunks in memory,
        # and the desktop calls it lost; back online, the waiting chunks go up.
        chromium.set_network_conditions(offline=True, latency=0, download_throughput=-1,
                                        upload_throughput=-1)
        wait_for(lambda: phone_state(chromium).get("queued", 0) >= 1, 15,
                 "a chunk to wait on the offline phone")
        wait_for(lambda: monitor.status.state == "lost", 15, "the desktop to see it lost")
        chromium.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                        upload_throughput=-1)
        assert phone_state(chromium)["phase"] == "recording"
        # ~20 s of recording: five 4-second chunks on the server.
        wait_for(lambda: len(client.recordings(sid).tracks["phone"].received) >= 6, 40,
                 "24 s of phone chunks")
        status = wait_for(lambda: monitor.status.last_upload_seq is not None
                          and monitor.status, 5, "the desktop to see an upload")
        assert status.state == "recording" and status.last_upload_age_s is not None
        assert status.last_upload_age_s < 60  # seconds ago, in server time
        # Opening the used code again (another phone, another tab) is refused on the page.
        chromium.switch_to.new_window("tab")
        chromium.get(code.url)
        wait_for(lambda: phone_state(chromium).get("phase") == "refused", 20, "the refusal")
        assert phone_state(chromium)["error"] == "code_used"
        assert "已被使用" in chromium.find_element("id", "status").text
        assert chromium.find_element("id", "bind").is_displayed()  # asks for a new code
    finally:
        chromium.quit()  # the phone disappears: no heartbeats any more
    wait_for(lambda: monitor.status.state == "lost", 20, "the desktop to call the phone lost")
    monitor.stop()

    phone = client.recordings(sid).tracks["phone"]
    assert phone.chain_ok is True
    assert phone.received[:6] == [0, 1, 2, 3, 4, 5] and not phone.missing  # nothing lost
    assert seen[:3] == ["not_bound", "bound", "recording"]
    assert seen[3:5] == ["lost", "recording"] and seen[-1] == "lost"
    kinds = [e.kind for e in server_rows(server, Event, session_id=sid)]
    assert kinds.count("second_camera_lost") == 2 and "second_camera_restored" in kinds
    assert {"second_camera_bound", "second_camera_recording"} <= set(kinds)

    # Each chunk is a whole video file on its own: it decodes from its first frame.
    storage = LocalDiskStorage(server.data_dir / "uploads")
    segment = server_rows(server, RecordingSegment, session_id=sid, track="phone", seq=1)[0]
    with storage.open(segment.storage_key) as handle, av.open(handle) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 20  # ~4 s of the fake camera's picture


class _none:  # noqa: N801 - an empty track
    received: list = []
