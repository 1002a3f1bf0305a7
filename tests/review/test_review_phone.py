"""The phone track: its WebM (VP8) chunks as one WebM, seekable by Range, played in Chromium.

The chunks are real VP8 WebM files made with PyAV's libvpx, one complete file per chunk
as the phone's MediaRecorder writes them, sent the phone's way: a bind code redeemed for
the phone's credential, the server-signed manifest line, then tus.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time

import av
import numpy as np
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.exam.conftest import login, shape
from tests.exam.helpers import wait_for
from tests.review.conftest import browser_login, screenshot, staff_login
from zhishiyun.exam.second_camera import SecondCameraMonitor

CHUNKS, CHUNK_S, FPS = 3, 2, 10


def vp8_chunk(index: int) -> bytes:
    """A complete WebM of ``CHUNK_S`` seconds of a moving square, VP8, 320x240."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as output:
        stream = output.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.bit_rate = 300_000
        for i in range(CHUNK_S * FPS):
            picture = np.full((240, 320, 3), (30, 90 + index * 50, 160), np.uint8)
            x = (i * 13) % 260
            picture[90:150, x:x + 60] = 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


def _frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def _send_phone_chunks(server) -> str:
    """Enter 张三's exam, bind a phone and send its chunks; returns the session id."""
    exam_id = shape(server, "written", start_in=0, duration_s=600)
    client = login(server.url)
    client.accept(exam_id)
    sid = client.enter(exam_id).session_id
    code = SecondCameraMonitor(client, sid).create_code()
    credential = requests.post(f"{server.url}/api/v1/phone/redeem", json={"code": code.code},
                               timeout=10).json()["credential"]
    phone = {"Authorization": f"Bearer {credential}", "Tus-Resumable": "1.0.0"}
    start_ms = int(time.time() * 1000) - CHUNKS * CHUNK_S * 1000
    for seq in range(CHUNKS):
        data = vp8_chunk(seq)
        digest = hashlib.sha256(data).hexdigest()
        line = requests.post(f"{server.url}/api/v1/phone/manifest", headers=phone, timeout=10,
                             json={"seq": seq, "start_ms": start_ms + seq * CHUNK_S * 1000,
                                   "duration_ms": CHUNK_S * 1000, "bytes": len(data),
                                   "sha256": digest})
        assert line.status_code == 200, line.text
        meta = {"session_id": sid, "track": "phone", "seq": str(seq), "sha256": digest,
                "filename": f"{seq}.webm"}
        created = requests.post(f"{server.url}/files/", timeout=10, headers={
            **phone, "Upload-Length": str(len(data)), "Upload-Metadata": ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())})
        assert created.status_code == 201, created.text
        done = requests.patch(server.url + created.headers["Location"], data=data, timeout=10,
                              headers={**phone, "Upload-Offset": "0",
                                       "Content-Type": "application/offset+octet-stream"})
        assert done.status_code == 204, done.text
    return sid


def test_phone_track_is_one_webm_with_every_frame_and_answers_ranges(review_server):
    sid = _send_phone_chunks(review_server)
    http = staff_login(review_server.url)
    page = http.get(f"{review_server.url}/review/sessions/{sid}", timeout=10).text
    url = next(part.split('"')[0] for part in page.split('"url":"')[1:]
               if "/tracks/phone." in part)
    assert "/tracks/phone.webm?v=" in url  # named after its container
    whole = http.get(review_server.url + url, timeout=60)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/webm"
    part = http.get(review_server.url + url, headers={"Range": "bytes=100-1099"}, timeout=60)
    assert part.status_code == 206 and part.content == whole.content[100:1100]
    assert _frames(whole.content) == CHUNKS * CHUNK_S * FPS  # copied, nothing dropped
    with av.open(io.BytesIO(whole.content)) as container:
        assert container.streams.video[0].codec_context.name == "vp8"  # not re-encoded
        last = max(float(p.pts * p.time_base) for p in container.demux(video=0)
                   if p.pts is not None)
    assert last > (CHUNKS - 0.5) * CHUNK_S  # the chunks one after another, not overlaid
    wrong = http.get(f"{review_server.url}/review/sessions/{sid}/tracks/phone.mp4", timeout=60)
    assert wrong.status_code == 404 and "phone.webm" in wrong.json()["error"]["message"]


def test_session_page_plays_the_phone_track(browser, review_server):
    sid = _send_phone_chunks(review_server)
    browser_login(browser, review_server.url)
    WebDriverWait(browser, 20).until(ec.url_contains("/review/exams"))
    browser.get(f"{review_server.url}/review/sessions/{sid}")
    video = WebDriverWait(browser, 20).until(
        ec.presence_of_element_located((By.ID, "video-phone")))
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    state = "return [arguments[0].currentTime, arguments[0].error && arguments[0].error.code]"
    wait_for(lambda: browser.execute_script(state, video)[0] > 1.5, 20,
             "the phone video playing")
    assert browser.execute_script(state, video)[1] is None
    assert browser.execute_script("return arguments[0].duration", video) > 4  # every chunk
    browser.execute_script("arguments[0].pause()", video)
    screenshot(browser, "phone", height=700)
