"""Where the recorder's time goes: py-spy samples sorted into tracks and stages.

``py-spy record --threads -f raw`` writes one line per distinct stack: the thread, the
frames from the outermost to the innermost (``function (file:line)``) and how many samples
saw it. A C call (an x264 encode, a swscale conversion, a write) shows as the Python line
that made it; the stage of a stack is that of its innermost frame a rule recognises, by
function name and the text of the line. Stacks waiting on a lock, a queue or an event
(py-spy does not always see those as idle) and native-only threads are left out.

Samples are taken on the wall clock, so on a busy machine a thread that waits for a core
collects samples too. The table therefore uses the samples only to split each track's CPU
time, which the recorder measures itself (``thread_time`` of its threads), among the stages.
"""

from __future__ import annotations

import linecache
import re
from collections import Counter
from pathlib import Path

STAGES = ("grab", "compare", "decode", "convert", "encode", "mux", "write", "hash",
          "audio", "other")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+):(?P<line>\d+)\)$")

#: (function name suffix, text in the line or "", stage), innermost frame first.
_RULES = (
    ("sha256_file", "", "hash"),
    ("fsync_path", "", "write"),
    ("ManifestWriter.append", "", "write"),
    ("_write_marker", "", "write"),
    ("._convert", "", "convert"),
    ("to_ndarray", "", "convert"),
    ("Track.last_image", "", "convert"),
    ("SegmentFile.add_video", "reformat", "convert"),
    ("SegmentFile._encode_video", "mux", "mux"),
    ("SegmentFile._encode_video", "encode", "encode"),
    ("SegmentFile._encode_audio", "mux", "mux"),
    ("SegmentFile._encode_audio", "encode", "encode"),
    ("SegmentFile.close", "mux", "mux"),
    ("SegmentFile.close", "", "encode"),
    ("SegmentFile.__init__", "", "mux"),
    ("ScreenSource._run", "grab", "grab"),
    ("ScreenSource._run", "array_equal", "compare"),
    ("ScreenSource._run", "frombuffer", "grab"),
    ("FileFrames.__iter__", "reformat", "convert"),
    ("FileFrames.__iter__", "", "decode"),
    ("FileFrames.__init__", "", "decode"),
    ("NativeFrames._decode_jpeg", "", "decode"),
    ("NativeFrames.convert", "reformat", "convert"),
    ("NativeFrames._wrap_yuyv", "", "convert"),
    ("MssGrabber.grab", "", "grab"),
    ("CameraSource._run_capture", "read", "decode"),
    ("CameraSource._run_capture", "resize", "convert"),
    ("MicrophoneSource._callback", "", "audio"),
    ("MicrophoneSource._chunk", "", "audio"),
    ("PulseReader._run", "", "audio"),
    ("Track._audio_in", "", "audio"),
    ("Track._audio_place", "", "audio"),
    ("MicrophoneSource.note_level", "", "audio"),
)


def _line_text(path: str, number: int, root: Path) -> str:
    for candidate in (Path(path), root / path):
        text = linecache.getline(str(candidate), number)
        if text:
            return text
    return ""


#: Waiting, not working: x11grab's read sleeps inside FFmpeg until the next frame is due
#: (its own cost, 0.2-0.3 ms a grab, is measured by the benchmark's grab-only floor), and
#: so does libpulse's read until the next chunk of audio is in.
_IDLE = ("Condition.wait", "Event.wait", "Queue.get", "Thread.join", "X11Grabber.grab",
         "PaSimple.read")


def _stage(frames: list[str], root: Path) -> str:
    python = [f for f in frames if _FRAME.match(f.strip())]
    if not python or any(python[-1].strip().startswith(name + " ") for name in _IDLE):
        return "idle"
    for frame in reversed(frames):
        match = _FRAME.match(frame.strip())
        if not match:
            continue
        func, text = match["func"], None
        for suffix, needle, stage in _RULES:
            if func.endswith(suffix):
                if text is None:
                    text = _line_text(match["file"], int(match["line"]), root)
                if needle in text:
                    return stage
    return "other"


def _track(thread: str, frames: list[str]) -> str:
    for name in ("screen", "camera"):
        if name in thread:
            return name
    if "microphone" in thread or any("MicrophoneSource._callback" in f for f in frames):
        return "camera"  # the microphone is recorded into the camera track
    return "recorder"


def stage_table(raw: str, cpu_by_track: dict[str, float], seconds: float,
                root: Path) -> dict:
    """CPU milliseconds per recorded second, per track and stage.

    Args:
        raw: the text ``py-spy record -f raw --threads`` wrote.
        cpu_by_track: each track's measured CPU seconds (the recorder's summary); the
            ``recorder`` row (main and watchdog threads, start-up) is scaled like the
            busiest track.
        seconds: how long the recording ran (to scale to "per recorded second").
        root: the directory the recorder ran in (relative paths in frames).
    """
    counts: Counter[tuple[str, str]] = Counter()
    for line in raw.splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        parts = head.split(";")
        thread, frames = parts[0], parts[1:]
        stage = _stage(frames, root)
        if stage != "idle":
            counts[(_track(thread, frames), stage)] += int(count)
    totals = Counter()
    for (track, _stage_name), n in counts.items():
        totals[track] += n
    scales = {t: cpu_by_track[t] / totals[t] for t in cpu_by_track if totals[t]}
    fallback = max(scales.values(), default=0.0)
    table: dict[str, dict[str, float]] = {}
    for (track, stage), n in sorted(counts.items()):
        ms = n * scales.get(track, fallback) * 1000.0 / seconds
        table.setdefault(track, {})[stage] = round(ms, 1)
    for stages in table.values():
        stages["total"] = round(sum(stages.values()), 1)
    return table


def markdown(table: dict) -> str:
    """The table as Markdown: one row per stage, one column per track (ms CPU / s)."""
    tracks = sorted(table)
    lines = ["| stage | " + " | ".join(tracks) + " |",
             "|---|" + "---:|" * len(tracks)]
    for stage in (*STAGES, "total"):
        if any(stage in table[t] for t in tracks):
            lines.append(f"| {stage} | " + " | ".join(
                f"{table[t].get(stage, 0.0):.1f}" for t in tracks) + " |")
    return "\n".join(lines)
