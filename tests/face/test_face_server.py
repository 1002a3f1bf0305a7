"""The server's face checks, driven over HTTP with real faces and transformed copies."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import cv2
import faces
import numpy as np
import requests
from face_api import LI, ZHANG, FaceApi, error


def test_same_person_passes_others_and_stills_fail_until_the_fallback(face_server):
    api = FaceApi(face_server.url)
    assert requests.get(api.api + "/config", timeout=10).json()["face_login"] is True

    # A photo held to the camera: one still picture repeated.
    still = faces.jpeg(faces.portrait("astronaut"))
    reply = api.attempt(lambda actions: [(still, i * 250, min(i // 3, len(actions)))
                                         for i in range(9)])
    assert reply.status_code == 403
    assert error(reply)["code"] == "liveness_static"
    assert error(reply)["stage"] == "liveness" and error(reply)["attempts_left"] == 2

    # Two people in view.
    pair = faces.two_faces()
    reply = api.attempt(lambda actions: [(faces.jpeg(faces.jitter(pair, i)), i * 250,
                                          min(i // 3, len(actions))) for i in range(9)])
    assert reply.status_code == 403 and error(reply)["code"] == "face_multiple"
    assert error(reply)["attempts_left"] == 1

    # The enrolled person doing the actions in order gets a token that works.
    challenge = api.challenge().json()
    frames = faces.burst("astronaut", challenge["actions"])
    reply = api.verify(challenge["challenge_id"], frames)
    assert reply.status_code == 200, reply.text
    login = reply.json()
    assert login["candidate"]["name"] == "张三"
    me = requests.get(api.api + "/me", timeout=10,
                      headers={"Authorization": f"Bearer {login['token']}"})
    assert me.status_code == 200 and me.json()["name"] == "张三"

    # The same challenge (and burst) again: refused, and the success reset the count.
    replay = api.verify(challenge["challenge_id"], frames)
    assert replay.status_code == 409 and error(replay)["code"] == "challenge_used"
    assert api.challenge().json()["attempts_left"] == 3

    # The actions in the wrong order fail liveness.
    reply = api.attempt(lambda actions: faces.burst("astronaut", actions[::-1]))
    assert reply.status_code == 403 and error(reply)["code"] == "liveness_action_missing"
    assert error(reply)["attempts_left"] == 2

    # Someone else doing everything right fails the match, twice: then the fallback.
    reply = api.attempt(lambda actions: faces.burst("grace_hopper", actions))
    assert reply.status_code == 403, reply.text
    assert error(reply)["code"] == "face_mismatch" and error(reply)["stage"] == "match"
    assert error(reply)["attempts_left"] == 1 and "fallback" not in error(reply)
    reply = api.attempt(lambda actions: faces.burst("grace_hopper", actions))
    assert error(reply)["attempts_left"] == 0
    assert error(reply)["fallback"] == "password"  # 张三 has a password; the org allows it

    refused = api.challenge()
    assert refused.status_code == 403
    assert error(refused)["code"] == "face_attempts_exhausted"
    assert error(refused)["fallback"] == "password"
    # Even the right person cannot use face login now (no further challenge is issued).
    assert api.challenge().status_code == 403

    # Every attempt is in the audit log, and no frame was kept (retention 0 days).
    db = sqlite3.connect(face_server.db_url.removeprefix("sqlite:///"))
    rows = db.execute("SELECT outcome, code, evidence_jpeg IS NOT NULL FROM face_attempts "
                      "ORDER BY id").fetchall()
    db.close()
    assert [r[0] for r in rows] == ["refused", "refused", "accepted", "refused", "refused",
                                    "refused"]
    assert [r[1] for r in rows if r[1]] == ["liveness_static", "face_multiple",
                                            "liveness_action_missing", "face_mismatch",
                                            "face_mismatch"]
    assert not any(r[2] for r in rows)


def test_bad_uploads_are_refused_before_any_face_work(face_server):
    api = FaceApi(face_server.url)
    challenge = api.challenge().json()
    frames = faces.burst("astronaut", challenge["actions"])

    ok, png = cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))
    not_jpeg = [(png.tobytes(), t, s) for _j, t, s in frames]
    reply = api.verify(challenge["challenge_id"], not_jpeg)
    assert reply.status_code == 415 and error(reply)["code"] == "not_jpeg"

    huge = b"\xff\xd8\xff\xe0" + bytes(challenge["max_frame_bytes"])
    reply = api.verify(challenge["challenge_id"], [(huge, 0, 0)] + frames[1:])
    assert reply.status_code == 413 and error(reply)["code"] == "frame_too_large"

    reply = api.verify(challenge["challenge_id"], frames[:2])
    assert reply.status_code == 422 and error(reply)["code"] == "too_few_frames"

    wrong_name = api.challenge(("王五", ZHANG[1]))
    assert wrong_name.status_code == 401 and error(wrong_name)["code"] == "identity_mismatch"

    # None of that used the challenge or an attempt: the real burst still logs in.
    reply = api.verify(challenge["challenge_id"], frames)
    assert reply.status_code == 200, reply.text


def test_cancel_cooldown_demo_enrolment_and_manual_review(face_server):
    api = FaceApi(face_server.url)
    first = api.challenge(LI).json()
    cancelled = api.cancel(first["challenge_id"], LI)
    assert cancelled.status_code == 200 and 55 <= cancelled.json()["cooldown_s"] <= 60
    waiting = api.challenge(LI)
    assert waiting.status_code == 429 and error(waiting)["code"] == "face_cooldown"
    assert int(waiting.headers["Retry-After"]) > 0
    # The cancelled challenge cannot be used either.
    reply = api.verify(first["challenge_id"], faces.burst("grace_hopper", first["actions"]),
                       LI)
    assert reply.status_code == 409

    # A minute later (the server restarted with its clock 61 s ahead) it may start again.
    face_server.stop()
    face_server.env["ZHISHIYUN_SERVER_CLOCK_OFFSET"] = "61"
    face_server.start()
    # 李四's photo shows no face: on the demo server their first good check enrols them.
    reply = api.attempt(lambda actions: faces.burst("grace_hopper", actions), LI)
    assert reply.status_code == 200, reply.text
    # From now on only that face logs in as 李四.
    for left in (2, 1, 0):
        reply = api.attempt(lambda actions: faces.burst("astronaut", actions), LI)
        assert error(reply)["code"] == "face_mismatch" and error(reply)["attempts_left"] == left
    assert error(reply)["fallback"] == "manual_review"  # 李四 has no password

    # Manual review: a photo holding the ID card, queued for staff.
    photo = faces.jpeg(faces.portrait("grace_hopper"))
    submitted = requests.post(api.api + "/auth/face/review", timeout=30,
                              data={"name": LI[0], "id_number": LI[1]},
                              files=[("photo", ("id.jpg", photo, "image/jpeg"))])
    assert submitted.status_code == 202, submitted.text
    review = submitted.json()
    status_url = f"{api.api}/auth/face/review/{review['review_id']}"
    headers = {"X-Review-Secret": review["secret"]}
    assert requests.get(status_url, headers=headers, timeout=10).json()["status"] == "pending"
    assert requests.get(status_url, headers={"X-Review-Secret": "guess"},
                        timeout=10).status_code == 404

    admin = [sys.executable, "-m", "zhishiyun_server", "admin", "--db", face_server.db_url]
    listed = subprocess.run(admin + ["face-reviews"], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0 and "李四" in listed.stdout, listed.stderr
    done = subprocess.run(admin + ["face-review", str(review["review_id"]), "approve",
                                   "--by", "staff"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    approved = requests.get(status_url, headers=headers, timeout=10).json()
    assert approved["status"] == "approved" and approved["token"]
    me = requests.get(api.api + "/me", timeout=10,
                      headers={"Authorization": f"Bearer {approved['token']}"})
    assert me.json()["name"] == "李四"
    again = requests.get(status_url, headers=headers, timeout=10).json()
    assert again["status"] == "approved" and again["token"] is None  # handed out once


def test_without_a_usable_photo_face_login_says_so_and_review_is_offered(server_factory):
    server = server_factory(demo=True, env={"ZHISHIYUN_DEMO_FACE_ENROL": "0"})
    api = FaceApi(server.url)
    reply = api.challenge(LI)  # 李四's photo shows no face; the demo switch is off
    assert reply.status_code == 409 and error(reply)["code"] == "face_not_enrolled"
    assert error(reply)["fallback"] == "manual_review"
    photo = faces.jpeg(faces.portrait("grace_hopper"))

    def review(who):
        for _attempt in range(5):  # as the client does: "busy, retry in N s" is retried
            reply = requests.post(api.api + "/auth/face/review", timeout=30,
                                  data={"name": who[0], "id_number": who[1]},
                                  files=[("photo", ("id.jpg", photo, "image/jpeg"))])
            if reply.status_code != 503:
                return reply
            time.sleep(float(reply.headers["Retry-After"]))
        return reply

    assert review(LI).status_code == 202
    refused = review(ZHANG)  # 张三 can still log in by face: no review for them yet
    assert refused.status_code == 403 and error(refused)["code"] == "review_not_available"

    # The organisation turns face login off: /config says so and no challenge is issued.
    off = subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db",
                          server.db_url, "face-login", "off"], capture_output=True, text=True,
                         timeout=60)
    assert off.returncode == 0, off.stderr
    assert requests.get(api.api + "/config", timeout=10).json()["face_login"] is False
    disabled = api.challenge(ZHANG)
    assert disabled.status_code == 403 and error(disabled)["code"] == "face_login_disabled"
