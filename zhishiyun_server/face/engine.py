"""The face engine: dlib HOG detection, 68-point landmarks and 128-d embeddings.

The model files come from ``face-recognition-models`` and are called through dlib directly
(``dlib-bin``, prebuilt; the ``face_recognition`` package would compile dlib). Models load
once, lazily, on first use; every call into dlib runs under one lock because the ResNet
embedding model is not safe to share between threads.

Measured on the reference machine (one core): detection ≈ 25 ms per 640×480 frame
(no upsampling), landmarks ≈ 2 ms, one embedding ≈ 80 ms.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: Detections scoring below this are ignored (dlib finds faint "faces" in textures).
MIN_DETECTION_SCORE = 0.3
#: Frames are scaled down so their longest side is at most this before detection.
MAX_SIDE = 960


class EngineUnavailable(RuntimeError):
    """dlib or the model files are not installed on this server."""


@dataclass(frozen=True)
class Face:
    """One detected face: its box (left, top, right, bottom), score and 68 landmarks."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray  # (68, 2) float, image coordinates
    shape: object  # the dlib full_object_detection, kept for the embedding

    @property
    def width(self) -> int:
        """Box width in pixels."""
        return self.box[2] - self.box[0]


class FaceEngine:
    """Detection, landmarks and embeddings on RGB ``uint8`` images."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._detector = self._predictor = self._encoder = None

    def _load(self) -> None:
        if self._loaded:
            return
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineUnavailable(f"face engine not installed: {exc}") from exc
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(models.pose_predictor_model_location())
        self._encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._loaded = True
        log.info("face engine loaded (dlib %s)", getattr(dlib, "__version__", "?"))

    def warm_up(self) -> None:
        """Load the models now (about a second) instead of on the first login."""
        with self._lock:
            self._load()

    def detect(self, rgb: np.ndarray, *, upsample: int = 0) -> list[Face]:
        """Every face scoring at least :data:`MIN_DETECTION_SCORE`, largest first."""
        with self._lock:
            self._load()
            rects, scores, _ = self._detector.run(rgb, upsample, 0.0)
            faces = []
            for rect, score in zip(rects, scores, strict=False):
                if score < MIN_DETECTION_SCORE:
                    continue
                shape = self._predictor(rgb, rect)
                points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
                box = (rect.left(), rect.top(), rect.right(), rect.bottom())
                faces.append(Face(box=box, score=float(score), landmarks=points, shape=shape))
        return sorted(faces, key=lambda f: f.width, reverse=True)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The 128-d embedding (float32) of ``face`` in ``rgb``."""
        with self._lock:
            self._load()
            vector = self._encoder.compute_face_descriptor(rgb, face.shape)
        return np.asarray(vector, dtype=np.float32)


_engine: FaceEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The process-wide engine (models load on first use)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FaceEngine()
        return _engine


def engine_available() -> bool:
    """True when dlib and the model files are installed (does not load the models)."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models as models
    except ImportError:
        return False
    from pathlib import Path

    return all(Path(p).is_file() for p in (models.pose_predictor_model_location(),
                                          models.face_recognition_model_location()))


def embedding_to_bytes(vector: np.ndarray) -> bytes:
    """Stored form of an embedding (128 little-endian float32)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def embedding_from_bytes(data: bytes) -> np.ndarray:
    """Inverse of :func:`embedding_to_bytes`."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two embeddings (same person ≈ 0.2–0.4, others ≳ 0.6)."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
