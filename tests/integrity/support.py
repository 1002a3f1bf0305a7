"""Helpers for the integrity tests: logins, raw entry, tus uploads, manifest lines, admin."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun_formats.manifest import canonical_bytes, compute_mac, format_time, line_hash

ZHANG = ("110101199003070011", "zsy-demo-1")
REPO = Path(__file__).resolve().parents[2]


def login(url: str, who: tuple[str, str] = ZHANG) -> ServerClient:
    """A client logged in with a password."""
    client = ServerClient(url, token_store=MemoryTokenStore(url), retries=0)
    client.store_login(client.login_password(*who))
    return client


def open_written_exam(client: ServerClient) -> int:
    """The id of a written exam whose entry is open, rules accepted."""
    exam = next(e for e in client.exams() if e.kind == "written"
                and e.state in ("open", "in_progress"))
    client.accept(exam.id)
    return exam.id


def enter_raw(server, client: ServerClient, exam_id: int, body: dict | None) -> requests.Response:
    """``POST /exams/{id}/sessions`` with exactly ``body`` (no client-side checks)."""
    return requests.post(f"{server.url}/api/v1/exams/{exam_id}/sessions", json=body,
                         headers=client.auth_headers(), timeout=30)


def admin(server, *args: str) -> subprocess.CompletedProcess:
    """``zhishiyun-server admin …`` on the server's database."""
    return subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                           server.db_url, "--data", str(server.data_dir), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def report(server, session_id: str) -> dict:
    """``admin session-report SID --json`` parsed."""
    done = admin(server, "session-report", session_id, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Lines:
    """Chained, MAC'd manifest lines for one session, written the way the client does."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.last: dict[str, str] = {}

    def line(self, track: str, seq: int, data: bytes, start: datetime | None = None,
             duration_ms: int = 30000) -> str:
        """The next line of ``track`` for a segment holding ``data``."""
        start = start or datetime.now(timezone.utc) - timedelta(milliseconds=duration_ms)
        record = {"seq": seq, "track": track, "start": format_time(start),
                  "duration_ms": duration_ms, "bytes": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "prev": self.last.get(track, "")}
        record["mac"] = compute_mac(record, self.key)
        text = canonical_bytes(record)
        self.last[track] = line_hash(text)
        return text.decode("utf-8")


def tus_upload(upload_url: str, client: ServerClient, session_id: str, track: str, seq: int,
               data: bytes) -> None:
    """Upload one segment over tus in one PATCH (as the client's uploader does, smaller)."""
    meta = {"session_id": session_id, "track": track, "seq": str(seq),
            "sha256": hashlib.sha256(data).hexdigest(), "filename": f"{seq:06d}.mp4"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    auth = client.auth_headers()
    created = requests.post(upload_url, headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": header,
        **auth}, timeout=30)
    assert created.status_code == 201, created.text
    location = requests.compat.urljoin(upload_url, created.headers["Location"])
    patched = requests.patch(location, data=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream", **auth}, timeout=30)
    assert patched.status_code == 204, patched.text


def segment_bytes(seq: int) -> bytes:
    """Distinct bytes standing in for a segment (the server checks sha256, not the codec)."""
    return os.urandom(2048) + seq.to_bytes(4, "big")
