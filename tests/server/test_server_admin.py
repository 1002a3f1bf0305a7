"""``zhishiyun-server admin``: roster import, exams, papers, releases, messages, settings."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from tests.server.support import db_session
from zhishiyun_server.cli import main
from zhishiyun_server.demo import demo_photo
from zhishiyun_server.models import (
    Attachment,
    Candidate,
    Enrolment,
    Exam,
    Message,
    Organisation,
    Paper,
    Release,
)


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def admin(data: Path, *args: str) -> int:
    return main(["admin", "--data", str(data), *args])


def rows(data: Path, model):
    engine, db = db_session(f"sqlite:///{data / 'server.db'}")
    try:
        return list(db.scalars(select(model)))
    finally:
        db.close()
        engine.dispose()


def roster(tmp_path: Path, text: str) -> Path:
    (tmp_path / "photos").mkdir(exist_ok=True)
    (tmp_path / "photos" / "a.jpg").write_bytes(demo_photo(1))
    (tmp_path / "photos" / "not.jpg").write_bytes(b"GIF89a....")
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8-sig")
    return path


def test_roster_with_bad_rows_reports_line_numbers_and_imports_nothing(tmp_path, data, capsys):
    path = roster(tmp_path, "name,id_number,phone,photo\n"
                  "赵六,110101199003070011,13800000000,photos/a.jpg\n"
                  ",110101199003070012,,\n"
                  "钱七,440304199508150021,123,photos/missing.jpg\n"
                  "孙八,110101199003070011,,photos/not.jpg\n")
    assert admin(data, "import-candidates", str(path)) == 1
    err = capsys.readouterr().err
    assert "line 3: name is empty" in err
    assert "line 3: id_number '110101199003070012' is not a valid" in err
    assert "line 4: phone '123'" in err and "line 4: photo 'photos/missing.jpg'" in err
    assert "line 5: id_number repeats line 2" in err
    assert "line 5: photo 'photos/not.jpg' is not a JPEG" in err
    assert "nothing was imported" in err
    assert rows(data, Candidate) == []


def test_roster_import_creates_and_then_updates(tmp_path, data, capsys):
    path = roster(tmp_path, "id_number,name,phone,photo,email\n"
                  "110101199003070011,赵六,13800000000,photos/a.jpg,z@example.com\n"
                  "440304199508150021,钱七,,,\n")
    assert admin(data, "import-candidates", str(path)) == 0
    assert "imported 2 new and updated 0" in capsys.readouterr().out
    people = {p.id_number: p for p in rows(data, Candidate)}
    assert people["110101199003070011"].photo_jpeg.startswith(b"\xff\xd8")
    assert people["440304199508150021"].photo_jpeg is None
    path.write_text("name,id_number\n赵六六,110101199003070011\n", encoding="utf-8")
    assert admin(data, "import-candidates", str(path)) == 0
    assert {p.name for p in rows(data, Candidate)} == {"赵六六", "钱七"}


def test_roster_without_the_required_columns(tmp_path, data, capsys):
    path = roster(tmp_path, "名字,证件\n张三,1\n")
    assert admin(data, "import-candidates", str(path)) == 1
    assert "line 1: missing column(s) name, id_number" in capsys.readouterr().err


def test_exam_papers_attachments_messages_and_settings(tmp_path, data, capsys):
    path = roster(tmp_path, "name,id_number\n赵六,110101199003070011\n钱七,440304199508150021\n")
    assert admin(data, "import-candidates", str(path)) == 0
    assert admin(data, "create-exam", "--name", "期末", "--kind", "interview", "--lottery",
                 "--entry-opens", "2026-06-01T08:30", "--entry-closes", "2026-06-01T09:30",
                 "--starts", "2026-06-01T09:00", "--duration-min", "30", "--enrol-all") == 0
    exam = rows(data, Exam)[0]
    assert exam.lottery_required and exam.duration_s == 1800
    assert exam.starts_at.isoformat() == "2026-06-01T01:00:00+00:00"  # Beijing time by default
    assert len(rows(data, Enrolment)) == 2
    (tmp_path / "q.txt").write_text("题目一", encoding="utf-8")
    (tmp_path / "fake.pdf").write_bytes(b"not a pdf")
    assert admin(data, "add-paper", "--exam", str(exam.id), str(tmp_path / "q.txt")) == 0
    assert admin(data, "add-paper", "--exam", str(exam.id), str(tmp_path / "fake.pdf")) == 1
    assert admin(data, "add-paper", "--exam", "999", str(tmp_path / "q.txt")) == 1
    assert "no exam with id 999" in capsys.readouterr().err
    assert [p.kind for p in rows(data, Paper)] == ["text"]
    assert admin(data, "add-attachment", "--exam", str(exam.id), str(tmp_path / "q.txt")) == 0
    assert rows(data, Attachment)[0].content == "题目一".encode()
    assert admin(data, "send-message", "--title", "通知", "--body", "明天考试",
                 "--id-number", "440304199508150021") == 0
    assert [m.title for m in rows(data, Message)] == ["通知"]
    assert admin(data, "send-message", "--title", "x", "--body", "y",
                 "--id-number", "110101199003070019") == 1
    assert admin(data, "password-login", "on") == 0
    assert rows(data, Organisation)[0].password_login is True
    assert admin(data, "password-login", "off") == 0
    assert rows(data, Organisation)[0].password_login is False


def test_published_release_is_signed_with_the_key(tmp_path, data, capsys):
    key = tmp_path / "keys" / "release.pem"
    assert admin(data, "generate-release-key", "--out", str(key)) == 0
    public = capsys.readouterr().out.rsplit(" ", 1)[-1].strip()
    installer = tmp_path / "Zhishiyun-0.2.0.exe"
    installer.write_bytes(b"MZ" + b"\0" * 1000)
    assert admin(data, "publish-release", "--platform", "windows", "--version", "0.2.0",
                 "--minimum", "0.1.0", "--url", "https://dl.example.cn/z.exe",
                 "--file", str(installer), "--key", str(key)) == 0
    release = rows(data, Release)[0]
    manifest = json.loads(release.manifest)
    assert manifest["sha256"] == __import__("hashlib").sha256(installer.read_bytes()).hexdigest()
    assert manifest["size"] == 1002 and manifest["version"] == "0.2.0"
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(release.signature), release.manifest.encode())
    (tmp_path / "bad.pem").write_text("not a key")
    assert admin(data, "publish-release", "--platform", "linux", "--version", "1",
                 "--minimum", "1", "--url", "https://x.example/z", "--file", str(installer),
                 "--key", str(tmp_path / "bad.pem")) == 1
    assert "not an unencrypted PEM private key" in capsys.readouterr().err


def test_the_admin_entry_point_runs_as_a_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "zhishiyun_server", "admin", "--data", str(tmp_path),
         "set-password", "--id-number", "110101199003070011"],
        input="long-enough-pw\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no candidate with ID number 110101199003070011"


def test_an_unusable_database_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["--db", "postgresql://u:secret@127.0.0.1:1/x", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot open the database postgresql://u:***@127.0.0.1:1/x")
    assert "secret" not in err and len(err.splitlines()) == 1
    assert main(["admin", "--db", "nonsense://", "list-exams"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot use the database URL")
