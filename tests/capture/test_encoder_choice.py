"""Which H.264 encoder the recorder uses, from what probing found (runs on every OS)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from zhishiyun.capture.encoder import (
    EncoderChoice,
    EncoderProbe,
    SegmentFile,
    choose_encoder,
)
from zhishiyun.capture.errors import RecordingError
from zhishiyun.capture.probe import probe_picture, probe_video_encoder
from zhishiyun.config import RecordingSettings

SETTINGS = RecordingSettings()


def supplied(results: dict[str, EncoderProbe]):
    """A probe that answers from ``results`` (anything else: not in this build)."""
    asked = []

    def probe(name, settings):
        asked.append(name)
        return results.get(name, EncoderProbe(name, False, detail="not in this build"))

    return probe, asked


def test_windows_uses_the_first_hardware_encoder_that_works_and_probes_no_further():
    probe, asked = supplied({
        "h264_qsv": EncoderProbe("h264_qsv", False, "nv12", "no Intel GPU"),
        "h264_amf": EncoderProbe("h264_amf", True, "yuv420p"),
        "h264_nvenc": EncoderProbe("h264_nvenc", True, "yuv420p"),
    })
    choice = choose_encoder(SETTINGS, platform="win32", probe=probe)
    assert (choice.video, choice.hardware, choice.pixel_format) == ("h264_amf", True, "yuv420p")
    assert asked == ["h264_qsv", "h264_amf"] and choice.tried == ("h264_qsv", "h264_amf")


def test_quick_sync_keeps_the_pixel_format_it_takes():
    probe, _ = supplied({"h264_qsv": EncoderProbe("h264_qsv", True, "nv12")})
    choice = choose_encoder(SETTINGS, platform="win32", probe=probe)
    assert (choice.video, choice.pixel_format) == ("h264_qsv", "nv12")


def test_when_no_hardware_encoder_works_x264_is_the_fallback():
    probe, asked = supplied({"libx264": EncoderProbe("libx264", True)})
    choice = choose_encoder(SETTINGS, platform="win32", probe=probe)
    assert (choice.video, choice.hardware) == ("libx264", False)
    assert asked == ["h264_qsv", "h264_amf", "h264_nvenc", "h264_mf", "libx264"]


def test_macos_uses_videotoolbox_when_it_works():
    probe, _ = supplied({"h264_videotoolbox": EncoderProbe("h264_videotoolbox", True, "nv12"),
                         "libx264": EncoderProbe("libx264", True)})
    choice = choose_encoder(SETTINGS, platform="darwin", probe=probe)
    assert (choice.video, choice.hardware) == ("h264_videotoolbox", True)


def test_linux_and_a_hardware_ban_probe_software_only():
    for platform, allow in (("linux", True), ("win32", False)):
        probe, asked = supplied({"libx264": EncoderProbe("libx264", True)})
        choice = choose_encoder(SETTINGS, platform=platform, allow_hardware=allow, probe=probe)
        assert choice.video == "libx264" and asked == ["libx264"]


def test_no_working_encoder_is_a_clear_recording_error():
    probe, _ = supplied({})
    with pytest.raises(RecordingError) as caught:
        choose_encoder(SETTINGS, platform="win32", probe=probe)
    assert caught.value.code == "no_encoder"


def test_the_real_probe_encodes_and_decodes_a_picture():
    assert probe_video_encoder("libx264", SETTINGS).works
    missing = probe_video_encoder("h264_no_such_encoder", SETTINGS)
    assert not missing.works and missing.detail == "not in this build"


def test_a_segment_for_an_nv12_encoder_gets_nv12_frames(tmp_path):
    choice = EncoderChoice("libx264", "aac", False, pixel_format="nv12")  # x264 takes nv12
    segment = SegmentFile(tmp_path / "s.mp4", choice, SETTINGS, width=640, height=480,
                          fps=10, with_audio=False)
    picture = probe_picture(640, 480, 0)
    for i in range(3):
        segment.add_video(picture, i * 100, "bgr24")
    segment.close()
    with av.open(str(tmp_path / "s.mp4")) as container:
        frames = list(container.decode(video=0))
    decoded = frames[0].to_ndarray(format="bgr24").astype(np.int16)
    assert len(frames) == 3 and np.mean(np.abs(decoded - picture)) < 20
