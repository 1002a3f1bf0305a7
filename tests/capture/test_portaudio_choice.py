"""A PortAudio device's saved name is opened as saved (Windows and macOS list PortAudio's)."""

from __future__ import annotations

from zhishiyun.capture.devices import Microphone, microphone_to_open


def _portaudio(index: int, name: str, host_api: str) -> Microphone:
    return Microphone(index, name, host_api, 1, 48000.0, description=name)


def test_a_name_with_its_host_api_stays_whole():
    # one microphone under two host APIs: the saved value says which one PortAudio opens
    mics = [_portaudio(1, "Mic (Realtek)", "Windows WASAPI"), _portaudio(2, "Mic (Realtek)", "MME")]
    assert microphone_to_open("Mic (Realtek), Windows WASAPI", mics) \
        == "Mic (Realtek), Windows WASAPI"
    assert microphone_to_open("Mic (Realtek)", mics) == "Mic (Realtek)"
