"""Recording benchmark: `zhishiyun record` against the ffmpeg CLI doing the same work.

For each screen mode (``changing``: ffplay shows a full-screen moving test pattern;
``static``: an idle desktop) it records N seconds (default 60) of screen (Xvfb 1920×1080) +
camera (stand-in file, 640×480 @ 15 fps) + microphone (PulseAudio), then does the same
capture and encode with ffmpeg in the same run: one ffmpeg per track, side by side
(x11grab → libx264; the file + PulseAudio → libx264 + AAC 16 kHz mono), with the same
preset, tune, CRF, frame rates, keyframe interval and fragmented-MP4 flags.

Reported per mode and per track: CPU per recorded second (ours from the recorder's own
threads, ffmpeg's from ``wait4``) and their ratio, size per minute, peak and final RSS and
RSS sampled every second (after 1 and after 10 minutes when the run is that long), dropped
frames; and the floor: what merely grabbing the screen at the same rate costs us
(``ScreenSource`` alone) and ffmpeg (x11grab into the null muxer). Prints one JSON object.

Needs DISPLAY (scripts/services.sh start_display), PulseAudio (start_audio), ffmpeg and
ffplay. ``--profile`` instead runs the recorder under py-spy and prints where its time goes,
per track and stage (``pip install py-spy``; the dev extra has it).

    python benchmarks/recording.py [--seconds 60] [--modes changing,static] [--smoke]
    python benchmarks/recording.py --profile [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common_processes import ChildResult, measure  # noqa: E402
from common_profile import markdown, stage_table  # noqa: E402

from zhishiyun.config import RecordingSettings  # noqa: E402

REPO = BENCH.parent
TARGETS = {"cpu_ratio_changing": 0.8, "cpu_ratio_static": 0.5,
           "cpu_share_of_one_core_static": 0.2, "peak_rss_mb": 200,
           "rss_growth_after_1_min": 0.10, "dropped_frames": 0}
PROFILE_RATE = 100

GRAB_ONLY = """
import sys, time
from zhishiyun.capture.screen import ScreenSource
from zhishiyun.capture.devices import primary_screen_index, list_screens
seconds, fps = float(sys.argv[1]), float(sys.argv[2])
source = ScreenSource(primary_screen_index(list_screens()), fps, True)
source.open()
start = time.process_time()
source.start()
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        source.queue.get(timeout=0.1)
    except Exception:
        pass
source.stop()
print(time.process_time() - start)
"""

#: The encoders alone, on pictures decoded beforehand: x264 with the recorder's options
#: for the changing screen (the benchmark's test pattern at the screen's size and rate),
#: a static screen (a keyframe every keyframe_seconds) and the camera (the stand-in file's
#: pictures at its rate), plus AAC for the microphone. CPU per recorded second.
ENCODE_ONLY = """
import json, sys, time
from fractions import Fraction
import av, numpy as np
from zhishiyun.capture.encoder import video_options
from zhishiyun.config import RecordingSettings
seconds, width, height, camera = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = RecordingSettings()
def pictures(url, fmt, count, size):
    with av.open(url, format=fmt) as source:
        out = []
        for frame in source.decode(video=0):
            out.append(frame.reformat(size[0], size[1], "yuv420p"))
            if len(out) == count:
                return out
        return out
def encode(frames, fps, size, keyframe_every):
    ctx = av.codec.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = size[0], size[1], "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 1000), Fraction(fps).limit_denominator(1000)
    ctx.options = video_options("libx264", s, fps)
    ctx.open()
    start = time.thread_time()
    for i, frame in enumerate(frames):
        frame.pts, frame.time_base = int(i * 1000 / fps), Fraction(1, 1000)
        key = i % keyframe_every == 0
        frame.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
        ctx.encode(frame)
    ctx.encode(None)
    return time.thread_time() - start
screen = (width, height)
n = int(seconds * s.screen_fps)
changing = pictures(f"testsrc2=size={width}x{height}:rate={s.screen_fps:g}", "lavfi", n, screen)
key_every = int(s.screen_fps * s.keyframe_seconds)
result = {"screen_changing": encode(changing, s.screen_fps, screen, key_every) / seconds}
statics = [changing[0]] * int(seconds / s.keyframe_seconds)
result["screen_static"] = encode(statics, 1 / s.keyframe_seconds, screen, 1) / seconds
cam = pictures(camera, None, int(seconds * s.camera_fps), (s.camera_width, s.camera_height))
while len(cam) < int(seconds * s.camera_fps):
    cam += cam[:int(seconds * s.camera_fps) - len(cam)]
