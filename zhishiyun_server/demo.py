"""Demo data (``--demo``): fixed people, exams relative to start-up, papers, messages.

The people are fixed by DESIGN §3 (README, QA and tests rely on them):
张三 110101199003070011 password ``zsy-demo-1``; 李四 440304199508150021 (face only).
ID photos are simple drawn JPEGs (:func:`demo_photo`); the face-login part may replace
them with real faces (``Candidate.photo_jpeg``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zhishiyun_server.db import session_scope
from zhishiyun_server.face.enrol import demo_photo as face_photo
from zhishiyun_server.integrity import settings as integrity_settings
from zhishiyun_server.models import (
    Answer,
    Attachment,
    Candidate,
    Enrolment,
    Event,
    Exam,
    ExamSession,
    Message,
    Organisation,
    Paper,
    RecordingSegment,
)
from zhishiyun_server.pdf import simple_pdf
from zhishiyun_server.security import hash_password
from zhishiyun_server.settings import ServerConfig

ZHANG_SAN = ("张三", "110101199003070011")
LI_SI = ("李四", "440304199508150021")
DEMO_PASSWORD = "zsy-demo-1"
WRITTEN_EXAM = "2026 年春季招聘笔试（演示）"
INTERVIEW = "2026 年研究生复试面试（演示）"
FINISHED_EXAM = "2026 年模拟笔试（已结束）"


@dataclass
class DemoSummary:
    """What the demo database holds (printed at start-up)."""

    seeded: bool
    exams: list[tuple[int, str, str]]


def demo_photo(seed: int) -> bytes:
    """A drawn head-and-shoulders picture as JPEG (a stand-in for a real ID photo)."""
    import cv2
    import numpy as np

    image = np.full((400, 300, 3), (235, 225, 215), np.uint8)
    skin = (150 + seed * 10, 180, 225)
    cv2.ellipse(image, (150, 390), (120, 80), 0, 180, 360, (90, 60, 40), -1)
    cv2.ellipse(image, (150, 170), (75, 95), 0, 0, 360, skin, -1)
    for x in (120, 180):
        cv2.circle(image, (x, 150), 8, (40, 30, 30), -1)
    cv2.ellipse(image, (150, 215), (25, 10), 0, 0, 180, (60, 60, 160), 3)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def demo_figure() -> bytes:
    """A PNG figure for the written exam's second question."""
    import cv2
    import numpy as np

    image = np.full((480, 640, 3), 255, np.uint8)
    cv2.rectangle(image, (60, 80), (300, 400), (200, 120, 40), 4)
    cv2.circle(image, (460, 240), 110, (40, 140, 60), 4)
    cv2.line(image, (300, 240), (350, 240), (0, 0, 0), 3)
    cv2.putText(image, "Figure 1: A -> B", (60, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.0,
                (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(image, "A", (160, 250), cv2.FONT_HERSHEY_SIMPLEX, 2, (200, 120, 40), 3)
    cv2.putText(image, "B", (440, 260), cv2.FONT_HERSHEY_SIMPLEX, 2, (40, 140, 60), 3)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def _paper_pdf() -> bytes:
    return simple_pdf("Zhishiyun demo written exam - Part A", [
        "Answer every question in the answer box next to it.",
        "",
        "1. Explain in your own words what a crash-safe recording is. (20 points)",
        "2. Look at Figure 1 (next paper). Describe how A relates to B. (30 points)",
        "3. Write a short plan for a remote exam on a slow network. (50 points)",
        "",
        "Time: 60 minutes. Keep your face in view of the camera.",
    ])


RULES = ("1. 考试全程开启摄像头、麦克风并录制屏幕。\n2. 考试期间不得切换窗口或使用其他软件。\n"
         "3. 请在入场时间内进入考场，开考后按时作答。")


def _exam(db: Session, name: str, kind: str, opens, closes, starts, duration_s: int,
          lottery: bool = False, second_camera: bool = False) -> Exam:
    exam = Exam(name=name, kind=kind, entry_opens_at=opens, entry_closes_at=closes,
                starts_at=starts, duration_s=duration_s, lottery_required=lottery,
                requires_second_camera=second_camera, rules=RULES)
    db.add(exam)
    db.flush()
    return exam


def seed(db: Session, config: ServerConfig) -> None:
    """Write the demo organisation, people, exams, papers and messages (caller commits)."""
    # Relative to the real start-up time, so ZHISHIYUN_SERVER_CLOCK_OFFSET moves the server
    # into (or past) the demo windows.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db.add(Organisation(
        name="智试云演示机构 (Zhishiyun demo)", support_phone="400-800-1234",
        support_qq="800012345", support_email="support@zhishiyun.example",
        support_hours="每天 8:00–22:00 (Beijing time)", password_login=True, face_login=True,
        ntp_servers=["ntp.aliyun.com", "ntp.tencent.com", "cn.pool.ntp.org"],
        checks={}, recording={}))
    integrity_settings.demo_defaults(db)
    zhang = Candidate(name=ZHANG_SAN[0], id_number=ZHANG_SAN[1], phone="13800138000",
                      email="zhangsan@example.com",
                      # A real face when scikit-image is installed (embedded at first face
                      # login); 李四's drawn photo has none: the demo enrols them at first login.
                      photo_jpeg=face_photo("astronaut") or demo_photo(0),
                      password_hash=hash_password(DEMO_PASSWORD))
    li = Candidate(name=LI_SI[0], id_number=LI_SI[1], phone="13900139000",
                   email="lisi@example.com", photo_jpeg=demo_photo(3))
    db.add_all([zhang, li])
    db.flush()

    start = now + timedelta(seconds=config.demo_written_start_delay_s)
    written = _exam(db, WRITTEN_EXAM, "written", now - timedelta(minutes=10),
                    start + timedelta(minutes=30), start, 3600)
    db.add_all([
        Paper(exam_id=written.id, position=0, kind="pdf", title="Part A (PDF)",
              filename="part-a.pdf", content_type="application/pdf", content=_paper_pdf()),
        Paper(exam_id=written.id, position=1, kind="image", title="Figure 1",
              filename="figure-1.png", content_type="image/png", content=demo_figure()),
        Paper(exam_id=written.id, position=2, kind="text", title="第二部分 简答题",
              content_type="text/plain; charset=utf-8",
              content="4. 请简述远程考试中保护考生隐私的三种做法。（30 分）".encode()),
        Attachment(exam_id=written.id, filename="考生须知.txt",
                   content_type="text/plain; charset=utf-8",
                   content=("考生须知\n" + RULES + "\n").encode()),
        Attachment(exam_id=written.id, filename="sample-paper.pdf",
                   content_type="application/pdf",
                   content=simple_pdf("Sample paper", ["This is what a paper looks like."])),
    ])

    opens = now + timedelta(seconds=config.demo_interview_delay_s)
    interview = _exam(db, INTERVIEW, "interview", opens, opens + timedelta(minutes=30),
                      opens + timedelta(minutes=10), 1200, lottery=True, second_camera=True)
    db.add_all([
        Paper(exam_id=interview.id, position=0, kind="text", title="面试题目",
              content_type="text/plain; charset=utf-8",
              content="请用三分钟介绍你的研究兴趣，并回答专家提问。".encode()),
        Attachment(exam_id=interview.id, filename="面试流程.txt",
                   content_type="text/plain; charset=utf-8",
                   content="抽签 → 阅读并同意考试规则 → 设备确认 → 候考 → 面试\n".encode()),
    ])

    past = now - timedelta(days=1)
    finished = _exam(db, FINISHED_EXAM, "written", past - timedelta(minutes=30),
                     past + timedelta(minutes=15), past, 1800)
    db.add(Paper(exam_id=finished.id, position=0, kind="text", title="模拟题",
                 content_type="text/plain; charset=utf-8", content=b"1. 1 + 1 = ?"))

    for exam in (written, interview, finished):
        for person in (zhang, li):
            db.add(Enrolment(exam_id=exam.id, candidate_id=person.id))
    db.flush()
    done = db.scalar(select(Enrolment).where(Enrolment.exam_id == finished.id,
                                             Enrolment.candidate_id == zhang.id))
    done.accepted_at = past - timedelta(minutes=20)
    session = ExamSession(id="demo-finished-" + secrets.token_hex(4), exam_id=finished.id,
                          candidate_id=zhang.id, session_key=secrets.token_hex(32),
                          entered_at=past - timedelta(minutes=10),
                          finished_at=past + timedelta(minutes=28), finish_reason="candidate_ended")
    db.add(session)
    db.flush()
    db.add(Answer(session_id=session.id, question_id="1", version=3, content="2",
                  updated_at=past + timedelta(minutes=5)))
    db.add(Event(session_id=session.id, client_event_id="demo-1", kind="focus_lost",
                 at=past + timedelta(minutes=7), details={"seconds": 3}))
    for track in ("screen", "camera"):
        for seq in range(4):
            blob = f"{session.id}/{track}/{seq}".encode()
            db.add(RecordingSegment(session_id=session.id, track=track, seq=seq,
                                    bytes=1_000_000 + seq, sha256=hashlib.sha256(blob).hexdigest(),
                                    storage_key="", received_at=past + timedelta(minutes=seq)))

    for person in (zhang, li):
        db.add_all([
            Message(candidate_id=person.id, title="欢迎使用智试云",
                    body="请在考试前完成设备检测，并确认摄像头和麦克风正常。",
                    sent_at=now - timedelta(hours=2)),
            Message(candidate_id=person.id, title=f"{WRITTEN_EXAM} 入场提醒",
                    body="笔试入场时间已开始，请提前进入候考。",
                    sent_at=now - timedelta(minutes=5)),
        ])
    db.add(Message(candidate_id=zhang.id, title="成绩查询", body="模拟笔试成绩将于三日后公布。",
                   sent_at=now - timedelta(hours=20), read_at=now - timedelta(hours=19)))


def seed_if_empty(factory: sessionmaker[Session], config: ServerConfig) -> DemoSummary:
    """Seed the demo data unless the database already has candidates."""
    with session_scope(factory) as db:
        empty = not db.scalar(select(func.count()).select_from(Candidate))
        if empty:
            seed(db, config)
            db.flush()
        exams = [(e.id, e.kind, e.name) for e in db.scalars(select(Exam).order_by(Exam.id))]
    return DemoSummary(seeded=empty, exams=exams)


def describe(summary: DemoSummary, url: str) -> str:
    """The start-up banner with the demo people."""
    state = "seeded demo data" if summary.seeded else "database already had data (not reseeded)"
    lines = [f"Zhishiyun demo server at {url} ({state})",
             f"  {ZHANG_SAN[0]}  ID {ZHANG_SAN[1]}  password {DEMO_PASSWORD}  (password login)",
             f"  {LI_SI[0]}  ID {LI_SI[1]}  (face login only)"]
    lines += [f"  exam {i}: {kind:9} {name}" for i, kind, name in summary.exams]
    return "\n".join(lines)
