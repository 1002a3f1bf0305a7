"""Plain-HTTP helpers for the hardening tests: log in, enter the demo exam, tus calls."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import requests

from tests.server.support import ZHANG_SAN

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


@dataclass
class Inside:
    """A candidate logged in and inside the demo written exam."""

    url: str
    token: str
    session_id: str
    session_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/api/v1{path}", headers={
            **self.auth, **kwargs.pop("headers", {})}, timeout=kwargs.pop("timeout", 30),
            **kwargs)


def login(url: str, id_number: str = ZHANG_SAN[1], password: str = ZHANG_SAN[2]) -> str:
    resp = requests.post(f"{url}/api/v1/auth/password", timeout=30,
                         json={"id_number": id_number, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def enter(url: str, token: str | None = None) -> Inside:
    token = token or login(url)
    auth = {"Authorization": f"Bearer {token}"}
    exams = requests.get(f"{url}/api/v1/exams", headers=auth, timeout=30).json()["exams"]
    exam = next(e for e in exams if e["kind"] == "written" and e["state"] in ("open",
                                                                              "in_progress"))
    requests.post(f"{url}/api/v1/exams/{exam['id']}/accept", headers=auth, timeout=30)
    session = requests.post(f"{url}/api/v1/exams/{exam['id']}/sessions", headers=auth,
                            timeout=30).json()
    return Inside(url, token, session["session_id"], session["session_key"])


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def tus_create(inside: Inside, length: int, *, seq: str = "0", track: str = "screen",
               sha256: str = "0" * 64, **extra: str) -> requests.Response:
    meta = metadata(session_id=inside.session_id, track=track, seq=seq, sha256=sha256,
                    **extra)
    return requests.post(f"{inside.url}/files/", timeout=30, headers={
        **TUS, **inside.auth, "Upload-Length": str(length), "Upload-Metadata": meta})


def tus_patch(inside: Inside, location: str, offset: int, body: bytes) -> requests.Response:
    return requests.patch(f"{inside.url}{location}", data=body, timeout=60, headers={
        **TUS, **OCTETS, **inside.auth, "Upload-Offset": str(offset)})


def upload(inside: Inside, data: bytes, seq: int, track: str = "screen") -> requests.Response:
    """Create and send a whole segment; the reply of the last PATCH (its Location attached)."""
    created = tus_create(inside, len(data), seq=str(seq), track=track,
                         sha256=hashlib.sha256(data).hexdigest())
    assert created.status_code == 201, created.text
    reply = tus_patch(inside, created.headers["Location"], 0, data)
    reply.location = created.headers["Location"]
    return reply