result["camera_video"] = encode(cam, s.camera_fps, (s.camera_width, s.camera_height),
                                int(s.camera_fps * s.keyframe_seconds)) / seconds
aac = av.codec.CodecContext.create("aac", "w")
aac.sample_rate, aac.layout, aac.format = s.audio_rate, "mono", "fltp"
aac.bit_rate = s.audio_bitrate
aac.open()
tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(1024) / s.audio_rate)).astype(np.float32)
start = time.thread_time()
for i in range(int(seconds * s.audio_rate / 1024)):
    frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="fltp", layout="mono")
    frame.sample_rate, frame.pts = s.audio_rate, i * 1024
    aac.encode(frame)
result["microphone_aac"] = (time.thread_time() - start) / seconds
print(json.dumps({k: round(v, 4) for k, v in result.items()}))
"""


#: The encoders as a recording runs them: each picture encoded when it is due (the screen's
#: test pattern at the screen rate, the stand-in camera decoded frame by frame at the
#: camera rate, as the camera source does), on two threads side by side, no muxer. Idle
#: between pictures, the caches go cold, so this costs more than ENCODE_ONLY's tight loop;
#: ffmpeg's live encodes pay the same. CPU per recorded second.
ENCODE_LIVE = """
import json, sys, threading, time
from fractions import Fraction
from pathlib import Path
import av
from zhishiyun.capture.encoder import video_options
from zhishiyun.capture.file_camera import FileFrames
from zhishiyun.config import RecordingSettings
seconds, width, height, camera = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = RecordingSettings()
result = {}
def paced(key, frames, fps, size):
    ctx = av.codec.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = size[0], size[1], "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 1000), Fraction(fps).limit_denominator(1000)
    ctx.options = video_options("libx264", s, fps)
    ctx.open()
    key_every = int(fps * s.keyframe_seconds)
    start, due = time.thread_time(), time.monotonic()
    end = due + seconds
    for i, frame in enumerate(frames()):
        time.sleep(max(0.0, due - time.monotonic()))
        if time.monotonic() >= end:
            break
        due += 1 / fps
        frame.pts, frame.time_base = int(i * 1000 / fps), Fraction(1, 1000)
        frame.pict_type = (av.video.frame.PictureType.I if i % key_every == 0
                           else av.video.frame.PictureType.NONE)
        ctx.encode(frame)
    ctx.encode(None)
    result[key] = round((time.thread_time() - start) / seconds, 4)
def screen_frames():
    url = f"testsrc2=size={width}x{height}:rate={s.screen_fps:g}"
    with av.open(url, format="lavfi") as source:
        pictures = [f.reformat(format="yuv420p") for _, f in
                    zip(range(int(seconds * s.screen_fps) + 1), source.decode(video=0))]
    return iter(pictures)
def camera_frames():
    while True:
        frames = FileFrames(Path(camera), s.camera_width, s.camera_height)
        yield from frames
        frames.close()
threads = [threading.Thread(target=paced, args=("screen_changing", screen_frames,
                                                 s.screen_fps, (width, height))),
           threading.Thread(target=paced, args=("camera_decode_and_video", camera_frames,
                                                 s.camera_fps,
                                                 (s.camera_width, s.camera_height)))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(result))
