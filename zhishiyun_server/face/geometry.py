"""Measures on the 68 dlib landmarks: eye and mouth opening, head yaw.

Indexes (0-based, iBUG 300-W): jaw 0–16, nose tip 30, eyes 36–41 and 42–47, inner lips 60–67.
"""

from __future__ import annotations

import numpy as np

RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová & Čech's EAR on six eye points: ≈ 0.25–0.35 open, < 0.18 closed."""
    horizontal = _dist(eye[0], eye[3])
    if horizontal <= 0:
        return 0.0
    return (_dist(eye[1], eye[5]) + _dist(eye[2], eye[4])) / (2.0 * horizontal)


def eyes_open(points: np.ndarray) -> float:
    """Mean EAR of both eyes."""
    return (eye_aspect_ratio(points[RIGHT_EYE]) + eye_aspect_ratio(points[LEFT_EYE])) / 2.0


def mouth_open(points: np.ndarray) -> float:
    """Inner-lip opening over mouth width: ≈ 0 closed, > 0.3 clearly open."""
    width = _dist(points[60], points[64])
    if width <= 0:
        return 0.0
    gap = _dist(points[61], points[67]) + _dist(points[62], points[66]) + _dist(points[63],
                                                                               points[65])
    return gap / (3.0 * width)


def yaw_ratio(points: np.ndarray) -> float:
    """Where the nose tip sits between the jaw ends, along the jaw line: 0.5 is frontal.

    In the camera's (unmirrored) image a candidate turning to their own left moves the nose
    towards the image's right, so the ratio grows; turning right makes it smaller.
    """
    left, right, nose = points[0], points[16], points[30]
    axis = right - left
    length = float(np.dot(axis, axis))
    if length <= 0:
        return 0.5
    return float(np.dot(nose - left, axis) / length)
