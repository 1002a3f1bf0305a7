"""Helpers for upload tests: real server logins, sessions, recorded-like segment files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from zhishiyun.api.client import ServerClient
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.capture.manifest import ManifestWriter, sha256_file
from zhishiyun.capture.recovery import segment_path

ZHANG = ("110101199003070011", "zsy-demo-1")
LI = ("440304199508150021", "lisi-pass-1")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Entered:
    """A logged-in candidate inside their written exam."""

    client: ServerClient
    token: str
    session_id: str
    session_key: str
    upload_url: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login(url: str, who: tuple[str, str] = ZHANG) -> ServerClient:
    client = ServerClient(url, token_store=MemoryTokenStore(url), retries=0)
    client.store_login(client.login_password(*who))
    return client


def enter_written_exam(url: str, who: tuple[str, str] = ZHANG) -> Entered:
    client = login(url, who)
    exam = next(e for e in client.exams() if e.kind == "written"
                and e.state in ("open", "in_progress"))
    client.accept(exam.id)
    session = client.enter(exam.id)
    return Entered(client, client.tokens.get(), session.session_id, session.session_key,
                   session.upload_url)


def set_password(server, who: tuple[str, str]) -> None:
    """Give a demo candidate a password through the server's admin command."""
    subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db", server.db_url,
                    "--data", str(server.data_dir), "set-password", "--id-number", who[0]],
                   input=who[1] + "\n", text=True, check=True, capture_output=True, cwd=REPO)


def write_segments(session_dir: Path, key: str, track: str, sizes: list[int]) -> list[Path]:
    """Random segment files ``<track>/<seq>.mp4`` plus their chained manifest lines."""
    (session_dir / track).mkdir(parents=True, exist_ok=True)
    paths = []
    with ManifestWriter(session_dir / "manifest.jsonl", key) as manifest:
        for seq, size in enumerate(sizes):
            path = segment_path(session_dir, track, seq)
            with open(path, "wb") as f:
                left = size
                while left:
                    block = os.urandom(min(left, 1 << 20))
                    f.write(block)
                    left -= len(block)
            sha, n = sha256_file(path)
            manifest.append({"seq": seq, "track": track, "duration_ms": 30000, "bytes": n,
                             "start": "2026-11-23T19:30:00.000+08:00", "sha256": sha})
            paths.append(path)
    return paths


def stored_upload_sha256(server, session_id: str, track: str, seq: int) -> str | None:
    """sha256 of the bytes the server stored for (session, track, seq), if complete."""
    from zhishiyun_server.tus.storage import LocalDiskStorage

    storage = LocalDiskStorage(Path(server.data_dir) / "uploads")
    for upload_id in storage.ids():
        info = storage.get(upload_id)
        meta = info.metadata if info else {}
        if (meta.get("session_id"), meta.get("track"), meta.get("seq")) == \
                (session_id, track, str(seq)) and info.complete:
            with storage.open(upload_id) as f:
                return hashlib.sha256(f.read()).hexdigest()
    return None


def tus_offset(url: str, headers: dict[str, str] | None = None) -> int:
    resp = requests.head(url, headers={"Tus-Resumable": "1.0.0", **(headers or {})}, timeout=5)
    resp.raise_for_status()
    return int(resp.headers["Upload-Offset"])


@pytest.fixture
def entered(demo_server) -> Entered:
    return enter_written_exam(demo_server.url)
