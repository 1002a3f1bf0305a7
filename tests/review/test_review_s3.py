"""The console reads segments through the upload storage: the same on S3 as on local disk."""

from __future__ import annotations

import hashlib
import io
import zipfile

from tests.review.conftest import STAFF, add_staff, finish_exam, staff_login, start_exam
from tests.review.test_review_media import _frames
from tests.server import seaweed

s3, s3_bucket = seaweed.s3, seaweed.s3_bucket  # the fixtures (a real SeaweedFS)


def test_track_picture_and_export_come_from_s3(server_factory, s3_bucket, camera_video,
                                               tmp_path):
    server = server_factory(env={**s3_bucket["env"],
                                 "ZHISHIYUN_SERVER_STORAGE": s3_bucket["storage"]})
    assert not list((server.data_dir / "uploads").glob("*.bin"))  # nothing on local disk
    add_staff(server, *STAFF)
    summary = finish_exam(start_exam(server, camera_video, 8, tmp_path))
    sid = summary["session_id"]
    objects = s3_bucket["client"].list_objects_v2(Bucket=s3_bucket["bucket"])["Contents"]
    assert len(objects) >= len(summary["tracks"]["camera"]["uploaded"])
    http = staff_login(server.url)

    archive = zipfile.ZipFile(io.BytesIO(http.get(
        f"{server.url}/review/sessions/{sid}/export.zip", timeout=60).content))
    sums = dict(reversed(line.split("  ", 1)) for line in
                archive.read("SHA256SUMS").decode().splitlines())
    segments = sorted(n for n in sums if n.startswith("segments/camera/"))
    assert len(segments) == len(summary["tracks"]["camera"]["uploaded"])
    assert all(hashlib.sha256(archive.read(n)).hexdigest() == sums[n] for n in sums)

    page = http.get(f"{server.url}/review/sessions/{sid}", timeout=10).text
    url = next(p.split('"')[0] for p in page.split('"url":"')[1:] if "/camera.mp4" in p)
    track = http.get(server.url + url, timeout=60)
    assert track.status_code == 200
    assert _frames(track.content) == sum(_frames(archive.read(n)) for n in segments)
    picture = http.get(f"{server.url}/review/sessions/{sid}/picture.jpg", timeout=30)
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"