"""


def make_camera_file(path: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x480:rate=15", "-t", "10", "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    return path


def start_changing_screen(width: int, height: int) -> subprocess.Popen:
    player = subprocess.Popen(
        ["ffplay", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc2=size={width}x{height}:rate=10", "-an", "-noborder", "-left", "0",
         "-top", "0", "-x", str(width), "-y", str(height)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    return player


def record_command(seconds: float, camera: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "zhishiyun", "record", "--out", str(out), "--seconds",
            str(seconds), "--camera", str(camera), "--mic", "pulse"]


def memory(result: ChildResult, seconds: float) -> dict:
    """Peak, end and sampled RSS; growth from 1 minute in to the end when long enough."""
    after_1 = result.rss_at(60)
    report = {"peak_rss_mb": result.peak_rss_mb, "end_rss_mb": result.end_rss_mb,
              "rss_after_1_min_mb": after_1,
              "rss_after_10_min_mb": result.rss_at(600) if seconds >= 600 else None,
              "rss_growth_after_1_min": None,
              "rss_samples_mb": result.rss_samples[::10]}
    if after_1 and seconds >= 120:  # the last sample while recording, not after the stop
        last = result.rss_at(seconds) or result.end_rss_mb
        report["rss_growth_after_1_min"] = round(last / after_1 - 1, 3)
    return report


def ours(seconds: float, camera: Path, work: Path) -> dict:
    [result] = measure([record_command(seconds, camera, work / "ours")], cwd=REPO)
    if result.code != 0:
        raise SystemExit(f"zhishiyun record failed ({result.code})")
    summary = json.loads(result.stdout)
    recorded = summary["seconds"]
    tracks = {}
    for name, track in summary["tracks"].items():
        tracks[name] = {
            "cpu_per_recorded_second": round(track["cpu_seconds"] / recorded, 4),
            "mb_per_minute": round(track["bytes"] / 2**20 / recorded * 60, 2),
            "frames_encoded": track["frames_encoded"],
            "heartbeat_frames": track["heartbeat_frames"],
        }
    return {
        "seconds": recorded,
        "cpu_seconds_process": round(result.cpu_seconds, 2),
        "cpu_seconds_recording": summary["cpu_seconds"],
        "cpu_per_recorded_second": round(summary["cpu_seconds"] / recorded, 4),
        "mb_per_minute": round(summary["bytes"] / 2**20 / recorded * 60, 2),
        **memory(result, seconds),
        "frames_dropped": {k: v["dropped"] for k, v in summary["sources"].items()},
        # the sources' own threads (grab, a webcam's decode, the microphone's reader and
        # libpulse's event loop, or PortAudio's callback thread); part of their track's CPU.
        # The stand-in camera file has none: it is decoded on the camera track's encoder
        # thread (file_camera.PacedFrames), so its 0 here is in the track's CPU instead
        "sources_cpu_per_recorded_second": {
            k: round(v["cpu_seconds"] / recorded, 4) for k, v in summary["sources"].items()},
        "backends": {k: v.get("pixel_format") or v.get("backend", "")
                     for k, v in summary["sources"].items()},
        "screen_frames": {k: summary["sources"]["screen"][k]
                          for k in ("captured", "duplicates", "encoded")},
        "encoder": summary["encoder"]["video"],
        "tracks": tracks,
    }


def ffmpeg_commands(seconds: float, camera: Path, out: Path, settings: RecordingSettings,
                    width: int, height: int) -> dict[str, list[str]]:
    x264 = ["-c:v", "libx264", "-preset", settings.x264_preset, "-tune", "zerolatency",
            "-crf", str(settings.crf), "-bf", "0", "-sc_threshold", "0"]
    mp4 = ["-movflags", "frag_every_frame+empty_moov+default_base_moof", "-flush_packets", "1"]
    screen_gop = str(round(settings.screen_fps * settings.keyframe_seconds))
    camera_gop = str(round(settings.camera_fps * settings.keyframe_seconds))
    return {
        "screen": ["ffmpeg", "-v", "error", "-y", "-f", "x11grab",
                   "-framerate", str(settings.screen_fps), "-video_size", f"{width}x{height}",
                   "-i", os.environ["DISPLAY"], *x264, "-g", screen_gop, "-pix_fmt", "yuv420p",
                   *mp4, "-t", str(seconds), str(out / "screen.mp4")],
        "camera": ["ffmpeg", "-v", "error", "-y", "-re", "-stream_loop", "-1",
                   "-i", str(camera), "-f", "pulse", "-i", "default",
                   "-map", "0:v", "-map", "1:a", *x264, "-g", camera_gop,
                   "-r", str(settings.camera_fps),
                   "-s", f"{settings.camera_width}x{settings.camera_height}",
                   "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", str(settings.audio_rate),
                   "-ac", "1", "-b:a", str(settings.audio_bitrate), *mp4, "-t", str(seconds),
                   str(out / "camera.mp4")],
    }


def ffmpeg_reference(seconds: float, camera: Path, work: Path, settings: RecordingSettings,
                     width: int, height: int) -> dict:
    out = work / "ffmpeg"
    out.mkdir(parents=True)
    commands = ffmpeg_commands(seconds, camera, out, settings, width, height)
    results = dict(zip(commands, measure(list(commands.values())), strict=True))
    if any(r.code != 0 for r in results.values()):
        raise SystemExit("the ffmpeg reference failed")
    tracks = {name: {"cpu_per_recorded_second": round(r.cpu_seconds / seconds, 4),
                     "mb_per_minute": round((out / f"{name}.mp4").stat().st_size / 2**20
                                            / seconds * 60, 2),
                     "peak_rss_mb": r.peak_rss_mb}
              for name, r in results.items()}
    cpu = sum(r.cpu_seconds for r in results.values())
    return {
        "cpu_seconds_process": round(cpu, 2),
        "cpu_per_recorded_second": round(cpu / seconds, 4),
        "mb_per_minute": round(sum(t["mb_per_minute"] for t in tracks.values()), 2),
        "peak_rss_mb": round(sum(r.peak_rss_mb for r in results.values()), 1),
        "tracks": tracks,
    }


def floor(seconds: float, settings: RecordingSettings, width: int, height: int,
          camera: Path) -> dict:
    """What the parts cost alone: grabbing the screen (ours and ffmpeg's x11grab), encoding.

    The tight-loop encoders run after the grabs, on their own, so neither disturbs the
    other; the paced ones (mostly idle) run beside the grabs.
    """
    grab, ref, live = measure([
        [sys.executable, "-c", GRAB_ONLY, str(seconds), str(settings.screen_fps)],
        ["ffmpeg", "-v", "error", "-f", "x11grab", "-framerate", str(settings.screen_fps),
         "-video_size", f"{width}x{height}", "-i", os.environ["DISPLAY"], "-t", str(seconds),
         "-f", "null", "-"],
        [sys.executable, "-c", ENCODE_LIVE, str(seconds), str(width), str(height),
         str(camera)]], cwd=REPO)
    [encode] = measure([[sys.executable, "-c", ENCODE_ONLY, str(seconds), str(width),
                         str(height), str(camera)]], cwd=REPO)
    if encode.code != 0 or live.code != 0:
        raise SystemExit("the encode-only floor failed")
    return {"seconds": seconds,
            "ours_grab_and_compare_per_second": round(float(grab.stdout.strip()) / seconds, 4),
            "ffmpeg_x11grab_only_per_second": round(ref.cpu_seconds / seconds, 4),
            "encode_only_per_second": json.loads(encode.stdout),
            "encode_live_per_second": json.loads(live.stdout)}


def floor_ratio(measured: dict, mode: str, theirs: dict) -> float:
    """The least a recording of ``mode`` can cost, over ffmpeg's CPU in the same run.

    The encoders as a recording runs them (paced: the changing screen, the camera decoded
    and encoded; the static screen's keyframes and AAC from the tight loop, a lower bound)
    plus the cheaper of the two screen grabs.
    """
    live, tight = measured["encode_live_per_second"], measured["encode_only_per_second"]
    screen = live["screen_changing"] if mode == "changing" else tight["screen_static"]
    grab = min(measured["ours_grab_and_compare_per_second"],
               measured["ffmpeg_x11grab_only_per_second"])
    least = screen + live["camera_decode_and_video"] + tight["microphone_aac"] + grab
    return round(least / theirs["cpu_per_recorded_second"], 3)


def compare(mode: str, mine: dict, theirs: dict, seconds: float) -> dict:
    ratio = mine["cpu_per_recorded_second"] / theirs["cpu_per_recorded_second"]
    tracks = {name: {"cpu_ratio": round(mine["tracks"][name]["cpu_per_recorded_second"]
                                        / theirs["tracks"][name]["cpu_per_recorded_second"], 3),
                     "size_ratio": round(mine["tracks"][name]["mb_per_minute"]
                                         / max(theirs["tracks"][name]["mb_per_minute"], 1e-9),
                                         3)}
              for name in theirs["tracks"] if name in mine["tracks"]}
    growth = mine["rss_growth_after_1_min"]
    met = {"cpu_ratio": ratio <= TARGETS[f"cpu_ratio_{mode}"],
           "peak_rss_mb": mine["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
           "rss_growth_after_1_min": None if growth is None
           else growth <= TARGETS["rss_growth_after_1_min"],
           "dropped_frames": sum(mine["frames_dropped"].values()) <= TARGETS["dropped_frames"],
           "mb_per_minute_not_above_ffmpeg": mine["mb_per_minute"] <= theirs["mb_per_minute"]}
    if mode == "static":
        met["cpu_share_of_one_core"] = (mine["cpu_per_recorded_second"]
                                        <= TARGETS["cpu_share_of_one_core_static"])
    return {"zhishiyun": mine, "ffmpeg": theirs, "cpu_ratio": round(ratio, 3),
            "tracks": tracks, "met": met}


def profile(seconds: float, camera: Path, work: Path, modes: list[str], screen) -> dict:
    if not shutil.which("py-spy"):
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    tables = {}
    for mode in modes:
        player = start_changing_screen(screen.width, screen.height) \
            if mode == "changing" else None
        raw = work / f"{mode}.txt"
        try:
            done = subprocess.run(["py-spy", "record", "--threads", "-r", str(PROFILE_RATE),
                                   "-f", "raw", "-o", str(raw), "--",
                                   *record_command(seconds, camera, work / mode)],
                                  cwd=REPO, check=True, capture_output=True, text=True)
        finally:
            if player is not None:
                player.terminate()
                player.wait()
        out = done.stdout
        summary, _ = json.JSONDecoder().raw_decode(out[out.index("{"):])  # after py-spy's line
        cpu = {name: t["cpu_seconds"] for name, t in summary["tracks"].items()}
        cpu["recorder"] = max(0.0, summary["cpu_seconds"] - sum(cpu.values()))
        table = stage_table(raw.read_text(), cpu, summary["seconds"], REPO)
        tables[mode] = {"ms_cpu_per_recorded_second": table, "markdown": markdown(table),
                        "load_average": os.getloadavg()}
    return tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--modes", default="changing,static")
    parser.add_argument("--smoke", action="store_true",
                        help="3 s per mode: checks that it runs, measures nothing")
    parser.add_argument("--profile", action="store_true",
                        help="run the recorder under py-spy: time per track and stage")
    parser.add_argument("--ours-only", action="store_true",
                        help="skip ffmpeg and the floor (e.g. a 10-minute memory run)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds = 3.0
    if not os.environ.get("DISPLAY"):
        raise SystemExit("no DISPLAY: run `source scripts/services.sh && start_display`")
    for tool in ("ffmpeg", "ffplay"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed for the reference measurement")
    from zhishiyun.capture.devices import list_screens

    screen = list_screens()[0]
    settings = RecordingSettings()
    modes = args.modes.split(",")
    result = {"smoke": args.smoke, "seconds": args.seconds,
              "screen": f"{screen.width}x{screen.height}", "cpu_count": os.cpu_count(),
              "load_average_before": os.getloadavg(),
              "settings": {"screen_fps": settings.screen_fps, "camera_fps": settings.camera_fps,
                           "x264_preset": settings.x264_preset, "crf": settings.crf,
                           "keyframe_seconds": settings.keyframe_seconds},
              "targets": TARGETS, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="zhishiyun-bench-") as tmp:
        work = Path(tmp)
        camera = make_camera_file(work / "camera.mp4")
        if args.profile:
            result["profile"] = profile(args.seconds, camera, work, modes, screen)
            del result["modes"]
        else:
            for mode in modes:
                player = start_changing_screen(screen.width, screen.height) \
                    if mode == "changing" else None
                try:
                    mine = ours(args.seconds, camera, work / mode)
                    theirs = None if args.ours_only else ffmpeg_reference(
                        args.seconds, camera, work / mode, settings, screen.width,
                        screen.height)
                finally:
                    if player is not None:
                        player.terminate()
                        player.wait()
                result["modes"][mode] = {"zhishiyun": mine} if theirs is None \
                    else compare(mode, mine, theirs, args.seconds)
            if not args.ours_only:
                result["floor"] = floor(2.0 if args.smoke else min(20.0, args.seconds),
                                        settings, screen.width, screen.height, camera)
                for mode, report in result["modes"].items():
                    report["floor_cpu_ratio"] = floor_ratio(result["floor"], mode,
                                                            report["ffmpeg"])
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
