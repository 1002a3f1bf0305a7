"""Real faces that ship offline, and transformed copies standing in for head motion.

``astronaut`` (scikit-image) and ``grace_hopper`` (matplotlib sample data) are framed like a
640×480 webcam picture (face ≈ 200 px wide). Motion is simulated on the still photo:

* blink: each eye is painted over with skin colour and a dark lid line;
* turn left/right: a smooth horizontal warp shifts the middle of the face (nose, eyes,
  mouth) towards one cheek while the jaw outline stays, as a turned head looks;
* open mouth: the chin is pulled down and a dark gap drawn between the lips.

These prove that the server measures the landmark changes it claims to (eye aspect ratio,
nose position along the jaw, inner-lip gap) on real faces, in order, and that it refuses
stills, other people and extra faces. They do not prove robustness to real head rotation,
real blinks, lighting or webcam noise: that needs recordings of people.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the test face")
matplotlib = pytest.importorskip("matplotlib", reason="matplotlib provides the second face")
pytest.importorskip("dlib", reason="dlib-bin (server extra) is needed to place the edits")

from zhishiyun_server.face import geometry  # noqa: E402
from zhishiyun_server.face.engine import get_engine  # noqa: E402

POSES = ("neutral", "blink", "turn_left", "turn_right", "open_mouth")
SIZE = (640, 480)


def _source(which: str) -> np.ndarray:
    if which == "astronaut":
        return skimage_data.astronaut()
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@functools.cache
def portrait(which: str, face_width: int = 200) -> np.ndarray:
    """RGB 640×480 with the person's face ``face_width`` px wide, centred."""
    image = _source(which)
    face = get_engine().detect(image, upsample=1)[0]
    left, top, right, bottom = face.box
    scale = face_width / (right - left)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    matrix = np.float32([[scale, 0, SIZE[0] / 2 - cx * scale],
                         [0, scale, SIZE[1] * 0.46 - cy * scale]])
    return cv2.warpAffine(image, matrix, SIZE, borderMode=cv2.BORDER_REFLECT)


def _landmarks(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    face = get_engine().detect(rgb)[0]
    return face.landmarks, face.box


def _blink(rgb: np.ndarray) -> np.ndarray:
    points, _box = _landmarks(rgb)
    out = rgb.copy()
    for eye_slice in (geometry.RIGHT_EYE, geometry.LEFT_EYE):
        eye = points[eye_slice].astype(np.int32)
        centre = eye.mean(axis=0)
        width = eye[3, 0] - eye[0, 0]
        patch = rgb[int(centre[1] + width * 0.7):int(centre[1] + width * 0.9),
                    int(centre[0] - width * 0.2):int(centre[0] + width * 0.2)]
        skin = np.median(patch.reshape(-1, 3), axis=0).tolist()
        cv2.ellipse(out, (int(centre[0]), int(centre[1])), (int(width * 0.8), int(width * 0.4)),
                    0, 0, 360, skin, -1)
        cv2.line(out, tuple(int(v) for v in eye[0]), tuple(int(v) for v in eye[3]),
                 (40, 30, 30), 3)
    return cv2.GaussianBlur(out, (3, 3), 0)


def _turn(rgb: np.ndarray, sign: int) -> np.ndarray:
    _points, (left, top, right, bottom) = _landmarks(rgb)
    cx, cy, width = (left + right) / 2, (top + bottom) / 2, right - left
    yy, xx = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]].astype(np.float32)
    bump = np.exp(-(((xx - cx) / (width * 0.3)) ** 2 + ((yy - cy) / (width * 0.5)) ** 2))
    return cv2.remap(rgb, xx - sign * 0.2 * width * bump, yy, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def _open_mouth(rgb: np.ndarray) -> np.ndarray:
    points, _box = _landmarks(rgb)
    yy, xx = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]].astype(np.float32)
    mouth_y = points[[62, 66], 1].mean()
    mouth_x = points[[60, 64], 0].mean()
    mouth_w = points[54, 0] - points[48, 0]
    gap = mouth_w * 0.75
    across = np.exp(-((xx - mouth_x) / (mouth_w * 0.9)) ** 2)
    shift = np.where(yy > mouth_y, gap * across * np.exp(
        -np.maximum(yy - mouth_y - gap, 0) / (mouth_w * 1.2)), 0)
    out = cv2.remap(rgb, xx, (yy - shift).astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    cv2.ellipse(out, (int(mouth_x), int(mouth_y + gap * 0.5)),
                (int(mouth_w * 0.38), int(gap * 0.45)), 0, 0, 360, (50, 20, 25), -1)
    return out


@functools.cache
def pose(which: str, action: str) -> np.ndarray:
    """The person's portrait doing ``action`` (one of :data:`POSES`)."""
    base = portrait(which)
    return {"neutral": lambda: base, "blink": lambda: _blink(base),
            "turn_left": lambda: _turn(base, +1), "turn_right": lambda: _turn(base, -1),
            "open_mouth": lambda: _open_mouth(base)}[action]()


def jitter(rgb: np.ndarray, k: int) -> np.ndarray:
    """A camera-like variation: a 1–2 px shift and a little sensor noise (frame ``k``)."""
    dx, dy = (k % 3) - 1, ((k // 3) % 3) - 1
    moved = cv2.warpAffine(rgb, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE,
                           borderMode=cv2.BORDER_REFLECT)
    noise = np.random.default_rng(k).normal(0, 2.0, rgb.shape)
    return np.clip(moved + noise, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of an RGB image."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                              [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buffer.tobytes()


def burst(which: str, actions: list[str], per_step: int = 3) -> list[tuple[bytes, int, int]]:
    """(jpeg, t_ms, step) frames: neutral step 0, then per step neutral, the action held
    for two frames, neutral (≈ what 4 fps sampling sees of a real action)."""
    frames, k = [], 0
    for step, action in enumerate(["neutral", *actions]):
        poses = ["neutral"] * per_step if step == 0 else ["neutral", action, action, "neutral"]
        for name in poses:
            frames.append((jpeg(jitter(pose(which, name), k)), k * 250, step))
            k += 1
    return frames


@functools.cache
def two_faces() -> np.ndarray:
    """Astronaut and Grace Hopper side by side in one 640×480 picture."""
    left = cv2.resize(portrait("astronaut", 240), (320, 240))
    right = cv2.resize(portrait("grace_hopper", 240), (320, 240))
    canvas = np.vstack([np.hstack([left, right])] * 2)[:480]
    canvas[240:] = 128
    return canvas


def write_cycle_video(path: Path, which: str, pose_s: float = 0.3, fps: int = 15,
                      seconds: float = 30.0) -> Path:
    """An MJPEG AVI of the person cycling through every pose (neutral between each)."""
    order = ["neutral", "blink", "neutral", "turn_left", "neutral", "turn_right", "neutral",
             "open_mouth"]
    frames = [cv2.cvtColor(pose(which, name), cv2.COLOR_RGB2BGR) for name in order]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), "OpenCV cannot write MJPEG AVI here"
    per_pose = max(1, round(pose_s * fps))
    for i in range(int(seconds * fps)):
        writer.write(frames[(i // per_pose) % len(frames)])
    writer.release()
    assert path.stat().st_size > 0
    return path


def env_flag(name: str) -> bool:
    """True when the environment variable is set to something other than 0/empty."""
    return os.environ.get(name, "0") not in ("", "0")
