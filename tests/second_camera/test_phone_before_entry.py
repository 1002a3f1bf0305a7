"""The phone page bound from the exam card waits for the entry, then records into the session.

Real headless Chromium (fake camera), the real server, the card's binding API.
"""

from __future__ import annotations

import pytest

from zhishiyun.exam.second_camera import SecondCameraMonitor

from .conftest import enter_written_exam
from .test_phone_e2e import phone_state, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_phone_page_waits_for_the_entry_then_records(phone_server, chromium):
    from zhishiyun.api.client import ServerClient
    from zhishiyun.api.tokens import MemoryTokenStore

    from .conftest import ZHANG

    server = phone_server
    client = ServerClient(server.url, token_store=MemoryTokenStore(server.url), retries=1)
    client.store_login(client.login_password(*ZHANG))
    exam = next(e for e in client.exams() if e.kind == "written" and e.state == "open")
    client.accept(exam.id)
    code = SecondCameraMonitor(client, None, exam_id=exam.id).create_code()
    try:
        chromium.get(code.url)
        wait_for(lambda: phone_state(chromium).get("phase") == "bound", 30, "the phone to bind")
        status = chromium.find_element("id", "status").text
        assert "进入考试后即可开始录制" in status, status
        chromium.implicitly_wait(0)
        wait_for(lambda: chromium.execute_script(
            "return !!document.getElementById('preview').srcObject"), 20, "the camera")
        assert not chromium.find_element("id", "start").is_enabled(), \
            "nothing to record into before the entry"

        _client, session = enter_written_exam(server.url)  # the candidate enters
        wait_for(lambda: chromium.find_element("id", "start").is_enabled(), 20,
                 "the phone to learn of the session")
        assert "开始录制" in chromium.find_element("id", "status").text
        chromium.find_element("id", "start").click()
        wait_for(lambda: len(client.recordings(session.session_id).tracks.get(
            "phone", _none).received) >= 1, 30, "the first phone chunk in the session")
        assert client.recordings(session.session_id).tracks["phone"].chain_ok is True
    finally:
        chromium.quit()
        client.close()


class _none:  # noqa: N801 - an empty track
    received: list = []
