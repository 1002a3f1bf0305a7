"""Every rule the server enforces, driven through ServerClient against the real server."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.server.support import WANG_WU, ZHANG_SAN, add_exam
from zhishiyun.api import ApiError, ServerClient
from zhishiyun.api.tokens import MemoryTokenStore

pytestmark = pytest.mark.integration
H = timedelta(hours=1)
M = timedelta(minutes=1)


def client(server) -> ServerClient:
    return ServerClient(server.url, token_store=MemoryTokenStore(server.url), retries=1,
                        backoff=0.05)


@pytest.fixture(scope="module")
def zhang(live_server):
    c = client(live_server)
    c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
    yield c
    c.close()


@pytest.fixture(scope="module")
def wang(live_server):
    c = client(live_server)
    c.login_password(WANG_WU[1], WANG_WU[2])
    yield c
    c.close()


@pytest.fixture(scope="module")
def open_exam(live_server):
    """Entry open now, started ten minutes ago: papers are visible."""
    return add_exam(live_server.db_url, opens=-H, closes=H, starts=-10 * M)


def entered(c: ServerClient, exam_id: int):
    c.accept(exam_id)
    return c.enter(exam_id)


def code_of(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


# --- login ------------------------------------------------------------------------------

def test_password_login_answers_token_and_masked_candidate(live_server):
    c = client(live_server)
    result = c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
    assert result.candidate.name == "张三"
    assert result.candidate.id_number_masked == "110*************11"
    assert c.token == result.token and len(result.token) >= 40
    assert c.me().name == "张三"
    c.logout()
    assert c.token is None


def test_logout_revokes_the_token_on_the_server(live_server):
    c = client(live_server)
    token = c.login_password(ZHANG_SAN[1], ZHANG_SAN[2]).token
    c.logout()
    other = client(live_server)
    other.tokens.set(token)
    assert code_of(other.me).code == "unauthorized"
    assert other.token is None  # a refused token is forgotten


def test_wrong_password_and_face_only_candidate_are_refused(live_server):
    c = client(live_server)
    err = code_of(c.login_password, ZHANG_SAN[1], "wrong-password")
    assert (err.status, err.code) == (401, "invalid_credentials")
    assert code_of(c.login_password, "440304199508150021", "anything").code == \
        "invalid_credentials"
    assert c.token is None


def test_too_many_failed_logins_answer_429_with_retry_after(live_server):
    c = client(live_server)
    target = "11010119800101" + uuid.uuid4().hex[:4]
    for _ in range(5):
        assert code_of(c.login_password, target, "nope").code == "invalid_credentials"
    err = code_of(c.login_password, target, "nope")
    assert (err.status, err.code) == (429, "too_many_attempts")
    assert err.retry_after and 0 < err.retry_after <= 300
    assert str(err.retry_after) in err.message


def test_calls_without_or_with_a_bogus_token_are_401(live_server):
    c = client(live_server)
    assert code_of(c.exams).code == "unauthorized"
    c.tokens.set("not-a-real-token")
    err = code_of(c.exams)
    assert (err.status, err.code) == (401, "unauthorized")


def test_my_photo_is_the_enrolled_jpeg(zhang, wang):
    assert zhang.my_photo().startswith(b"\xff\xd8")
    err = code_of(wang.my_photo)
    assert (err.status, err.code) == (404, "no_photo")


def test_profile_update_is_validated(zhang):
    assert zhang.update_me(phone="13912345678").phone == "13912345678"
    assert zhang.me().phone == "13912345678"
    err = code_of(zhang.update_me, phone="12345")
    assert (err.status, err.code) == (422, "invalid_phone")
    assert code_of(zhang.update_me, email="not-an-email").code == "invalid_email"


# --- exams ------------------------------------------------------------------------------

def test_exam_list_has_the_contract_fields(zhang):
    exams = zhang.exams()
    kinds = {e.kind for e in exams}
    assert {"written", "interview"} <= kinds
    states = {e.name: e.state for e in exams}
    assert states["2026 年春季招聘笔试（演示）"] == "open"
    assert states["2026 年研究生复试面试（演示）"] == "upcoming"
    finished = next(e for e in exams if e.state == "finished")
    assert finished.recordings and finished.recordings[0].tracks["screen"].segments == 4
    written = next(e for e in exams if e.name.startswith("2026 年春季"))
    assert {a.filename for a in written.attachments} == {"考生须知.txt", "sample-paper.pdf"}
    pdf = next(a for a in written.attachments if a.filename.endswith(".pdf"))
    assert zhang.download(pdf.url).startswith(b"%PDF-")


def test_entry_before_the_window_is_refused_with_its_times(zhang, live_server):
    exam_id = add_exam(live_server.db_url, opens=H, closes=2 * H, starts=2 * H)
    zhang.accept(exam_id)
    err = code_of(zhang.enter, exam_id)
    assert (err.status, err.code) == (403, "entry_not_open")
    assert err.details["entry_opens_at"] and err.details["entry_closes_at"]
    assert err.details["entry_opens_at"][:4] in err.server_message


def test_entry_after_the_window_is_refused(zhang, live_server):
    exam_id = add_exam(live_server.db_url, opens=-3 * H, closes=-2 * H, starts=-2 * H)
    zhang.accept(exam_id)
    err = code_of(zhang.enter, exam_id)
    assert (err.status, err.code) == (403, "entry_closed")
    assert next(e for e in zhang.exams() if e.id == exam_id).state == "missed"


def test_accept_comes_before_entry(zhang, live_server):
    exam_id = add_exam(live_server.db_url, opens=-H, closes=H, starts=H)
    assert code_of(zhang.enter, exam_id).code == "not_accepted"
    first = zhang.accept(exam_id).accepted_at
    assert zhang.accept(exam_id).accepted_at == first
    session = zhang.enter(exam_id)
    assert session.upload_url == live_server.url + "/files/"
    assert session.recording["segment_seconds"] == 30 and len(session.session_key) == 64
    again = zhang.enter(exam_id)  # re-entering after a crash: same session
    assert (again.session_id, again.session_key) == (session.session_id, session.session_key)


def test_interview_needs_the_lot_and_the_lot_is_drawn_once(zhang, wang, live_server):
    exam_id = add_exam(live_server.db_url, opens=-H, closes=H, starts=H, kind="interview",
                       lottery=True)
    zhang.accept(exam_id)
    assert code_of(zhang.enter, exam_id).code == "lottery_required"
    number = zhang.draw_lot(exam_id).lottery_number
    assert [zhang.draw_lot(exam_id).lottery_number for _ in range(3)] == [number] * 3
    other = wang.draw_lot(exam_id).lottery_number
    assert {number, other} == {1, 2}
    assert next(e for e in zhang.exams() if e.id == exam_id).lottery_number == number
    assert zhang.enter(exam_id).session_id


def test_written_exam_has_no_lottery(zhang, open_exam):
    assert code_of(zhang.draw_lot, open_exam).code == "lottery_not_required"


def test_papers_only_from_the_start_time(zhang, live_server, open_exam):
    later = add_exam(live_server.db_url, opens=-H, closes=H, starts=H)
    session = entered(zhang, later)
    err = code_of(zhang.papers, session.session_id)
    assert (err.status, err.code) == (403, "not_started") and err.details["starts_at"]
    session = entered(zhang, open_exam)
    papers = zhang.papers(session.session_id).papers
    assert [p.text for p in papers] == ["1+1?"]


def test_another_candidates_things_are_404(zhang, wang, live_server, open_exam):
    mine = entered(zhang, open_exam)
    zhang.put_answer(mine.session_id, "q1", 1, "mine")
    private = add_exam(live_server.db_url, opens=-H, closes=H, starts=-M,
                       enrol=(ZHANG_SAN[1],))
    for call, args in [
        (wang.papers, (mine.session_id,)),
        (wang.put_answer, (mine.session_id, "q1", 99, "overwrite")),
        (wang.answers, (mine.session_id,)),
        (wang.post_events, (mine.session_id, [{"id": "x", "kind": "k",
                                               "at": "2026-01-01T00:00:00Z"}])),
        (wang.finish, (mine.session_id, "candidate_ended")),
        (wang.exam, (private,)),
        (wang.accept, (private,)),
        (wang.enter, (private,)),
        (wang.read_message, (zhang.messages().messages[0].id,)),
    ]:
        err = code_of(call, *args)
        assert (err.status, err.code) == (404, "not_found"), call.__name__
    assert [a.content for a in zhang.answers(mine.session_id)] == ["mine"]
    assert private not in {e.id for e in wang.exams()}


def test_answers_are_versioned(zhang, open_exam):
    sid = entered(zhang, open_exam).session_id
    assert zhang.put_answer(sid, "q2", 2, "second").version == 2
    err = code_of(zhang.put_answer, sid, "q2", 1, "first, arriving late")
    assert (err.status, err.code) == (409, "stale_version")
    assert zhang.put_answer(sid, "q2", 2, "second").content == "second"  # retry is a no-op
    assert code_of(zhang.put_answer, sid, "q2", 2, "different").code == "stale_version"
    assert zhang.put_answer(sid, "q2", 3, "third").content == "third"
    assert {a.question_id: a.content for a in zhang.answers(sid)}["q2"] == "third"


def test_event_batches_are_idempotent(zhang, open_exam):
    sid = entered(zhang, open_exam).session_id
    batch = [{"id": f"e{i}", "kind": "focus_lost", "at": "2026-03-01T08:00:00+08:00",
              "details": {"i": i}} for i in range(3)]
    first = zhang.post_events(sid, batch)
    assert (first.accepted, first.duplicates) == (3, 0)
    again = zhang.post_events(sid, batch + [{"id": "e3", "kind": "network_lost",
                                             "at": "2026-03-01T08:01:00+08:00"}])
    assert (again.accepted, again.duplicates) == (1, 3)


def test_finish_is_idempotent_and_closes_the_session(zhang, live_server):
    exam_id = add_exam(live_server.db_url, opens=-H, closes=H, starts=-M)
    sid = entered(zhang, exam_id).session_id
    first = zhang.finish(sid, "candidate_ended")
    second = zhang.finish(sid, "time_up")
    assert (second.finished_at, second.reason) == (first.finished_at, "candidate_ended")
    assert code_of(zhang.enter, exam_id).code == "exam_finished"
    assert next(e for e in zhang.exams() if e.id == exam_id).state == "finished"


def test_messages_can_be_read(zhang):
    box = zhang.messages()
    unread = [m for m in box.messages if not m.read]
    assert box.unread == len(unread) >= 2
    zhang.read_message(unread[0].id)
    zhang.read_message(unread[0].id)
    assert zhang.messages().unread == box.unread - 1


# --- no login needed ----------------------------------------------------------------------

def test_config_carries_every_threshold_and_recording_field(live_server):
    import dataclasses

    from zhishiyun.config import CheckThresholds, RecordingSettings, merge_from_server

    config = client(live_server).config()
    assert config.password_login is True and config.face_login in (True, False)
    assert config.support.phone and config.support.qq and config.support.email
    assert set(config.checks) == {f.name for f in dataclasses.fields(CheckThresholds)}
    assert set(config.recording) == {f.name for f in dataclasses.fields(RecordingSettings)}
    assert merge_from_server(RecordingSettings(), config.recording) == RecordingSettings()
    assert config.upload.max_upload_bytes > 0 and config.ntp_servers


def test_health_time_and_speedtest(live_server):
    c = client(live_server)
    assert c.health().status == "ok"
    assert abs(c.server_time().server_time_ms / 1000 - __import__("time").time()) < 5
    assert c.speedtest(b"x" * 1_000_000).bytes == 1_000_000
    err = code_of(c.speedtest, b"x" * (8 * 1024 * 1024 + 1))
    assert (err.status, err.code) == (413, "too_large")


def test_no_release_published_is_a_clear_404(live_server):
    err = code_of(client(live_server).release, "linux")
    assert (err.status, err.code) == (404, "no_release")


def test_an_expired_token_is_refused_and_forgotten(live_server):
    from sqlalchemy import update

    from tests.server.support import db_session
    from zhishiyun_server.models import Token
    from zhishiyun_server.security import token_digest

    c = client(live_server)
    token = c.login_password(ZHANG_SAN[1], ZHANG_SAN[2]).token
    engine, db = db_session(live_server.db_url)
    try:
        db.execute(update(Token).where(Token.token_hash == token_digest(token))
                   .values(expires_at=__import__("datetime").datetime(2020, 1, 1)))
        db.commit()
    finally:
        db.close()
        engine.dispose()
    err = code_of(c.exams)
    assert (err.status, err.code) == (401, "token_expired")
    assert "expired" in err.message and c.token is None


# --- administration seen by a client -------------------------------------------------------

def admin(server, *args: str) -> None:
    from zhishiyun_server.cli import main

    assert main(["admin", "--db", server.db_url, "--data", str(server.data_dir), *args]) == 0


def test_password_login_switch_message_and_release_reach_the_client(live_server, tmp_path):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    c = client(live_server)
    admin(live_server, "password-login", "off")
    try:
        assert c.config().password_login is False
        err = code_of(c.login_password, ZHANG_SAN[1], ZHANG_SAN[2])
        assert (err.status, err.code) == (403, "password_login_disabled")
    finally:
        admin(live_server, "password-login", "on")
    c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])

    admin(live_server, "send-message", "--title", "考场变更", "--body", "改到 302",
          "--id-number", ZHANG_SAN[1])
    assert c.messages().messages[0].title == "考场变更"

    key = tmp_path / "release.pem"
    from zhishiyun_server.releases import generate_key

    public = generate_key(key)
    installer = tmp_path / "setup.exe"
    installer.write_bytes(b"installer bytes")
    admin(live_server, "publish-release", "--platform", "windows", "--version", "0.3.0",
          "--minimum", "0.2.0", "--url", "https://dl.example.cn/setup.exe",
          "--file", str(installer), "--key", str(key))
    release = c.release("windows", "0.1.0")
    assert (release.latest, release.update_available, release.update_required) == \
        ("0.3.0", True, True)
    assert not c.release("windows", "0.3.0").update_available
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(release.signature), release.manifest.encode())


def test_racing_saves_never_let_an_older_version_win(live_server):
    import random
    from concurrent.futures import ThreadPoolExecutor

    clients = [client(live_server) for _ in range(4)]
    for c in clients:
        c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
    exam_id = add_exam(live_server.db_url, opens=-H, closes=H, starts=-M)
    sid = entered(clients[0], exam_id).session_id
    versions = list(range(1, 41))
    random.Random(7).shuffle(versions)

    def save(i_version):
        i, version = i_version
        try:
            clients[i % 4].put_answer(sid, "race", version, f"v{version}")
        except ApiError as exc:
            assert exc.code == "stale_version"

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(save, enumerate(versions)))
    stored = {a.question_id: a for a in clients[0].answers(sid)}["race"]
    assert (stored.version, stored.content) == (40, "v40")
    finishes = [clients[i].finish for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda f: f(sid, "candidate_ended"), finishes))
    assert len({(r.finished_at, r.reason) for r in replies}) == 1


def test_overlapping_event_batches_racing_lose_nothing(live_server):
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from tests.server.support import db_session
    from zhishiyun_server.models import Event

    clients = [client(live_server) for _ in range(3)]
    for c in clients:
        c.login_password(ZHANG_SAN[1], ZHANG_SAN[2])
    exam_id = add_exam(live_server.db_url, opens=-H, closes=H, starts=-M)
    sid = entered(clients[0], exam_id).session_id

    def batch(start):
        return [{"id": f"ev{i}", "kind": "focus_lost", "at": "2026-03-01T08:00:00Z"}
                for i in range(start, start + 20)]

    with ThreadPoolExecutor(3) as pool:  # 0-19, 10-29, 20-39 all at once
        list(pool.map(lambda i: clients[i].post_events(sid, batch(i * 10)), range(3)))
    engine, db = db_session(live_server.db_url)
    try:
        ids = set(db.scalars(select(Event.client_event_id).where(Event.session_id == sid)))
        assert ids == {f"ev{i}" for i in range(40)}
        assert db.scalar(select(func.count()).select_from(Event)
                         .where(Event.session_id == sid)) == 40
    finally:
        db.close()
        engine.dispose()
