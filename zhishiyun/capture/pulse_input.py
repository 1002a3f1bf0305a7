"""The microphone read natively from PulseAudio (and PipeWire's pulse server) on Linux.

libpulse's simple API (through ``pasimple``): one blocking read per chunk on a reader
thread of its own, as ffmpeg's ``pulse`` input does. PortAudio reaches the same server
through ALSA's pulse plugin, whose capture thread sometimes polls in a loop (0.001–0.06 of
a core from one stream to the next) and whose device enumeration loads ~20 MB of plugin
libraries; nothing here imports PortAudio.

A blocked read cannot be interrupted safely (freeing the stream under it is undefined), so
each :class:`PulseReader` owns its stream alone: :meth:`PulseReader.close` only asks it to
stop, and the reader frees the stream after its current read returns. A stalled source
therefore keeps its retired reader waiting until the source delivers again or goes away.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zhishiyun.capture.device_names import DEFAULT_ALIASES

log = logging.getLogger(__name__)

#: The shared library the simple API lives in (``pasimple`` loads it by this name).
LIBRARY = "libpulse-simple.so.0"
#: Microphone values that mean PulseAudio's default source (``PULSE_SOURCE`` if set).
DEFAULT_SOURCE_NAMES = DEFAULT_ALIASES | {"pulse", "pipewire"}
#: libpulse names its event-loop thread so; its CPU is part of the microphone's.
MAINLOOP_THREAD = "threaded-ml"
SAMPLE_BYTES = 4  # float32

#: ``(samples, delay)`` per chunk: float32 mono samples and how long before the call the
#: chunk's first sample was captured.
ChunkSink = Callable[[np.ndarray, float], None]


class PulseError(Exception):
    """The PulseAudio stream cannot be opened or read."""


def available() -> bool:
    """Whether this system can read microphones through libpulse (Linux with libpulse)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL(LIBRARY)
        import pasimple  # noqa: F401 - its presence is the question
    except (OSError, ImportError):
        return False
    return True


def source_name(device: str | None) -> str | None:
    """The PulseAudio source for a microphone value; ``None`` for the default source."""
    text = (device or "").strip()
    return None if text.lower() in DEFAULT_SOURCE_NAMES or not text else text


class PulseReader:
    """One record stream and the thread that reads it, ``block_frames`` per chunk.

    Opening connects to the sound server and raises :class:`PulseError` when it refuses
    (no server, no such source); :meth:`start` begins handing chunks to ``on_chunk`` on
    the reader thread. ``active`` turns False when the stream fails (the source went away)
    or after :meth:`close`.
    """

    def __init__(self, device: str | None, rate: int, channels: int, block_frames: int,
                 on_chunk: ChunkSink) -> None:
        import pasimple

        self.rate, self.channels = rate, channels
        self.block_seconds = block_frames / rate
        self._bytes = block_frames * channels * SAMPLE_BYTES
        self._on_chunk = on_chunk
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.error = ""
        self._mainloop_cpu = 0.0
        before = _task_ids()
        try:
            self._stream = pasimple.PaSimple(
                pasimple.PA_STREAM_RECORD, pasimple.PA_SAMPLE_FLOAT32LE, channels, rate,
                app_name="Zhishiyun", stream_name="microphone",
                device_name=source_name(device), fragsize=self._bytes)
        except pasimple.PaSimpleError as exc:
            raise PulseError(str(exc)) from None
        self._mainloop_ids = [tid for tid in _task_ids() - before
                              if _thread_name(tid) == MAINLOOP_THREAD]
        try:
            self.latency = self._stream.get_latency() / 1e6
        except pasimple.PaSimpleError:
            self.latency = self.block_seconds

    def start(self) -> None:
        """Start the reader thread."""
        self._thread = threading.Thread(target=self._run, name="capture-microphone-pulse",
                                        daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """True while the stream delivers (not failed, not closed)."""
        return (self._thread is not None and self._thread.is_alive()
                and not self._closing.is_set())

    def close(self) -> None:
        """Ask the reader to stop; it frees the stream once its current read returns."""
        self._closing.set()

    def join(self, timeout: float) -> None:
        """Wait for the reader to have freed its stream."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        import pasimple

        try:
            while not self._closing.is_set():
                data = self._stream.read(self._bytes)
                if self._closing.is_set():
                    break
                latency = self._stream.get_latency() / 1e6
                samples = np.frombuffer(data, np.float32)
                if self.channels > 1:
                    samples = samples[::self.channels].copy()  # the first channel
                # the read ends ``latency`` before now; its first sample one chunk earlier
                self._on_chunk(samples, latency + self.block_seconds)
        except pasimple.PaSimpleError as exc:
            self.error = str(exc)
            if not self._closing.is_set():
                log.warning("microphone (PulseAudio) read failed: %s", exc)
        finally:
            _ = self.mainloop_cpu  # its last value, before the thread ends with the stream
            self._stream.close()

    @property
    def mainloop_cpu(self) -> float:
        """CPU seconds of libpulse's event-loop thread (its last value once it ended)."""
        total = 0.0
        for tid in self._mainloop_ids:
            if _thread_name(tid) != MAINLOOP_THREAD:  # ended (its id may be another's now)
                continue
            try:  # nanoseconds on a CPU; /proc's stat counts in 10 ms ticks
                total += int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        self._mainloop_cpu = max(self._mainloop_cpu, total / 1e9)
        return self._mainloop_cpu


def _task_ids() -> set[int]:
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def _thread_name(tid: int) -> str:
    try:
        return Path(f"/proc/self/task/{tid}/comm").read_text().strip()
    except OSError:
        return ""
