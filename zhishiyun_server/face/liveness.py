"""Reading a burst of frames and deciding: one face, the challenge's actions in order, a match.

The checks run in this order and the first failure is the answer:

1. ``face``: every frame decodes as a JPEG, shows exactly one face (a few frames without a
   face are tolerated while the head turns), and the frames are not one still picture
   repeated (``liveness_static``).
2. ``liveness``: each action of the challenge is seen, in order, inside the frames the
   client labelled with that action's step, relative to the neutral frames of step 0:
   blink (eye aspect ratio drops), turn left/right (nose moves along the jaw line), open
   mouth (inner lips part).
3. ``match``: the most neutral frame of each third of the burst (start, middle, end) is
   within the organisation's tolerance of the enrolled embedding, so the person cannot
   change midway.

What this proves and what it does not: a printed photo or a replayed still cannot blink or
turn on cue, and a random order defeats a clip made for another challenge. A video of the
person doing every action, or a camera-injection tool, is not detected by landmarks alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from zhishiyun_server.face import geometry
from zhishiyun_server.face.engine import Face, FaceEngine, distance

ACTIONS = ("blink", "turn_left", "turn_right", "open_mouth")
#: A blink: EAR at most this fraction of the neutral EAR and below the absolute limit.
BLINK_RELATIVE, BLINK_ABSOLUTE = 0.7, 0.21
#: A head turn: the nose moves this far (fraction of the jaw width) from its neutral place.
TURN_SHIFT = 0.08
#: An open mouth: inner-lip ratio at least this, and this much above neutral.
MOUTH_ABSOLUTE, MOUTH_RELATIVE = 0.30, 0.15
#: Frames whose 64×48 grey thumbnails differ by less than this (mean, 0–255) are "the same".
STATIC_DIFF = 1.5
#: Share of frames that may lack a face (a turned head may escape the frontal detector).
MAX_FACELESS_SHARE = 0.34
MAX_PIXELS = 1920 * 1080


class FrameRejected(ValueError):
    """A frame is not a usable JPEG (the request is refused before any face work)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FrameIn:
    """One uploaded frame: JPEG bytes, client time (ms) and the challenge step shown."""

    jpeg: bytes
    t_ms: int
    step: int


@dataclass
class Reading:
    """What one frame showed."""

    index: int
    step: int
    faces: list[Face]
    rgb: np.ndarray
    thumb: np.ndarray
    ear: float = 0.0
    mar: float = 0.0
    yaw: float = 0.5

    @property
    def face(self) -> Face | None:
        """The one face, when exactly one was found."""
        return self.faces[0] if len(self.faces) == 1 else None


@dataclass
class Verdict:
    """The outcome: ``ok`` or the failed ``stage`` (face, liveness, match) with a code."""

    ok: bool
    stage: str = ""
    code: str = ""
    message: str = ""
    distance: float | None = None
    embedding: np.ndarray | None = None
    frontal_jpeg: bytes | None = None
    details: dict = field(default_factory=dict)


