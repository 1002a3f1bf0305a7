"""Who is in front of the camera: one frame against the candidate's enrolled face.

Used at entry and at the random identity checks during an exam. The result is one of
``match``, ``mismatch``, ``no_face``, ``several_faces``, ``not_enrolled`` or
``unreadable``; the frame itself is not kept (only the result and the distance).
"""

from __future__ import annotations

from dataclasses import dataclass

from zhishiyun_server.face.engine import EngineUnavailable, distance, get_engine
from zhishiyun_server.face.enrol import ensure_enrolled
from zhishiyun_server.face.liveness import FrameRejected, decode_jpeg
from zhishiyun_server.face.policy import FacePolicy
from zhishiyun_server.face.policy import current as current_policy
from zhishiyun_server.face.service import enrolled_embedding
from zhishiyun_server.models import Candidate

RESULTS = ("match", "mismatch", "no_face", "several_faces", "not_enrolled", "unreadable",
           "engine_unavailable")
#: A second face smaller than this share of the largest one's width is background noise.
SECOND_FACE_SHARE = 0.45


@dataclass(frozen=True)
class IdentityResult:
    """The outcome of one comparison."""

    result: str
    faces: int = 0
    distance: float | None = None

    @property
    def severity(self) -> str:
        """``severe`` for a mismatch, ``warning`` for anything but a match, else ``info``."""
        if self.result == "mismatch":
            return "severe"
        return "info" if self.result == "match" else "warning"

    def to_dict(self) -> dict:
        """Event details."""
        data = {"result": self.result, "faces": self.faces, "severity": self.severity}
        if self.distance is not None:
            data["distance"] = round(self.distance, 3)
        return data


def compare_frame(candidate: Candidate, jpeg: bytes,
                  policy: FacePolicy | None = None) -> IdentityResult:
    """Compare one camera JPEG with ``candidate``'s enrolled face (blocking, ~0.1 s)."""
    policy = policy or current_policy()
    ensure_enrolled(candidate)  # the demo enrols its photos lazily; the caller commits
    enrolled = enrolled_embedding(candidate)
    if enrolled is None:
        return IdentityResult("not_enrolled")
    try:
        rgb = decode_jpeg(jpeg)
    except FrameRejected:
        return IdentityResult("unreadable")
    try:
        engine = get_engine()
        faces = engine.detect(rgb) or engine.detect(rgb, upsample=1)
        if not faces:
            return IdentityResult("no_face")
        main = faces[0]
        others = [f for f in faces[1:] if f.width >= SECOND_FACE_SHARE * main.width]
        if others:
            return IdentityResult("several_faces", faces=1 + len(others))
        gap = distance(engine.embed(rgb, main), enrolled)
    except EngineUnavailable:
        return IdentityResult("engine_unavailable")
    return IdentityResult("match" if gap <= policy.tolerance else "mismatch", faces=1,
                          distance=gap)
