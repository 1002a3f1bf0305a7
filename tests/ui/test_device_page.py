"""设备检测 with real devices: a video file standing in for the camera (the capture
package's own stand-in path) and the PulseAudio virtual microphone of the test services."""

from __future__ import annotations

import fractions

import numpy as np
import pytest

from zhishiyun.config import load_settings
from zhishiyun.device_choice import load_choice
from zhishiyun.ui.device_page import DeviceTestWidget
from zhishiyun.ui.qt import Qt

LEFT = Qt.MouseButton.LeftButton


def microphones():
    try:
        from zhishiyun.capture.devices import list_microphones

        return list_microphones()
    except Exception:  # noqa: BLE001 - no PortAudio / no sound server
        return []


def write_clip(path, seconds=4, fps=15):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = fractions.Fraction(1, fps)
        for i in range(seconds * fps):
            image = np.full((240, 320, 3), 40, np.uint8)
            image[:, (i * 7) % 320:(i * 7) % 320 + 40] = (240, 200, 30)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.skipif(not microphones(), reason="no microphone (start_audio: PulseAudio vmic)")
def test_record_ten_seconds_and_play_back(qtbot, tmp_path):
    from zhishiyun.capture.devicetest import run_device_test

    clip = write_clip(tmp_path / "camera.mp4")
    settings = load_settings(environ={"ZHISHIYUN_CAMERA": str(clip)})
    saved = []
    page = DeviceTestWidget(run_device_test, settings, save_settings=saved.append)
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.activate()
    qtbot.waitUntil(lambda: page.camera_box.currentData() == str(clip), timeout=15_000)
    qtbot.waitUntil(page.preview.has_frame, timeout=15_000)  # live picture before the test

    qtbot.mouseClick(page.start_button, LEFT)
    assert not page.start_button.isEnabled()
    qtbot.waitUntil(page.play_button.isEnabled, timeout=60_000)
    result = page.result_data
    assert result.camera_fps > 5 and result.camera_file.exists()
    assert not [p for p in result.problems if p.code.startswith("camera")], result.problems
    assert not page.preview.has_frame(), "the live picture stops once the video is made"
    # the tested pair is what the exam will record with, kept on this computer
    assert saved == [{"camera": str(clip), "microphone": str(page.mic_box.currentData() or "")}]
    assert settings.camera == str(clip)
    assert load_choice(settings.data_path).camera == str(clip)  # what the next exam records

    qtbot.mouseClick(page.play_button, LEFT)
    assert page.progress.value() < page.progress.maximum() // 2, "the bar restarts"
    qtbot.waitUntil(page.preview.has_frame, timeout=15_000)  # decoded frames of the recording
    # the bar follows the playback to its end
    qtbot.waitUntil(lambda: page.progress.value() >= page.progress.maximum() * 0.8,
                    timeout=20_000)
    page.deactivate()
