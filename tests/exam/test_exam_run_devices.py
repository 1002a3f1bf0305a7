"""``zhishiyun exam run`` records with the devices this computer saved, as the GUI exam does.

Real processes against the demo server over HTTP, real PulseAudio ('vmic', 440 Hz) and the
stand-in camera file; the sound is checked in the camera segments the run recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.capture.conftest import decode, dominant_frequency
from tests.exam.conftest import REPO_ROOT, ZHANG, server_rows, shape
from tests.exam.test_exam_run import finished
from tests.pulse_sources import (
    CARD_PORTAUDIO_NAME,
    CARD_SOURCE,
    LINUX_ONLY,
    SERVICES_SOURCE,
    private_server,
    services_server,
)
from zhishiyun.config import load_settings
from zhishiyun.device_choice import save_choice

pytestmark = LINUX_ONLY

GONE_MICROPHONE = "USB PnP Sound Device: Audio (hw:1,0)"


def run_exam(server, *extra: str, env: dict | None = None):
    """A 6 s written exam without the screen: (exit code, JSON summary, stderr)."""
    shape(server, "written", start_in=0, duration_s=600)
    command = [sys.executable, "-m", "zhishiyun", "--language", "en", "exam", "run",
               "--server", server.url, "--id-number", ZHANG[0], "--password-stdin",
               "--exam", "next", "--accept-rules", "--seconds", "6", "--no-screen", *extra]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                               env={**os.environ, **(env or {})})
    process.stdin.write(ZHANG[1] + "\n")
    process.stdin.flush()
    return finished(process, 120)


def tones(summary) -> list[float]:
    """The loudest frequency of each camera segment recorded (none: no sound track)."""
    folder = load_settings().data_path / "sessions" / summary["session_id"] / "camera"
    found = []
    for path in sorted(folder.glob("*.mp4")):
        info = decode(path)
        if info["audio"].size:
            found.append(dominant_frequency(info["audio"], info["audio_rate"]))
    return found


@pytest.fixture
def saved(camera_video):
    """Save a choice as the device test would: ``saved(camera, microphone)``."""
    services_server()

    def save(camera, microphone):
        save_choice(load_settings().data_path, camera, microphone, chosen_in="device_test")
    return save


def test_the_saved_microphone_is_recorded_and_reported_as_saved(server_factory, saved,
                                                                camera_video):
    saved(camera_video, SERVICES_SOURCE)
    # the settings say no microphone; the candidate's choice wins, as in the GUI's exam
    code, summary, err = run_exam(server_factory(), env={"ZHISHIYUN_MICROPHONE": "none"})
    assert code == 0, err
    assert summary["all_uploaded"] is True
    assert summary["devices"] == {
        "camera": {"device": str(camera_video), "from": "saved", "chosen_in": "device_test",
                   "lost": None, "restored": False},
        "microphone": {"device": SERVICES_SOURCE, "from": "saved",
                       "chosen_in": "device_test", "lost": None, "restored": False}}
    heard = tones(summary)
    assert len(heard) >= 2 and heard == pytest.approx([440] * len(heard), abs=10)
    assert f"microphone {SERVICES_SOURCE} (saved)" in err  # said before recording


def test_an_older_versions_saved_name_records_the_source_it_stands_for(
        server_factory, camera_video, tmp_path, monkeypatch):
    server = server_factory()
    with private_server(tmp_path / "pulse", monkeypatch):  # a laptop's sources
        save_choice(load_settings().data_path, camera_video, CARD_PORTAUDIO_NAME,
                    chosen_in="exam_confirmation")
        code, summary, err = run_exam(server)
    assert code == 0, err
    assert summary["devices"]["microphone"] == {
        "device": CARD_SOURCE, "from": "saved", "chosen_in": "exam_confirmation",
        "given_as": CARD_PORTAUDIO_NAME, "lost": None, "restored": False}
    heard = tones(summary)  # the card's input: a remap of the 660 Hz desk microphone
    assert len(heard) >= 2 and heard == pytest.approx([660] * len(heard), abs=10)


def test_flags_beat_the_saved_choice(server_factory, saved, camera_video, tmp_path):
    saved(tmp_path / "unplugged-camera.avi", SERVICES_SOURCE)
    code, summary, err = run_exam(server_factory(), "--camera", str(camera_video),
                                  "--mic", "none")
    assert code == 0, err
    devices = summary["devices"]
    assert devices["camera"] == {"device": str(camera_video), "from": "flag", "lost": None,
                                 "restored": False}
    assert devices["microphone"] == {"device": "none", "from": "flag", "lost": None,
                                     "restored": False}
    assert summary["tracks"]["camera"]["recorded"] and tones(summary) == []  # no sound


def test_without_a_choice_the_defaults_are_reported(server_factory, camera_video):
    services_server()
    code, summary, err = run_exam(server_factory(), env={"ZHISHIYUN_CAMERA": str(camera_video)})
    assert code == 0, err
    assert summary["devices"]["camera"]["from"] == "settings"
    assert summary["devices"]["microphone"] == {"device": "default", "from": "default",
                                                "lost": None, "restored": False}


def test_a_saved_microphone_that_is_gone_is_kept_and_its_loss_said(server_factory, saved,
                                                                    camera_video):
    saved(camera_video, GONE_MICROPHONE)
    server = server_factory()
    code, summary, err = run_exam(server)
    # as in the GUI's exam: recorded with the saved one, which the recorder reports lost;
    # the exam goes on and everything recorded reaches the server
    assert code == 0, err
    assert summary["all_uploaded"] is True
    microphone = summary["devices"]["microphone"]
    assert (microphone["device"], microphone["from"]) == (GONE_MICROPHONE, "saved")
    assert microphone["lost"] == f"No microphone named {GONE_MICROPHONE!r}."
    assert microphone["restored"] is False
    assert summary["devices"]["camera"]["lost"] is None
    note = [line for line in err.splitlines() if "did not work" in line]
    assert len(note) == 1 and GONE_MICROPHONE in note[0] and "saved on this computer" in note[0]
    assert "--mic" in note[0]  # what to do about it
    lost = [e for e in server_rows(server, "Event", summary["session_id"])
            if e.kind == "device_lost"]
    assert [e.details["source"] for e in lost] == ["microphone"]  # the proctor sees it too
