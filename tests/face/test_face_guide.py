"""Client-side guidance (Haar cascade) and the during-exam presence sampler."""

from __future__ import annotations

import threading

import cv2
import faces
import numpy as np

from zhishiyun.auth.face_guide import FaceGuide
from zhishiyun.auth.presence import PresenceSampler, PresenceSettings


def bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def test_guidance_names_what_the_candidate_should_change():
    guide = FaceGuide()
    good = guide.assess(bgr(faces.portrait("astronaut")))
    assert good.ok and len(good.faces) == 1
    x, y, w, h = good.box
    assert 220 < x + w / 2 < 420 and 150 < w < 300  # the face in the middle, ~200 px

    assert guide.assess((bgr(faces.portrait("astronaut")) * 0.15).astype(np.uint8)).hint \
        == "too_dark"
    assert guide.assess(bgr(faces.two_faces())).hint == "several_faces"
    assert guide.assess(np.full((480, 640, 3), 128, np.uint8)).hint == "no_face"
    far = np.full((480, 640, 3), 128, np.uint8)  # seen from 2.5 times as far
    far[144:336, 192:448] = cv2.resize(bgr(faces.portrait("grace_hopper")), (256, 192))
    assert guide.assess(far).hint == "too_far"
    assert good.message() and guide.assess(far).message() != good.message()


def test_presence_reports_absence_and_extra_people():
    now = [0.0]
    events, hints = [], []
    sampler = PresenceSampler(PresenceSettings(absent_after_s=10), on_event=events.append,
                              on_hint=hints.append, clock=lambda: now[0])
    alone, empty, pair = (bgr(faces.portrait("astronaut")),
                          np.full((480, 640, 3), 90, np.uint8), bgr(faces.two_faces()))
    for t, frame in [(0, alone), (5, empty), (9, empty)]:
        now[0] = t
        sampler.sample(frame)
    assert events == [] and hints[-1] is None  # a short look away is not an event
    now[0] = 11
    sampler.sample(empty)
    assert [e.kind for e in events] == ["face_absent"] and hints[-1]
    now[0] = 14
    sampler.sample(alone)
    assert events[-1].kind == "face_returned" and events[-1].details["absent_s"] == 14
    for t in (15, 16):
        now[0] = t
        sampler.sample(pair)
    assert events[-1].kind == "multiple_faces" and events[-1].details["faces"] == 2
    now[0] = 17
    sampler.sample(alone)
    assert [e.kind for e in events] == ["face_absent", "face_returned", "multiple_faces",
                                        "multiple_faces_ended"]
    assert len({e.client_event_id for e in events}) == 4
    cost = sampler.cost()
    assert cost["samples"] == 8 and cost["ms_per_sample"] > 0
    print(f"\npresence cost: {cost}")


def test_presence_runs_on_its_own_thread_from_offered_frames():
    seen = threading.Event()
    threads = []

    def on_event(event):
        threads.append(threading.current_thread().name)
        seen.set()

    sampler = PresenceSampler(PresenceSettings(interval_s=0.05, multiple_after=2),
                              on_event=on_event)
    sampler.start()
    try:
        pair = bgr(faces.two_faces())
        for _ in range(100):
            sampler.offer(pair)  # as the recorder would, from its own thread
            if seen.wait(0.05):
                break
    finally:
        sampler.stop()
    assert seen.is_set() and threads == ["face-presence"]
