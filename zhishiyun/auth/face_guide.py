"""Face presence and picture quality from OpenCV's Haar cascade (client side, cheap).

:class:`FaceGuide` looks at one BGR frame and says what the candidate should change:
no face, more than one face, too dark, too bright, too far, too close, off centre, or
good. It runs on a half-size grey image (≈ 15–20 ms per 640×480 frame on one idle core;
a frame without a face is looked at again at full size), so guidance keeps up with a
10+ fps preview. It never decides a login: the server does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from zhishiyun.i18n import N_, _

#: Hint codes and their messages (English source; zh_CN in the catalog).
HINTS = {
    "ok": N_("Hold still and look at the camera."),
    "no_face": N_("No face found. Sit in front of the camera."),
    "several_faces": N_("More than one face is in view. Only you may be in front of the camera."),
    "too_dark": N_("Too dark. Turn on a light in front of you."),
    "too_bright": N_("Too bright. Avoid strong light behind or in front of you."),
    "too_far": N_("Come closer to the camera."),
    "too_close": N_("Move a little away from the camera."),
    "off_centre": N_("Move your face to the middle of the picture."),
}
DARK_MEAN, BRIGHT_MEAN = 50.0, 215.0
#: Face width as a share of the frame width.
MIN_FACE_SHARE, MAX_FACE_SHARE = 0.18, 0.70


def cascade_path(name: str = "haarcascade_frontalface_default.xml") -> Path:
    """Where OpenCV keeps a bundled Haar cascade (``cv2.data`` or next to the module)."""
    base = getattr(getattr(cv2, "data", None), "haarcascades", "") or os.path.join(
        os.path.dirname(cv2.__file__), "data")
    return Path(base) / name


@dataclass(frozen=True)
class Guidance:
    """What one frame showed: faces (x, y, w, h in frame pixels), brightness, hint."""

    faces: tuple[tuple[int, int, int, int], ...]
    brightness: float
    hint: str

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """The largest face's box, if any."""
        return max(self.faces, key=lambda f: f[2] * f[3]) if self.faces else None

    @property
    def ok(self) -> bool:
        """True when exactly one face is well placed and lit."""
        return self.hint == "ok"

    def message(self) -> str:
        """The hint in the current language."""
        return _(HINTS[self.hint])


class FaceGuide:
    """Haar-cascade face finder plus light and placement rules; one per thread."""

    def __init__(self, scale: float = 0.5) -> None:
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV face cascade missing: {path}")
        self.scale = scale

    def faces(self, bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes in ``bgr`` (frame coordinates).

        Looks at the reduced image first; only when that finds nothing (a small, far face)
        does it look again at full size.
        """
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        for scale in dict.fromkeys((self.scale, 1.0)):
            image = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale,
                                                         interpolation=cv2.INTER_AREA)
            image = cv2.equalizeHist(image)
            side = max(20, int(min(image.shape[:2]) * 0.08))
            found = self._cascade.detectMultiScale(image, scaleFactor=1.15, minNeighbors=6,
                                                   minSize=(side, side))
            if len(found):
                return [tuple(int(v / scale) for v in box) for box in found]
        return []

    def assess(self, bgr: np.ndarray) -> Guidance:
        """Faces, brightness and the one hint that matters most for this frame."""
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        brightness = float(grey.mean())
        if brightness < DARK_MEAN:
            return Guidance((), brightness, "too_dark")
        faces = tuple(self.faces(grey))
        if not faces:
            hint = "too_bright" if brightness > BRIGHT_MEAN else "no_face"
            return Guidance(faces, brightness, hint)
        if len(faces) > 1:
            return Guidance(faces, brightness, "several_faces")
        x, y, w, h = faces[0]
        height, width = grey.shape[:2]
        if brightness > BRIGHT_MEAN:
            hint = "too_bright"
        elif w < width * MIN_FACE_SHARE:
            hint = "too_far"
        elif w > width * MAX_FACE_SHARE:
            hint = "too_close"
        elif not (0.2 * width < x + w / 2 < 0.8 * width and 0.15 * height < y + h / 2
                  < 0.85 * height):
            hint = "off_centre"
        else:
            hint = "ok"
        return Guidance(faces, brightness, hint)
