"""Enrolment: the embedding of a roster photo, computed once at import and stored.

Hooks for the roster import and the demo seed (one call each)::

    from zhishiyun_server.face.enrol import enrol_candidate
    enrol_candidate(candidate)   # after candidate.photo_jpeg is set; caller commits

A photo without exactly one clear face leaves ``face_embedding`` empty (logged): that
candidate cannot log in by face until staff replace the photo (or, on the demo server, the
first successful liveness check enrols them).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

from zhishiyun_server.face.engine import (
    EngineUnavailable,
    embedding_to_bytes,
    engine_available,
    get_engine,
)
from zhishiyun_server.face.liveness import FrameRejected, decode_jpeg

log = logging.getLogger(__name__)


def embedding_of_photo(jpeg: bytes) -> np.ndarray | None:
    """The embedding of the single face in an ID photo, or None (no face, several, bad file)."""
    try:
        rgb = decode_jpeg(jpeg)
    except FrameRejected:
        rgb = None
        bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)  # big photos
        if bgr is not None:
            scale = 1280 / max(bgr.shape[:2])
            bgr = cv2.resize(bgr, None, fx=min(1, scale), fy=min(1, scale))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if rgb is None:
        return None
    engine = get_engine()
    faces = engine.detect(rgb, upsample=1)
    if len(faces) != 1:
        return None
    return engine.embed(rgb, faces[0])


def enrol_candidate(candidate) -> bool:
    """Set ``candidate.face_embedding`` from ``candidate.photo_jpeg``; True when enrolled.

    Never raises for a bad photo or a missing engine (logged instead); the caller commits.
    """
    if not candidate.photo_jpeg:
        candidate.face_embedding = None
        return False
    if not engine_available():
        log.warning("face engine not installed: candidate %s not enrolled", candidate.id)
        return False
    try:
        vector = embedding_of_photo(candidate.photo_jpeg)
    except EngineUnavailable:
        return False
    candidate.face_embedding = embedding_to_bytes(vector) if vector is not None else None
    if vector is None:
        log.warning("no single clear face in the photo of candidate %s: not enrolled",
                    getattr(candidate, "id", "?"))
    return vector is not None


def _package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return path if path.is_file() else None


def demo_photo(which: str) -> bytes | None:
    """A real face for a demo candidate when the sample-image packages are installed.

    ``astronaut`` (scikit-image: Eileen Collins, NASA, public domain) or ``grace_hopper``
    (matplotlib's sample data, US Navy, public domain); None when the package is missing.
    The files are read directly (importing the packages would slow every demo start-up).
    """
    path = (_package_file("skimage", "data", "astronaut.png") if which == "astronaut" else
            _package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg")
            if which == "grace_hopper" else None)
    bgr = cv2.imread(str(path)) if path else None
    if bgr is None:
        return None
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buffer.tobytes() if ok else None


_tried: dict[int, bytes] = {}


def ensure_enrolled(candidate) -> bool:
    """Enrol a candidate whose photo has no embedding yet (once per photo and process).

    The roster import enrols at import time; the demo seed leaves it to the first face
    login so that server start-up stays fast. Returns True when an embedding exists.
    """
    if candidate.face_embedding:
        return True
    if not candidate.photo_jpeg or _tried.get(candidate.id) == candidate.photo_jpeg[:4096]:
        return False
    _tried[candidate.id] = candidate.photo_jpeg[:4096]
    return enrol_candidate(candidate)
