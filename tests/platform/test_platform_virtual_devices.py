"""Known virtual cameras and audio devices are recognised by the names each OS gives them."""

from __future__ import annotations

import pytest

from zhishiyun.platform.virtual_devices import match_virtual_devices


@pytest.mark.parametrize(("device", "product"), [
    ("OBS Virtual Camera", "OBS Virtual Camera"),          # Windows, macOS, Linux v4l2loopback
    ("OBS-Camera", "OBS Virtual Camera"),                  # older OBS-VirtualCam plugin
    ("ManyCam Virtual Webcam", "ManyCam"),
    ("XSplit VCam", "XSplit VCam"),
    ("Snap Camera", "Snap Camera"),
    ("DroidCam Source 3", "DroidCam"),
    ("e2eSoft VCam", "e2eSoft VCam"),
    ("Reincubate Camo", "Reincubate Camo"),
    ("Dummy video device (0x0000)", "v4l2loopback"),
    ("CABLE Output (VB-Audio Virtual Cable)", "VB-Audio Virtual Cable"),
    ("VoiceMeeter Output (VB-Audio VoiceMeeter VAIO)", "VB-Audio Virtual Cable"),
    ("Voicemeeter Out B1", "VoiceMeeter"),
    ("BlackHole 2ch", "BlackHole"),
    ("Soundflower (2ch)", "Soundflower"),
    ("Loopback Audio", "Rogue Amoeba Loopback"),
    ("Line 1 (Virtual Audio Cable)", "Virtual Audio Cable"),
])
def test_known_virtual_device_names(device, product):
    (match,) = match_virtual_devices([device])
    assert match.device == device and match.product == product


@pytest.mark.parametrize("device", [
    "Integrated Webcam", "FaceTime HD Camera", "HD Pro Webcam C920", "USB2.0 HD UVC WebCam",
    "Microphone Array (Realtek(R) Audio)", "MacBook Pro Microphone", "Camouflage Mic",
    "Built-in Audio Analog Stereo", "vmic",
])
def test_real_devices_are_not_flagged(device):
    assert match_virtual_devices([device]) == []


def test_the_organisations_list_extends_the_default():
    names = ["Integrated Webcam", "Acme StreamCam Pro", "BlackHole 16ch"]
    assert match_virtual_devices(names) == match_virtual_devices(names[2:])
    matches = match_virtual_devices(names, extra=["acme streamcam", "  "])
    assert [(m.device, m.product, m.kind) for m in matches] == [
        ("Acme StreamCam Pro", "acme streamcam", "any"),
        ("BlackHole 16ch", "BlackHole", "audio")]


def test_kind_limits_the_default_list_but_not_the_organisations():
    names = ["BlackHole 2ch", "OBS Virtual Camera", "Acme Mic"]
    cameras = match_virtual_devices(names, extra=["Acme Mic"], kind="camera")
    assert [m.device for m in cameras] == ["OBS Virtual Camera", "Acme Mic"]
