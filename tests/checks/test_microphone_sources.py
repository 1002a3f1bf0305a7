"""The microphone check tests the PulseAudio source the recorder will read, chosen or saved.

Real PulseAudio (tests/pulse_sources.py): 'vmic' of the test services, a private server
with a laptop's sources for an older version's saved PortAudio name.
"""

from __future__ import annotations

import logging

from tests.checks.devices import run_one
from tests.pulse_sources import (
    CARD_DESCRIPTION,
    CARD_PORTAUDIO_NAME,
    CARD_SOURCE,
    DESK_DESCRIPTION,
    LINUX_ONLY,
    SERVICES_DESCRIPTION,
    SERVICES_SOURCE,
    private_server,
    services_server,
)
from zhishiyun.capture.devices import microphone_to_open
from zhishiyun.checks import Status
from zhishiyun.checks.microphone import MicrophoneCheck
from zhishiyun.config import load_settings, save_user_settings
from zhishiyun.device_choice import exam_devices, load_choice, save_choice

pytestmark = LINUX_ONLY


def data_dir():
    return load_settings().data_path


def test_the_check_passes_with_vmic_chosen_on_the_command_line(make_context):
    services_server()
    result = run_one(MicrophoneCheck(), make_context(settings={"microphone": SERVICES_SOURCE}))
    assert result.status is Status.PASS, result.message
    assert SERVICES_DESCRIPTION in result.message  # named as the pickers show it
    assert result.details["device"] == SERVICES_SOURCE
    assert result.details["rms_dbfs"] > -40  # vmic's 440 Hz tone, through PulseAudio


def test_a_source_that_does_not_exist_fails_and_names_the_ones_there(make_context):
    services_server()
    missing = "alsa_input.usb-Jabra_Evolve_20-00.mono-fallback"
    result = run_one(MicrophoneCheck(), make_context(settings={"microphone": missing}))
    assert result.status is Status.FAIL
    assert result.message == f"No microphone named {missing!r}."
    assert SERVICES_DESCRIPTION in result.fix
    assert result.details["error"] == "microphone_not_found"


def test_a_saved_source_survives_and_is_what_the_exam_records(make_context):
    services_server()
    save_user_settings({"microphone": "NoSuchHeadset"})  # the settings name a missing one
    save_choice(data_dir(), 0, SERVICES_SOURCE, chosen_in="device_test")
    result = run_one(MicrophoneCheck(), make_context())
    assert result.status is Status.PASS, result.message
    assert result.details["chosen_in"] == "device_test"
    assert result.details["device"] == SERVICES_SOURCE
    assert load_choice(data_dir()).microphone == SERVICES_SOURCE
    assert exam_devices(data_dir(), microphone_now=microphone_to_open) == (0, SERVICES_SOURCE)


def test_an_older_versions_portaudio_name_is_honoured_as_its_source(make_context, tmp_path,
                                                                  monkeypatch, caplog):
    with private_server(tmp_path / "pulse", monkeypatch):
        save_choice(data_dir(), 0, CARD_PORTAUDIO_NAME, chosen_in="exam_confirmation")
        with caplog.at_level(logging.INFO):
            result = run_one(MicrophoneCheck(), make_context())
            recorded = exam_devices(data_dir(), microphone_now=microphone_to_open)
    assert result.status is Status.PASS, result.message
    assert result.details["chosen_in"] == "exam_confirmation"  # not dropped for the settings
    assert result.details["device"] == CARD_SOURCE and CARD_DESCRIPTION in result.message
    assert result.details["rms_dbfs"] > -40  # the card's input sounds (a remap of 660 Hz)
    assert recorded == (0, CARD_SOURCE)
    assert load_choice(data_dir()).microphone == CARD_PORTAUDIO_NAME  # the file is as saved
    assert any(CARD_PORTAUDIO_NAME in r.getMessage() and CARD_SOURCE in r.getMessage()
               for r in caplog.records)


def test_a_saved_name_no_one_lists_is_kept_for_the_exam(tmp_path, monkeypatch):
    with private_server(tmp_path / "pulse", monkeypatch):
        unplugged = "USB PnP Sound Device: Audio (hw:1,0)"
        save_choice(data_dir(), 0, unplugged, chosen_in="device_test")
        # the exam tries it as saved; the recording reports it if it stays gone
        assert exam_devices(data_dir(), microphone_now=microphone_to_open) == (0, unplugged)


def test_the_check_names_the_default_source_by_its_description(make_context, tmp_path,
                                                               monkeypatch):
    with private_server(tmp_path / "pulse", monkeypatch):
        result = run_one(MicrophoneCheck(), make_context())
    assert result.status is Status.PASS, result.message
    assert result.details["microphone"] == DESK_DESCRIPTION and result.details["device"] == ""
