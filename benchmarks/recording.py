"""Recording benchmark: `zhishiyun record` against the ffmpeg CLI doing the same work.

For each screen mode (``changing``: ffplay shows a full-screen moving test pattern;
``static``: an idle desktop) it records N seconds (default 60) of screen (Xvfb 1920×1080) +
camera (stand-in file, 640×480 @ 15 fps) + microphone (PulseAudio), then does the same
capture and encode with ffmpeg (x11grab + libx264 with the same preset, tune, CRF, frame
rates, keyframe interval and fragmented-MP4 flags; audio AAC 16 kHz mono) in the same run,
one after the other. CPU and peak RSS come from ``wait4`` on each child process.

Prints one JSON object: per mode, our numbers, ffmpeg's, the CPU ratio, and whether the
issue's targets are met. Needs DISPLAY (scripts/services.sh start_display) and PulseAudio
(start_audio). Usage: ``python benchmarks/recording.py [--seconds 60] [--modes changing,static]``
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

from zhishiyun.config import RecordingSettings

TARGETS = {"cpu_ratio_changing": 1.0, "cpu_ratio_static": 0.5, "cpu_share_of_one_core": 0.25,
           "peak_rss_mb": 300, "mb_per_minute": 10}


def run_child(cmd: list[str], **kwargs) -> tuple[int, float, float, str]:
    """Run a command; return exit code, CPU seconds (user+sys), peak RSS MB, stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    out_chunks = []
    # read stdout before wait4 so a large summary cannot block the child
    out, err = proc.stdout.read(), proc.stderr.read()
    out_chunks.append(out)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return (proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            b"".join(out_chunks).decode(errors="replace"))


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


def bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.mp4"))


def ours(seconds: float, camera: Path, work: Path) -> dict:
    out = work / "ours"
    code, cpu, rss, stdout = run_child(
        [sys.executable, "-m", "zhishiyun", "record", "--out", str(out), "--seconds",
         str(seconds), "--camera", str(camera), "--mic", "pulse"])
    if code != 0:
        raise SystemExit(f"zhishiyun record failed ({code})")
    summary = json.loads(stdout)
    recorded = summary["seconds"]
    size = summary["bytes"]
    return {
        "seconds": recorded,
        "cpu_seconds_process": round(cpu, 2),
        "cpu_seconds_recording": summary["cpu_seconds"],
        "cpu_per_recorded_second": round(summary["cpu_seconds"] / recorded, 4),
        "peak_rss_mb": round(rss, 1),
        "mb_per_minute": round(size / 2**20 / recorded * 60, 2),
        "frames_dropped": {k: v["dropped"] for k, v in summary["sources"].items()},
        "screen_frames": {k: summary["sources"]["screen"][k]
                          for k in ("captured", "duplicates", "encoded")},
        "screen_heartbeats": summary["tracks"]["screen"]["heartbeat_frames"],
        "encoder": summary["encoder"]["video"],
    }


def ffmpeg_reference(seconds: float, camera: Path, work: Path, settings: RecordingSettings,
                     width: int, height: int) -> dict:
    out = work / "ffmpeg"
    out.mkdir()
    x264 = ["-c:v", "libx264", "-preset", settings.x264_preset, "-tune", "zerolatency",
            "-crf", str(settings.crf), "-bf", "0"]
    mp4 = ["-movflags", "frag_every_frame+empty_moov+default_base_moof", "-flush_packets", "1"]
    screen_gop = str(round(settings.screen_fps * settings.keyframe_seconds))
    camera_gop = str(round(settings.camera_fps * settings.keyframe_seconds))
    cmd = ["ffmpeg", "-v", "error", "-y",
           "-f", "x11grab", "-framerate", str(settings.screen_fps),
           "-video_size", f"{width}x{height}", "-i", os.environ["DISPLAY"],
           "-re", "-stream_loop", "-1", "-i", str(camera),
           "-f", "pulse", "-i", "default",
           "-map", "0:v", *x264, "-g", screen_gop, "-pix_fmt", "yuv420p", *mp4,
           "-t", str(seconds), str(out / "screen.mp4"),
           "-map", "1:v", "-map", "2:a", *x264, "-g", camera_gop, "-r", str(settings.camera_fps),
           "-s", f"{settings.camera_width}x{settings.camera_height}", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-ar", str(settings.audio_rate), "-ac", "1",
           "-b:a", str(settings.audio_bitrate), *mp4, "-t", str(seconds),
           str(out / "camera.mp4")]
    started = time.monotonic()
    code, cpu, rss, _ = run_child(cmd)
    if code != 0:
        raise SystemExit(f"ffmpeg reference failed ({code})")
    elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds_process": round(cpu, 2),
        "cpu_per_recorded_second": round(cpu / seconds, 4),
        "peak_rss_mb": round(rss, 1),
        "mb_per_minute": round(bytes_under(out) / 2**20 / seconds * 60, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--modes", default="changing,static")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("no DISPLAY: run `source scripts/services.sh && start_display`")
    for tool in ("ffmpeg", "ffplay"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed for the reference measurement")
    from zhishiyun.capture.devices import list_screens

    screen = list_screens()[0]
    settings = RecordingSettings()
    result = {"seconds": args.seconds, "screen": f"{screen.width}x{screen.height}",
              "cpu_count": os.cpu_count(), "load_average_before": os.getloadavg(),
              "settings": {"screen_fps": settings.screen_fps, "camera_fps": settings.camera_fps,
                           "x264_preset": settings.x264_preset, "crf": settings.crf,
                           "keyframe_seconds": settings.keyframe_seconds},
              "targets": TARGETS, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="zhishiyun-bench-") as tmp:
        work = Path(tmp)
        camera = make_camera_file(work / "camera.mp4")
        for mode in args.modes.split(","):
            player = start_changing_screen(screen.width, screen.height) \
                if mode == "changing" else None
            try:
                mine = ours(args.seconds, camera, work / mode)
                theirs = ffmpeg_reference(args.seconds, camera, work / mode, settings,
                                          screen.width, screen.height)
            finally:
                if player is not None:
                    player.terminate()
                    player.wait()
            ratio = mine["cpu_per_recorded_second"] / theirs["cpu_per_recorded_second"]
            target_ratio = TARGETS[f"cpu_ratio_{mode}"] if mode in ("changing", "static") \
                else None
            result["modes"][mode] = {
                "zhishiyun": mine, "ffmpeg": theirs, "cpu_ratio": round(ratio, 3),
                "met": {
                    "cpu_ratio": target_ratio is None or ratio <= target_ratio,
                    "cpu_share_of_one_core":
                        mine["cpu_per_recorded_second"] <= TARGETS["cpu_share_of_one_core"],
                    "peak_rss_mb": mine["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
                    "mb_per_minute": mine["mb_per_minute"] <= TARGETS["mb_per_minute"],
                },
            }
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
