"""``zhishiyun devices`` and ``zhishiyun record`` (headless, for QA, support and CI)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from typing import Any

from zhishiyun.capture.errors import DeviceError
from zhishiyun.config import RecordingSettings, Settings

log = logging.getLogger(__name__)


def run_devices(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001
    """List cameras, microphones and screens; a group that cannot be listed says why."""
    from zhishiyun.capture import devices

    result: dict[str, Any] = {"cameras": [], "microphones": [], "screens": [], "problems": []}
    for key, lister in (("cameras", devices.list_cameras),
                        ("microphones", devices.list_microphones),
                        ("screens", devices.list_screens)):
        try:
            result[key] = [d.to_dict() for d in lister()]
        except DeviceError as exc:
            result["problems"].append({"group": key, "code": exc.code,
                                       "message": exc.one_line()})
    if getattr(args, "json", False):
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for cam in result["cameras"]:
        print(f"camera     {cam['index']}: {cam['name']} ({cam['width']}x{cam['height']} "
              f"@ {cam['fps']:g} fps, {cam['backend']})")
    for mic in result["microphones"]:
        default = " [default]" if mic["is_default"] else ""
        if mic["description"] != mic["name"]:  # a sound server's source: what --mic takes
            print(f"microphone {mic['index']}: {mic['description']} [--mic {mic['name']}] "
                  f"({mic['host_api']}, {mic['channels']} ch){default}")
            continue
        print(f"microphone {mic['index']}: {mic['name']} ({mic['host_api']}, "
              f"{mic['channels']} ch, {mic['default_samplerate']:g} Hz){default}")
    for scr in result["screens"]:
        primary = " [primary]" if scr["is_primary"] else ""
        print(f"screen     {scr['index']}: {scr['name']} {scr['width']}x{scr['height']} "
              f"at {scr['left']},{scr['top']}{primary}")
    for group in ("cameras", "microphones", "screens"):
        if not result[group] and not any(p["group"] == group for p in result["problems"]):
            print(f"{group}: none found")
    for problem in result["problems"]:
        print(f"{problem['group']}: {problem['message']}", file=sys.stderr)
    return 0


def run_record(args: argparse.Namespace, settings: Settings) -> int:
    """Record to ``--out`` for ``--seconds`` and print a JSON summary.

    The manifest key is taken from ``ZHISHIYUN_RECORD_KEY`` or made up for this run and
    printed in the summary (a local recording has no server session). SIGTERM/SIGINT
    stop the recording cleanly.
    """
    from zhishiyun.capture.recorder import Recorder

    camera = args.camera if args.camera is not None else (settings.camera or 0)
    mic = args.mic if args.mic is not None else (settings.microphone or None)
    key = os.environ.get("ZHISHIYUN_RECORD_KEY") or secrets.token_hex(16)
    recorder = Recorder(
        args.out, key, RecordingSettings(),
        screen=not args.no_screen, camera=camera, microphone=mic,
        event_did_occur=lambda e: log.info("recorder event %s %s %s",
                                           e.kind, e.source, e.detail),
    )
    cpu_start = time.process_time()
    recorder.start()
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        deadline = time.monotonic() + args.seconds
        while not stop.is_set() and not recorder.wait(0.0):
            stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                break
        summary = recorder.stop("interrupted" if stop.is_set() else "time_up")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    summary["cpu_seconds"] = round(time.process_time() - cpu_start, 3)
    summary["peak_rss_mb"] = peak_rss_mb()
    summary["session_key"] = key
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0 if recorder.stop_reason in ("time_up", "interrupted") else 1


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (current RSS where no peak is known)."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return round(getattr(info, "peak_wset", info.rss) / 2**20, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
