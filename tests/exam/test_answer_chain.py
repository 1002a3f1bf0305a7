"""Every saved answer version is a signed line of the session's ``answers`` chain."""

from __future__ import annotations

import json

import pytest

from tests.exam.conftest import login, server_db, shape
from tests.exam.helpers import wait_for
from zhishiyun.api.errors import ApiError
from zhishiyun.exam.runtime import ExamRuntime
from zhishiyun.exam.session import State
from zhishiyun_formats.answer_chain import ANSWERS_NAME


def _answers_track(client, session_id):
    reply = client.raw("GET", f"/sessions/{session_id}/recordings").json()
    return reply["tracks"]["answers"]


def test_answer_versions_are_chained_and_a_changed_version_shows(
        server_factory, devices, isolated_home):
    server = server_factory()
    written = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(written)
    runtime = ExamRuntime(client, isolated_home / "data")
    runtime.start()
    try:
        session = runtime.session({"id": written, "kind": "written"}, **devices)
        session.enter()
        for text in ("第一稿", "第二稿", "最后的答案"):
            session.save_answer("q1", text)
        session.save_answer("q2", "B")
        session.finish("candidate_ended")
        wait_for(lambda: session.state == State.DONE, 60, "every upload confirmed")
        lines = [json.loads(x) for x in
                 (session.session_dir / ANSWERS_NAME).read_text().splitlines()]
        assert [(r["seq"], r["question"], r["version"]) for r in lines] == [
            (0, "q1", 1), (1, "q1", 2), (2, "q1", 3), (3, "q2", 1)]

        track = _answers_track(client, session.session_id)
        assert (track["received"], track["missing"], track["chain_ok"]) == (
            [0, 1, 2, 3], [], True)

        # a line that does not describe the answer it came with is refused
        forged = dict(lines[2], version=4)
        with pytest.raises(ApiError) as refused:
            client.raw("PUT", f"/sessions/{session.session_id}/answers/q1", json={
                "version": 4, "content": "改过的", "saved_at": lines[2]["start"],
                "chain": json.dumps(forged)})
        assert refused.value.code == "answer_chain_mismatch"

        # the stored answer changed after the fact: the chain no longer vouches for it
        from sqlalchemy import update

        from zhishiyun_server.models import Answer

        with server_db(server)() as db:
            db.execute(update(Answer).where(Answer.session_id == session.session_id,
                                            Answer.question_id == "q1")
                       .values(content="事后改的答案"))
            db.commit()
        assert _answers_track(client, session.session_id)["chain_ok"] is False
    finally:
        runtime.close()
