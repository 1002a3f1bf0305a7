"""设备检测's microphone picker offers PulseAudio's sources by description (real PulseAudio)."""

from __future__ import annotations

from tests.pulse_sources import (
    CARD_DESCRIPTION,
    CARD_PORTAUDIO_NAME,
    CARD_SOURCE,
    LINUX_ONLY,
    SERVICES_DESCRIPTION,
    SERVICES_SOURCE,
    private_server,
    services_server,
)
from zhishiyun.config import load_settings
from zhishiyun.ui.device_page import DeviceTestWidget

pytestmark = LINUX_ONLY


def _listed_page(qtbot, microphone: str) -> DeviceTestWidget:
    settings = load_settings(environ={"ZHISHIYUN_CAMERA": "none",
                                      "ZHISHIYUN_MICROPHONE": microphone})
    page = DeviceTestWidget(None, settings)  # listing only: no test recording
    qtbot.addWidget(page)
    page.refresh_devices()
    qtbot.waitUntil(lambda: page.refresh_button.isEnabled() and page.mic_box.count() > 1,
                    timeout=15_000)
    return page


def _items(page: DeviceTestWidget) -> list[tuple[str, object]]:
    box = page.mic_box
    return [(box.itemText(i), box.itemData(i)) for i in range(box.count())]


def test_the_picker_shows_vmic_by_its_description_and_selects_it(qtbot):
    services_server()
    page = _listed_page(qtbot, SERVICES_SOURCE)
    assert (SERVICES_DESCRIPTION, SERVICES_SOURCE) in _items(page)
    assert page.mic_box.currentData() == SERVICES_SOURCE
    assert not [text for text, _ in _items(page) if text.endswith(".monitor")]


def test_an_older_portaudio_name_selects_the_source_it_stands_for(qtbot, tmp_path,
                                                                   monkeypatch):
    with private_server(tmp_path / "pulse", monkeypatch):
        page = _listed_page(qtbot, CARD_PORTAUDIO_NAME)
        assert page.mic_box.currentData() == CARD_SOURCE
        assert page.mic_box.currentText() == CARD_DESCRIPTION
