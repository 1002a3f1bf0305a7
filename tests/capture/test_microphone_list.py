"""On Linux the microphones offered are PulseAudio's sources, the ones the recorder reads.

Real PulseAudio: the test services' server ('vmic') and private servers with a laptop's
sources (tests/pulse_sources.py). PortAudio's list is the fallback where libpulse cannot be
loaded (the recorder's own switch, ``pulse_input.LIBRARY``) or no server answers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.pulse_sources import (
    CARD_DESCRIPTION,
    CARD_PORTAUDIO_NAME,
    CARD_SOURCE,
    DESK_DESCRIPTION,
    DESK_MIC,
    LINUX_ONLY,
    SERVICES_DESCRIPTION,
    SERVICES_SOURCE,
    SPEAKERS,
    default_source,
    private_server,
    services_server,
)
from zhishiyun.capture import pulse_input
from zhishiyun.capture.device_names import microphone_choices, microphone_name
from zhishiyun.capture.devices import (
    list_microphones,
    microphone_to_open,
    portaudio_microphones,
)

pytestmark = LINUX_ONLY


@pytest.fixture
def laptop(tmp_path, monkeypatch):
    with private_server(tmp_path / "pulse", monkeypatch):
        yield


def test_vmic_is_listed_by_its_description_where_the_server_says_default():
    services_server()
    mics = {m.name: m for m in list_microphones()}
    vmic = mics[SERVICES_SOURCE]
    assert vmic.description == SERVICES_DESCRIPTION and vmic.host_api == "PulseAudio"
    assert vmic.is_default == (default_source() == SERVICES_SOURCE)
    assert sum(m.is_default for m in mics.values()) <= 1
    # the services' null sink has a monitor: what the speakers play is no microphone
    assert not [name for name in mics if name.endswith(".monitor")]
    # the pickers show the description and hand the recorder the source's name
    assert (SERVICES_DESCRIPTION, SERVICES_SOURCE) in microphone_choices(mics.values())
    assert microphone_name(SERVICES_SOURCE, mics.values()) == SERVICES_DESCRIPTION


def test_the_devices_command_lists_the_sources_the_recorder_opens():
    services_server()
    run = [sys.executable, "-m", "zhishiyun", "devices"]
    listing = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True,
                                        timeout=60, check=True).stdout)
    [vmic] = [m for m in listing["microphones"] if m["name"] == SERVICES_SOURCE]
    assert vmic["description"] == SERVICES_DESCRIPTION and vmic["host_api"] == "PulseAudio"
    text = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"{SERVICES_DESCRIPTION} [--mic {SERVICES_SOURCE}] (PulseAudio" in text


def test_a_laptops_sources_with_the_servers_default(laptop):
    mics = {m.name: m for m in list_microphones()}
    assert set(mics) == {DESK_MIC, CARD_SOURCE}  # not 'speakers.monitor'
    assert mics[DESK_MIC].is_default and not mics[CARD_SOURCE].is_default
    assert mics[CARD_SOURCE].description == CARD_DESCRIPTION
    assert mics[CARD_SOURCE].portaudio_name == CARD_PORTAUDIO_NAME
    subprocess.run(["pactl", "set-default-source", CARD_SOURCE], check=True)
    assert [m.name for m in list_microphones() if m.is_default] == [CARD_SOURCE]


def test_pulse_source_in_the_environment_is_the_default(laptop, monkeypatch):
    # libpulse opens PULSE_SOURCE for "the default": the list says so too
    monkeypatch.setenv("PULSE_SOURCE", CARD_SOURCE)
    assert [m.name for m in list_microphones() if m.is_default] == [CARD_SOURCE]


def test_only_monitors_means_no_microphone(laptop):
    for source in (CARD_SOURCE, DESK_MIC):  # the remap first: it records the desk mic
        subprocess.run(["pactl", "unload-module", _module_of(source)], check=True)
    assert f"{SPEAKERS}.monitor" in subprocess.run(
        ["pactl", "list", "short", "sources"], capture_output=True, text=True).stdout
    assert list_microphones() == []


def test_an_older_portaudio_name_opens_the_source_it_stands_for(laptop):
    mics = list_microphones()
    assert microphone_to_open(CARD_PORTAUDIO_NAME, mics) == CARD_SOURCE
    # the card got another number since (a USB device came first): the names still match
    assert microphone_to_open("HDA Intel PCH: ALC892 Analog (hw:2,0)", mics) == CARD_SOURCE
    # by what the pickers show, too (a settings file may say that)
    assert microphone_to_open(DESK_DESCRIPTION, mics) == DESK_MIC
    # the default, a file and a device nobody lists are kept as they are, never dropped
    for kept in (None, "pulse", "default", "none", "USB PnP Sound Device: Audio (hw:1,0)"):
        assert microphone_to_open(kept, mics) == kept


def test_portaudio_lists_where_libpulse_cannot_be_loaded(monkeypatch):
    services_server()
    monkeypatch.setattr(pulse_input, "LIBRARY", "libpulse-simple-not-here.so.0")
    mics = list_microphones()
    assert SERVICES_SOURCE not in [m.name for m in mics]  # only PulseAudio knows 'vmic'
    assert not [m for m in mics if m.host_api in ("PulseAudio", "PipeWire")]
    assert [m.name for m in mics] == [m.name for m in portaudio_microphones()]


def test_portaudio_lists_where_no_sound_server_answers(tmp_path, monkeypatch):
    services_server()
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")
    mics = list_microphones()
    assert not [m for m in mics if m.host_api in ("PulseAudio", "PipeWire")]


def _module_of(source: str) -> str:
    listing = json.loads(subprocess.run(["pactl", "-f", "json", "list", "sources"],
                                        capture_output=True, text=True, check=True).stdout)
    [module] = [s["owner_module"] for s in listing if s["name"] == source]
    return str(module)
