"""A video file standing in for a camera, decoded by PyAV straight into encoder frames.

OpenCV hands out BGR pictures, which the encoder would convert back to ``yuv420p``: two
full-frame conversions per frame for nothing. Here each picture is decoded once, in the
file's own format, and reformatted (libswscale) only when its size or format differs
from the track's; a 640×480 ``yuv420p`` stand-in goes to the encoder untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av

from zhishiyun.capture.errors import DeviceError
from zhishiyun.i18n import _

#: Measured on a 640×480 H.264 stand-in (one slice a picture): 0.30 ms per frame decoding
#: back to back with one thread, 0.31 with two slice threads, 0.35 with frame threads
#: (which also delay each frame); at the camera's pace 0.76 and 0.78 ms. A single-slice
#: file gives a second thread nothing to do, so the decoder runs on the camera's thread.
DECODE_THREAD_TYPE = "SLICE"
DECODE_THREADS = 1


class FileFrames:
    """One pass over a video file: ``yuv420p`` frames of ``width×height`` and its rate."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path, self.width, self.height = path, width, height
        try:
            self._container = av.open(str(path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            raise DeviceError(
                _("The video file {path} cannot be read as a camera.").format(path=path),
                hint=_("Check that it is a video file (MP4, MKV, AVI) and not damaged."),
                code="camera_unreadable") from exc
        self._stream.thread_type = DECODE_THREAD_TYPE
        self._stream.thread_count = DECODE_THREADS
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0

    def __iter__(self) -> Iterator[av.VideoFrame]:
        try:
            for frame in self._container.decode(self._stream):
                if (frame.width, frame.height, frame.format.name) != (
                        self.width, self.height, "yuv420p"):
                    frame = frame.reformat(self.width, self.height, "yuv420p",
                                           interpolation="AREA")
                yield frame
        except av.error.FFmpegError:
            return  # a damaged tail ends the pass like the end of the file

    def close(self) -> None:
        """Release the file and the decoder."""
        self._container.close()