def is_jpeg(data: bytes) -> bool:
    """True when ``data`` starts like a JPEG file (SOI marker)."""
    return data[:3] == b"\xff\xd8\xff"


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB ``uint8`` pixels of a JPEG.

    Raises:
        FrameRejected: not a JPEG, undecodable, or more than 1920×1080 pixels.
    """
    if not is_jpeg(data):
        raise FrameRejected("not_jpeg", "Frames must be JPEG images.")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameRejected("not_jpeg", "A frame is not a readable JPEG image.")
    if bgr.shape[0] * bgr.shape[1] > MAX_PIXELS:
        raise FrameRejected("frame_too_large", "Frames may be at most 1920×1080 pixels.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_frames(engine: FaceEngine, frames: list[FrameIn]) -> list[Reading]:
    """Decode every frame and measure its faces (decode errors raise :class:`FrameRejected`)."""
    images = [decode_jpeg(f.jpeg) for f in frames]
    readings = []
    for index, (frame, rgb) in enumerate(zip(frames, images, strict=False)):
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
        faces = engine.detect(rgb)
        if not faces and index == 0:
            faces = engine.detect(rgb, upsample=1)  # a small face: look closer once
        reading = Reading(index=index, step=frame.step, faces=faces, rgb=rgb, thumb=thumb)
        if reading.face is not None:
            points = reading.face.landmarks
            reading.ear = geometry.eyes_open(points)
            reading.mar = geometry.mouth_open(points)
            reading.yaw = geometry.yaw_ratio(points)
        readings.append(reading)
    return readings


def _is_static(readings: list[Reading]) -> bool:
    pairs = zip(readings, readings[1:], strict=False)
    diffs = [float(np.mean(np.abs(a.thumb - b.thumb))) for a, b in pairs]
    return not diffs or max(diffs) < STATIC_DIFF


def check_faces(readings: list[Reading]) -> Verdict | None:
    """A refusal when a frame has several faces, too many have none, or all are the same."""
    several = [r.index for r in readings if len(r.faces) > 1]
    if several:
        return Verdict(False, "face", "face_multiple",
                       "More than one face was in view. Only the candidate may be in front "
                       "of the camera.", details={"frames": several})
    with_face = [r for r in readings if r.face is not None]
    if len(with_face) < max(2, round(len(readings) * (1 - MAX_FACELESS_SHARE))):
        return Verdict(False, "face", "face_not_found",
                       "No face was found in too many frames. Face the camera in good light.",
                       details={"frames_with_face": len(with_face), "frames": len(readings)})
    if _is_static(readings):
        return Verdict(False, "liveness", "liveness_static",
                       "The pictures did not change: a photo or a still image cannot pass "
                       "the liveness check.")
    return None


def _action_seen(action: str, r: Reading, base: dict[str, float]) -> bool:
    if action == "blink":
        return r.ear <= base["ear"] * BLINK_RELATIVE and r.ear <= BLINK_ABSOLUTE
    if action == "open_mouth":
        return r.mar >= MOUTH_ABSOLUTE and r.mar - base["mar"] >= MOUTH_RELATIVE
    if action == "turn_left":
        return r.yaw - base["yaw"] >= TURN_SHIFT
    if action == "turn_right":
        return base["yaw"] - r.yaw >= TURN_SHIFT
    raise ValueError(f"unknown action {action!r}")


def check_actions(readings: list[Reading], actions: list[str]) -> Verdict | None:
    """A refusal naming the first action not seen, in order, in its step's frames."""
    with_face = [r for r in readings if r.face is not None]
    neutral = [r for r in with_face if r.step == 0] or with_face
    base = {"ear": float(np.median([r.ear for r in neutral])),
            "mar": float(np.median([r.mar for r in neutral])),
            "yaw": float(np.median([r.yaw for r in neutral]))}
    after, seen_at = -1, []
    for step, action in enumerate(actions, start=1):
        hit = next((r.index for r in with_face
                    if r.index > after and r.step == step and _action_seen(action, r, base)),
                   None)
        if hit is None:
            return Verdict(False, "liveness", "liveness_action_missing",
                           f"The action '{action}' (step {step}) was not seen.",
                           details={"action": action, "step": step, "baseline": base,
                                    "seen_at": seen_at})
        seen_at.append(hit)
        after = hit
    return None


def _match_frames(readings: list[Reading]) -> list[Reading]:
    """The most neutral frame (eyes open, facing the camera) of each third of the burst."""
    with_face = [r for r in readings if r.face is not None]
    neutral = [r for r in with_face if r.step == 0] or with_face
    base = {k: float(np.median([getattr(r, k) for r in neutral])) for k in ("ear", "mar", "yaw")}

    def oddness(r: Reading) -> float:
        return (abs(r.yaw - base["yaw"]) + max(0.0, base["ear"] - r.ear)
                + max(0.0, r.mar - base["mar"]))

    thirds = [with_face[i * len(with_face) // 3:(i + 1) * len(with_face) // 3]
              for i in range(3)]
    chosen = {min(part, key=oddness).index: min(part, key=oddness)
              for part in thirds if part}
    return [chosen[i] for i in sorted(chosen)]


def check_match(engine: FaceEngine, readings: list[Reading], enrolled: np.ndarray | None,
                tolerance: float) -> Verdict:
    """Embeddings of a few frames against ``enrolled`` (None: nothing to compare, ok)."""
    frames = _match_frames(readings)
    vectors = [engine.embed(r.rgb, r.face) for r in frames]
    frontal = frames[0]
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(frontal.rgb, cv2.COLOR_RGB2BGR))
    frontal_jpeg = buffer.tobytes() if ok else None
    # The burst must be one person throughout, enrolled or not.
    spread = max(distance(vectors[0], v) for v in vectors)
    if spread > tolerance:
        return Verdict(False, "match", "face_changed",
                       "The face changed during the check.", distance=spread)
    if enrolled is None:
        return Verdict(True, embedding=np.mean(vectors, axis=0), frontal_jpeg=frontal_jpeg)
    worst = max(distance(enrolled, v) for v in vectors)
    if worst > tolerance:
        return Verdict(False, "match", "face_mismatch",
                       "The face does not match the enrolled photo.", distance=worst,
                       frontal_jpeg=frontal_jpeg)
    return Verdict(True, distance=worst, embedding=np.mean(vectors, axis=0),
                   frontal_jpeg=frontal_jpeg)


def verify_burst(engine: FaceEngine, frames: list[FrameIn], actions: list[str],
                 enrolled: np.ndarray | None, tolerance: float) -> Verdict:
    """Run every check on a burst; ``details['timings_ms']`` says where the time went."""
    started = time.perf_counter()
    readings = read_frames(engine, frames)
    read_ms = (time.perf_counter() - started) * 1000
    verdict = check_faces(readings) or check_actions(readings, actions)
    if verdict is None:
        verdict = check_match(engine, readings, enrolled, tolerance)
    total_ms = (time.perf_counter() - started) * 1000
    verdict.details["timings_ms"] = {
        "frames": len(frames), "read": round(read_ms, 1),
        "per_frame": round(read_ms / max(1, len(frames)), 1), "total": round(total_ms, 1)}
    return verdict
