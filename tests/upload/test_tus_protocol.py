"""The tus 1.0.0 endpoint of the real server, spoken to with plain HTTP requests."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
import requests

from tests.upload.conftest import LI, enter_written_exam, set_password, write_segments

pytestmark = pytest.mark.integration
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(entered, data: bytes, track: str, seq: int = 0, **extra: str) -> requests.Response:
    values = {"session_id": entered.session_id, "track": track, "seq": str(seq),
              "sha256": hashlib.sha256(data).hexdigest(), "filename": f"{seq}.mp4", **extra}
    return requests.post(entered.upload_url, headers={
        **TUS, **entered.auth, "Upload-Length": str(len(data)), "Upload-Metadata": meta(**values)},
        timeout=10)


def location(entered, resp: requests.Response) -> str:
    assert resp.status_code == 201, resp.text
    return requests.compat.urljoin(entered.upload_url, resp.headers["Location"])


def patch(entered, url: str, offset: int, body: bytes, checksum: str | None = None,
          **headers: str) -> requests.Response:
    extra = {"Upload-Checksum": checksum} if checksum else {}
    return requests.patch(url, data=body, timeout=10, headers={
        **TUS, **OCTETS, **entered.auth, "Upload-Offset": str(offset), **extra, **headers})


def sum_header(algo: str, body: bytes) -> str:
    return f"{algo} {base64.b64encode(hashlib.new(algo, body).digest()).decode()}"


def offset_of(entered, url: str) -> int:
    resp = requests.head(url, headers={**TUS, **entered.auth}, timeout=5)
    assert resp.status_code == 200
    return int(resp.headers["Upload-Offset"])


def test_options_advertises_version_extensions_and_checksums(demo_server):
    resp = requests.options(demo_server.url + "/files/", timeout=5)
    assert resp.status_code == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) >= {
        "creation", "checksum", "termination", "expiration"}
    assert set(resp.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}


def test_full_upload_with_checksums_is_recorded(entered):
    data = os.urandom(300_000)
    url = location(entered, create(entered, data, "proto-ok"))
    head = requests.head(url, headers={**TUS, **entered.auth}, timeout=5)
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert "Upload-Expires" in head.headers
    first, second = data[:100_000], data[100_000:]
    resp = patch(entered, url, 0, first, sum_header("sha1", first))
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == "100000"
    resp = patch(entered, url, 100_000, second, sum_header("sha256", second))
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
    tracks = entered.client.recordings(entered.session_id).tracks
    assert tracks["proto-ok"].received == [0]
    assert tracks["proto-ok"].bytes == len(data)


def test_bad_chunks_are_refused_and_nothing_of_them_is_kept(entered):
    data = os.urandom(200_000)
    url = location(entered, create(entered, data, "proto-bad"))
    chunk = data[:50_000]
    assert patch(entered, url, 0, chunk, sum_header("sha256", b"other")).status_code == 460
    assert offset_of(entered, url) == 0
    assert patch(entered, url, 0, chunk, "md5 AAAA").status_code == 400
    assert patch(entered, url, 10, chunk).status_code == 409
    assert patch(entered, url, 0, chunk, **{"Content-Type": "text/plain"}).status_code == 415
    assert patch(entered, url, 0, data + b"x").status_code == 413
    no_version = requests.patch(url, data=chunk, timeout=5, headers={
        **OCTETS, **entered.auth, "Upload-Offset": "0"})
    assert no_version.status_code == 412
    assert offset_of(entered, url) == 0
    assert patch(entered, url, 0, chunk).status_code == 204
    assert offset_of(entered, url) == 50_000


def test_creation_is_validated(entered):
    data = b"x" * 10
    assert requests.post(entered.upload_url, timeout=5, headers={
        **TUS, **entered.auth, "Upload-Length": "10"}).status_code == 400  # no metadata
    assert create(entered, data, "Bad Track!").status_code == 400
    assert requests.post(entered.upload_url, timeout=5, headers={
        **TUS, **entered.auth, "Upload-Length": "10",
        "Upload-Metadata": "session_id !!notbase64"}).status_code == 400
    huge = requests.post(entered.upload_url, timeout=5, headers={
        **TUS, **entered.auth, "Upload-Length": str(10**12), "Upload-Metadata": meta(
            session_id=entered.session_id, track="proto-big", seq="0", sha256="0" * 64)})
    assert huge.status_code == 413
    assert requests.post(entered.upload_url, timeout=5, headers={
        **TUS, "Upload-Length": "10"}).status_code == 401


def test_file_name_from_metadata_never_becomes_a_path(entered, demo_server):
    data = os.urandom(1000)
    resp = create(entered, data, "proto-name", filename="../../../evil.mp4")
    url = location(entered, resp)
    upload_id = url.rstrip("/").rsplit("/", 1)[1]
    assert len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id)
    assert patch(entered, url, 0, data).status_code == 204
    assert not any(p.name == "evil.mp4" for p in demo_server.data_dir.parent.rglob("evil.mp4"))
    head = requests.head(url, headers={**TUS, **entered.auth}, timeout=5)
    assert "evil" in base64.b64decode(
        dict(pair.split(" ") for pair in head.headers["Upload-Metadata"].split(","))[
            "filename"]).decode()  # kept as data, and only as data


def test_termination(entered):
    data = os.urandom(1000)
    url = location(entered, create(entered, data, "proto-del"))
    assert requests.delete(url, headers={**TUS, **entered.auth}, timeout=5).status_code == 204
    assert requests.head(url, headers={**TUS, **entered.auth}, timeout=5).status_code == 404
    assert patch(entered, url, 0, data).status_code == 404


def test_sha256_that_does_not_match_metadata_is_not_recorded(entered):
    data = os.urandom(5000)
    resp = create(entered, data, "proto-sha", sha256=hashlib.sha256(b"else").hexdigest())
    url = location(entered, resp)
    final = patch(entered, url, 0, data)
    assert final.status_code == 422
    assert final.json()["error"]["code"] == "sha256_mismatch"
    assert "proto-sha" not in entered.client.recordings(entered.session_id).tracks


def test_another_candidate_cannot_touch_the_upload(server_factory):
    server = server_factory()  # its own server: 李四 gets a password here
    entered = enter_written_exam(server.url)
    data = os.urandom(100_000)
    url = location(entered, create(entered, data, "proto-owner"))
    assert patch(entered, url, 0, data[:40_000]).status_code == 204
    set_password(server, LI)
    other = enter_written_exam(server.url, LI)
    assert other.session_id != entered.session_id
    for method in ("HEAD", "DELETE"):
        assert requests.request(method, url, headers={**TUS, **other.auth},
                                timeout=5).status_code == 404
    assert patch(other, url, 40_000, data[40_000:]).status_code == 404
    # nor start an upload into someone else's session
    other.session_id, own = entered.session_id, other.session_id
    assert create(other, data, "proto-owner", seq=1).status_code == 404
    assert other.client.recordings(own).tracks == {}
    assert offset_of(entered, url) == 40_000
    assert requests.post(
        f"{other.client.api_url}/sessions/{entered.session_id}/manifest", timeout=5,
        json={"lines": []}, headers=other.auth).status_code == 404


def test_manifest_chain_and_missing_segments_are_reported(entered, tmp_path):
    session_dir = tmp_path / entered.session_id
    paths = write_segments(session_dir, entered.session_key, "proto-chain", [2000, 2000, 2000])
    lines = (session_dir / "manifest.jsonl").read_text().splitlines()
    api = f"{entered.client.api_url}/sessions/{entered.session_id}"
    reply = requests.post(f"{api}/manifest", json={"lines": lines}, headers=entered.auth,
                          timeout=5)
    assert reply.status_code == 200 and reply.json()["accepted"] == 3
    for seq in (0, 2):
        data = paths[seq].read_bytes()
        url = location(entered, create(entered, data, "proto-chain", seq=seq))
        assert patch(entered, url, 0, data).status_code == 204
    track = entered.client.recordings(entered.session_id).tracks["proto-chain"]
    assert track.received == [0, 2] and track.missing == [1] and track.chain_ok is True
    # an edited line (its MAC fails) shows in chain_ok
    forged = json.loads(lines[1])
    forged["seq"], forged["prev"] = 3, "0" * 64
    requests.post(f"{api}/manifest", json={"lines": [json.dumps(forged)]},
                  headers=entered.auth, timeout=5).raise_for_status()
    track = entered.client.recordings(entered.session_id).tracks["proto-chain"]
    assert track.chain_ok is False and track.missing == [1, 3]
