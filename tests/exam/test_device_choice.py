"""The devices chosen on this computer, and one name per device on every screen."""

from __future__ import annotations

import json

import pytest

from zhishiyun.capture.device_names import (
    camera_choices,
    camera_name,
    microphone_choices,
    microphone_name,
)
from zhishiyun.device_choice import (
    KEEP,
    ExamDevice,
    choice_path,
    exam_device_plan,
    exam_devices,
    load_choice,
    save_choice,
)


def test_the_choice_outlives_a_restart_and_beats_the_settings(tmp_path):
    assert exam_devices(tmp_path, "", "") == (0, None)  # nothing chosen: the first camera
    assert exam_devices(tmp_path, "/v/cam.avi", "pulse") == ("/v/cam.avi", "pulse")
    save_choice(tmp_path, "2", "USB Mic", chosen_in="device_test")
    assert exam_devices(tmp_path, "/v/cam.avi", "pulse") == (2, "USB Mic")
    # face login picks only a camera: the microphone tested before stays
    save_choice(tmp_path, 1, KEEP, chosen_in="face_login")
    choice = load_choice(tmp_path)
    assert (choice.camera, choice.microphone, choice.chosen_in) == (1, "USB Mic", "face_login")
    stored = json.loads(choice_path(tmp_path).read_text(encoding="utf-8"))
    assert set(stored) == {"camera", "microphone", "chosen_in", "chosen_at"}  # nothing else
    save_choice(tmp_path, "none", None, chosen_in="exam_confirmation")
    assert exam_devices(tmp_path) == (None, None)  # no camera, the default microphone


def test_a_damaged_choice_falls_back_to_the_settings(tmp_path):
    choice_path(tmp_path).write_text("{not json", encoding="utf-8")
    assert load_choice(tmp_path) is None
    assert exam_devices(tmp_path, "3", "pulse") == (3, "pulse")
    with pytest.raises(ValueError):
        save_choice(tmp_path, 0, chosen_in="somewhere")


def test_the_plan_says_where_each_device_came_from(tmp_path):
    assert exam_device_plan(tmp_path) == (ExamDevice(0, "default"), ExamDevice(None, "default"))
    assert exam_device_plan(tmp_path, "/v/cam.avi", "none") == (
        ExamDevice("/v/cam.avi", "settings"), ExamDevice("none", "settings"))
    save_choice(tmp_path, 2, "Old Mic", chosen_in="device_test")
    renamed = {"Old Mic": "new_source"}.get
    assert exam_device_plan(tmp_path, "/v/cam.avi", "none", microphone_now=renamed) == (
        ExamDevice(2, "saved", "device_test"),
        ExamDevice("new_source", "saved", "device_test", given_as="Old Mic"))


WINDOWS = [  # one headset as PortAudio lists it on Windows (MME cuts names at 31)
    {"name": "Microsoft Sound Mapper - Input", "host_api": "MME"},
    {"name": "Headset Microphone (Jabra Evol", "host_api": "MME"},
    {"name": "Primary Sound Capture Driver", "host_api": "Windows DirectSound"},
    {"name": "Headset Microphone (Jabra Evolve 20)", "host_api": "Windows DirectSound"},
    {"name": "Headset Microphone (Jabra Evolve 20)", "host_api": "Windows WASAPI"},
]


def test_one_name_per_microphone():
    choices = microphone_choices(WINDOWS)
    names = [name for name, _value in choices]
    assert names.count("Headset Microphone (Jabra Evolve 20)") == 1
    assert names[0] == "System default" and choices[0][1] is None
    assert "Microsoft Sound Mapper - Input" not in names  # the default, named so once
    value = dict(choices)["Headset Microphone (Jabra Evolve 20)"]
    # exactly one device opens (sounddevice takes "name, host API" as an exact match)
    assert value == "Headset Microphone (Jabra Evolve 20), Windows DirectSound"
    # the value names the same microphone wherever it is shown again
    assert microphone_name(value) == "Headset Microphone (Jabra Evolve 20)"
    linux = [{"name": "pulse", "host_api": "ALSA"}, {"name": "default", "host_api": "ALSA"}]
    assert microphone_choices(linux) == [("System default", None), ("PulseAudio", "pulse")]
    for value in (None, "", "default", "sysdefault"):
        assert microphone_name(value) == "System default"
    assert microphone_name("none") == "No microphone"
    assert microphone_name("/tmp/voice.wav") == "voice.wav"


def test_one_name_per_camera():
    cameras = [{"index": 0, "name": "Integrated Camera"}, {"index": 2, "name": ""}]
    assert camera_choices(cameras) == [("Integrated Camera", 0), ("Camera 2", 2)]
    assert camera_name("0", cameras) == "Integrated Camera"
    assert camera_name("/home/me/camera.avi") == "camera.avi"
    assert camera_name(None) == "No camera"
    twins = [{"index": 0, "name": "USB Camera"}, {"index": 1, "name": "USB Camera"}]
    assert [name for name, _index in camera_choices(twins)] == ["USB Camera (0)",
                                                               "USB Camera (1)"]
