"""A written sitting with several versions of one answer, saved through the real API.

Question 1 gets four versions, each with its signed line of the session's ``answers`` chain
(the client's own :class:`~zhishiyun.exam.answer_chain.AnswerChain`):

- v1 and v2 saved and delivered during the exam;
- v3 saved before the end but delivered after it (late: queued while offline);
- v4 saved after the end (refused with 409 ``saved_after_end``, kept in the history only).

The exam's end is moved into the past between v2 and v3 (as if time ran out meanwhile).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from tests.exam.conftest import login, server_db, shape
from zhishiyun.exam.answer_chain import AnswerChain
from zhishiyun_formats.manifest import format_time

TEXTS = {1: "第一稿：片段录制", 2: "第二稿：片段录制是崩溃安全的",
         3: "第三稿：断网时改的，结束前保存", 4: "第四稿：结束后才写的"}


@dataclass
class Sitting:
    """What :func:`sitting_with_versions` made: the session and each version's reply."""

    session_id: str
    token: str
    replies: dict[int, requests.Response] = field(default_factory=dict)
    chain_hashes: dict[int, str] = field(default_factory=dict)
    saved_at: dict[int, datetime] = field(default_factory=dict)


def _put(server, sitting: Sitting, chain: AnswerChain, version: int, saved_at: datetime):
    stamp = format_time(saved_at)
    line = chain.append("1", version, stamp, TEXTS[version])
    sitting.chain_hashes[version] = json.loads(line)["sha256"]
    sitting.saved_at[version] = saved_at
    reply = requests.put(f"{server.url}/api/v1/sessions/{sitting.session_id}/answers/1",
                         headers={"Authorization": f"Bearer {sitting.token}"}, timeout=10,
                         json={"version": version, "content": TEXTS[version],
                               "saved_at": stamp, "chain": line})
    sitting.replies[version] = reply
    return reply


def sitting_with_versions(server, folder: Path) -> Sitting:
    """Enter 张三's written exam and save versions 1-4 of question 1 (see the module doc)."""
    from zhishiyun_server.models import Exam

    now = datetime.now(timezone.utc)
    exam_id = shape(server, "written", start_in=-1800, duration_s=3600)
    client = login(server.url)
    client.accept(exam_id)
    session = client.enter(exam_id)
    sitting = Sitting(session.session_id, client.auth_headers()["Authorization"].split()[1])
    chain = AnswerChain(folder, session.session_key)
    try:
        _put(server, sitting, chain, 1, now - timedelta(minutes=25))
        _put(server, sitting, chain, 2, now - timedelta(minutes=20))
        with server_db(server)() as db:  # the exam ended 10 minutes ago
            db.get(Exam, exam_id).duration_s = 1200
            db.commit()
        _put(server, sitting, chain, 3, now - timedelta(minutes=15))
        _put(server, sitting, chain, 4, now - timedelta(seconds=5))
    finally:
        chain.close()
    return sitting
