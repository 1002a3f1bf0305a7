"""Virtual audio among PulseAudio's sources: matched by description and by source name."""

from __future__ import annotations

from tests.integrity.test_environment import AnsweringPlatform, probe
from zhishiyun.capture.devices import Microphone
from zhishiyun.config import IntegritySettings

LOOPBACK = Microphone(index=3, name="alsa_input.platform-snd_aloop.0.analog-stereo",
                      host_api="PulseAudio", channels=2, default_samplerate=0.0,
                      description="Loopback Analog Stereo")
DESK = Microphone(index=1, name="alsa_input.pci-0000_00_1f.3.analog-stereo",
                  host_api="PulseAudio", channels=2, default_samplerate=0.0, is_default=True,
                  description="Built-in Audio Analog Stereo")


def test_a_loopback_source_in_use_is_a_virtual_device_by_its_description():
    env = probe(AnsweringPlatform(), mics=[DESK, LOOPBACK]).snapshot(0, LOOPBACK.name)
    [signal] = [s for s in env.signals if s.kind == "virtual_audio"]
    assert "Loopback Analog Stereo" in signal.detail and signal.data["in_use"]
    assert env.devices["microphone"] == "Loopback Analog Stereo"  # as the pickers show it


def test_an_idle_loopback_source_is_reported_present_once():
    env = probe(AnsweringPlatform(), mics=[DESK, LOOPBACK]).snapshot(0, DESK.name)
    assert not [s for s in env.signals if s.kind == "virtual_audio"]
    assert len([s for s in env.signals if s.kind == "virtual_audio_present"]) == 1


def test_the_organisations_names_match_a_source_name_too():
    settings = IntegritySettings(virtual_audio=("snd_aloop",))
    env = probe(AnsweringPlatform(), mics=[DESK, LOOPBACK],
                integrity=settings).snapshot(0, LOOPBACK.name)
    assert [s.kind for s in env.signals if s.kind.startswith("virtual_audio")] \
        == ["virtual_audio"]
