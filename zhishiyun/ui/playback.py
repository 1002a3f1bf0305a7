"""Play a recorded test clip in the app.

PyAV decodes, frames go to a preview, sound to sounddevice (no QtMultimedia: the bundle
ships PySide6-Essentials only).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def decode_audio(path: Path) -> tuple[Any, int] | None:
    """The whole audio track as float32 samples (frames × channels) and its rate, or None."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate or 16000)
        chunks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.InvalidDataError:
            log.info("test clip audio ends early (cut file)")
        if not chunks:
            return None
        return np.concatenate(chunks).astype("float32").reshape(-1, 1), stream.rate or 16000


class ClipPlayer:
    """Plays one clip on its own thread; callbacks fire on that thread (wrap with on_main).

    Args:
        path: the clip (MP4 with H.264 video and optional AAC audio), or a sound file
            (MP3, M4A, Ogg, WAV: the spoken instruction).
        on_frame: receives RGB ``numpy`` frames at their presentation time.
        on_finished: called once at the end with an error text ("" when fine).
        max_width: frames are scaled down to this width.
        on_progress: receives the share played (0…1) with each frame.
    """

    def __init__(self, path: Path, on_frame: Callable[[Any], None],
                 on_finished: Callable[[str], None], max_width: int = 640,
                 on_progress: Callable[[float], None] | None = None) -> None:
        self.path = Path(path)
        self._on_frame, self._on_finished = on_frame, on_finished
        self._on_progress = on_progress
        self._max_width = max_width
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: A sound-only clip plays on the player's own output stream, which only the player
        #: thread opens and closes (sounddevice's shared ``play``/``stop`` stream is not
        #: safe to close from two threads at once).
        self._sound_only = False

    def start(self) -> None:
        """Begin playing (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="clip-player", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop video and sound promptly."""
        self._stop.set()
        if self._sound_only:
            return  # the player thread closes its own stream at once
        try:
            import sounddevice as sd

            sd.stop()
        except Exception:  # noqa: BLE001 - no audio device: nothing to stop
            pass

    def _run(self) -> None:
        error = ""
        try:
            self._play()
        except Exception as exc:  # noqa: BLE001 - reported to the page
            log.warning("playback failed: %r", exc)
            error = str(exc) or type(exc).__name__
        self._on_finished(error)

    def _play(self) -> None:
        import av

        with av.open(str(self.path)) as probe:
            self._sound_only = not probe.streams.video
        if self._sound_only:  # the spoken instruction
            self._play_sound()
            return
        audio = decode_audio(self.path)
        if audio is not None:
            try:
                import sounddevice as sd

                sd.play(audio[0], audio[1])
            except Exception as exc:  # noqa: BLE001 - video still plays without sound
                log.info("no sound output for playback: %r", exc)
        start = time.monotonic()
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            duration = (float(stream.duration * stream.time_base) if stream.duration else
                        (container.duration or 0) / 1_000_000)
            width = min(self._max_width, stream.codec_context.width or self._max_width)
            first: float | None = None
            try:
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    at = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                    first = at if first is None else first
                    at -= first
                    delay = at - (time.monotonic() - start)
                    if delay > 0:
                        self._stop.wait(delay)
                    height = int(frame.height * width / frame.width) // 2 * 2
                    self._on_frame(frame.to_ndarray(format="rgb24", width=width,
                                                    height=height))
                    if self._on_progress is not None and duration > 0:
                        self._on_progress(min(1.0, at / duration))
            except av.error.InvalidDataError:
                log.info("test clip video ends early (cut file)")

    def _play_sound(self) -> None:
        """Write the clip's sound to an output stream of its own, a tenth of a second at a time.

        The device paces the writes; the stream is closed here, at the end or at once on
        :meth:`stop`, so nothing stays open on the sound server.
        """
        import sounddevice as sd

        audio = decode_audio(self.path)
        if audio is None:
            return
        samples, rate = audio
        block = max(1, rate // 10)
        stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32")
        stream.start()
        try:
            for begin in range(0, len(samples), block):
                if self._stop.is_set():
                    stream.abort()
                    return
                stream.write(samples[begin:begin + block])
                if self._on_progress is not None:
                    self._on_progress(min(1.0, (begin + block) / len(samples)))
            stream.stop()  # lets the last block play out
        finally:
            stream.close()
