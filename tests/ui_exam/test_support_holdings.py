"""The support page shows how much this computer holds, and for which exams."""

from __future__ import annotations

from tests.exam.conftest import login, shape
from tests.exam.helpers import wait_for
from zhishiyun.exam.session import State


def test_the_support_page_lists_the_exams_stored_here(server_factory, devices, runtime_for,
                                                      qtbot):
    from zhishiyun.ui.info_pages import SupportWidget

    server = server_factory()
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    login(server.url).accept(exam_id)
    runtime = runtime_for(server)
    session = runtime.session({"id": exam_id, "kind": "written"}, **devices)
    session.enter()
    wait_for(lambda: len(session.segment_items()) >= 2, 20, "closed segments")
    session.finish("candidate_ended")
    wait_for(lambda: session.state == State.DONE, 60, "every upload confirmed")

    config = runtime.client.config().model_dump()
    page = SupportWidget(config, holdings=runtime.local_holdings)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: session.exam_name in page.stored.text(), timeout=15_000)
    text = page.stored.text()
    assert "MB" in text and "已上传" in text, text  # uploaded, and when it leaves
