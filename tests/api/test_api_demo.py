"""The demo data and the test hooks: a server whose clock is 400 s ahead of start-up."""

from __future__ import annotations

import pytest

from tests.server.support import ZHANG_SAN, running_server
from zhishiyun.api import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ahead(tmp_path_factory):
    env = {"ZHISHIYUN_SERVER_CLOCK_OFFSET": "400", "ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "60",
           "ZHISHIYUN_DEMO_INTERVIEW_DELAY_S": "300"}
    with running_server(tmp_path_factory, env=env) as server:
        c = ServerClient(server.url, token_store=MemoryTokenStore())
        c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
        yield c


def test_clock_offset_moves_the_server_into_the_interview_window(ahead):
    states = {e.kind + ":" + e.name: e.state for e in ahead.exams()}
    assert states["interview:2026 年研究生复试面试（演示）"] == "open"
    interview = next(e for e in ahead.exams() if e.kind == "interview")
    ahead.accept(interview.id)
    ahead.draw_lot(interview.id)
    assert ahead.enter(interview.id).session_id


def test_demo_papers_are_a_real_pdf_a_real_png_and_text(ahead):
    import cv2
    import numpy as np
    import pypdfium2

    written = next(e for e in ahead.exams() if e.name.startswith("2026 年春季"))
    ahead.accept(written.id)
    papers = ahead.papers(ahead.enter(written.id).session_id).papers
    assert [p.kind for p in papers] == ["pdf", "image", "text"]
    pdf = pypdfium2.PdfDocument(ahead.paper_content(papers[0]))
    assert "Zhishiyun demo written exam" in pdf[0].get_textpage().get_text_range()
    image = cv2.imdecode(np.frombuffer(ahead.paper_content(papers[1]), np.uint8),
                         cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    assert "隐私" in papers[2].text


def test_server_clock_measured_against_a_server_400_s_ahead(ahead):
    from zhishiyun.clock import ServerClock

    clock = ServerClock()
    clock.sync(ahead, samples=5)
    assert clock.synced and clock.rtt_s < 1.0
    assert clock.system_offset_s == pytest.approx(400, abs=1.0)
    assert clock.seconds_until(clock.now()) == pytest.approx(0, abs=0.5)


def test_server_help_documents_the_hooks(capsys):
    from zhishiyun_server.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for hook in ("ZHISHIYUN_SERVER_CLOCK_OFFSET", "ZHISHIYUN_DEMO_INTERVIEW_DELAY_S",
                 "ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S", "--demo", "admin"):
        assert hook in out
