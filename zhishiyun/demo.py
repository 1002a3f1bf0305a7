"""``zhishiyun demo``: the reference server with demo data, and the client against it.

With a desktop, the GUI opens against a freshly started demo server. Without one (or with
``--headless``) it walks the headless path a QA engineer would: the system checks, a
password login as the demo candidate 张三, entering the open written exam, a short
recording (screen when there is a display, a generated camera stand-in video, the default
microphone when there is one), its upload, and the server's view of what arrived.

The server runs as a separate process (``python -m zhishiyun_server``): the client never
imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import requests

from zhishiyun.api.client import api_endpoint
from zhishiyun.config import Settings
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _

log = logging.getLogger(__name__)
DEMO_ID_NUMBER = "110101199003070011"
DEMO_PASSWORD = "zsy-demo-1"
DEMO_RECORD_SECONDS = 8.0


class DemoServer:
    """``zhishiyun-server --demo`` in a child process, stopped when the demo ends."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/health`` answers."""
        if importlib.util.find_spec("zhishiyun_server") is None:
            raise ZhishiyunError(_("The reference server is not installed."),
                                 hint=_("install it with: pip install 'zhishiyun[server]'"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / "server.log"
        command = [sys.executable, "-m", "zhishiyun_server", "--demo",
                   "--db", f"sqlite:///{self.data_dir / 'server.db'}",
                   "--data", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port)]
        with log_path.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ZhishiyunError(_("The demo server stopped at start-up."),
                                     hint=_("see {path}").format(path=log_path))
            try:
                if requests.get(api_endpoint(self.url, "/health"), timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise ZhishiyunError(_("The demo server did not answer in time."),
                             hint=_("see {path}").format(path=log_path))

    def stop(self) -> None:
        """Stop the server process (terminate, then kill after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _with(settings: Settings, key: str, value: Any) -> Settings:
    values = dict(settings.values, **{key: value})
    sources = dict(settings.sources, **{key: "demo"})
    return dataclasses.replace(settings, values=values, sources=sources)


def _camera_for_demo(settings: Settings, demo_dir: Path) -> Settings:
    """Without a camera, a generated test video stands in (demo only), so the demo goes on."""
    from zhishiyun.capture.devices import list_cameras

    if settings.camera:
        return settings
    try:
        if list_cameras():
            return settings
    except ZhishiyunError:
        pass
    demo_dir.mkdir(parents=True, exist_ok=True)
    video = make_standin_camera(demo_dir / "camera-standin.mp4")
    print(_("No camera found: a generated test video stands in for it (demo only)."))
    return _with(settings, "camera", str(video))


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the demo server, then the GUI (desktop) or the headless walk-through."""
    demo_dir = settings.data_path / "demo"
    server = DemoServer(demo_dir / "server", _free_port())
    print(_("Starting the demo exam server…"), flush=True)
    server.start()
    demo = _camera_for_demo(_with(settings, "server_url", server.url), demo_dir)
    print(_("Demo server: {url}  (candidate 张三, ID {id}, password {pw})").format(
        url=server.url, id=DEMO_ID_NUMBER, pw=DEMO_PASSWORD), flush=True)
    try:
        if _has_display() and not getattr(args, "headless", False):
            from zhishiyun.ui.app import run as run_gui

            return run_gui(args, demo)
        return HeadlessDemo(demo, demo_dir).run()
    finally:
        server.stop()


def make_standin_camera(path: Path, seconds: float = 4.0, fps: int = 15) -> Path:
    """Write a small H.264 clip of moving colour bars to stand in for a camera."""
    import av
    import numpy as np

    width, height = 640, 480
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        bars = np.repeat(np.linspace(0, 255, width, dtype=np.uint8)[None, :], height, axis=0)
        for index in range(int(seconds * fps)):
            shifted = np.roll(bars, index * 8, axis=1)
            rgb = np.stack([shifted, np.roll(shifted, width // 3, 1),
                            np.roll(shifted, 2 * width // 3, 1)], axis=2)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


class HeadlessDemo:
    """The headless walk-through: checks, then ``zhishiyun exam run``'s exam, then a report."""

    def __init__(self, settings: Settings, demo_dir: Path) -> None:
        self.settings, self.demo_dir = settings, demo_dir

    def _step(self, text: str) -> None:
        print(f"\n== {text}", flush=True)

    def run(self) -> int:
        """Walk through the demo; returns 0 when every segment reached the server."""
        from zhishiyun.api.tokens import MemoryTokenStore
        from zhishiyun.capture.devices import list_microphones
        from zhishiyun.exam.headless import ExamPlan, HeadlessExam
        from zhishiyun.exam.runtime import ExamRuntime

        self._step(_("System checks"))
        self._checks()
        try:
            has_mic = bool(list_microphones())
        except ZhishiyunError:
            has_mic = False
        runtime = ExamRuntime.from_settings(
            self.settings, token_store=MemoryTokenStore(self.settings.server_url))
        plan = ExamPlan(DEMO_ID_NUMBER, DEMO_PASSWORD, exam="next", kind="written",
                        accept_rules=True, seconds=DEMO_RECORD_SECONDS,
                        camera=self.settings.camera or 0,
                        microphone=None if has_mic else "none", screen=_has_display())
        self._step(_("Password login as 张三, entering the open written exam, recording "
                     "{seconds:.0f} s").format(seconds=DEMO_RECORD_SECONDS))
        try:
            summary = HeadlessExam(runtime, plan).run()
            recordings = runtime.client.recordings(summary["session_id"])
            runtime.client.logout()
        finally:
            runtime.close()
        self._step(_("What the server received"))
        all_ok = summary["all_uploaded"]
        for track, info in sorted(recordings.tracks.items()):
            ok = info.chain_ok and not info.missing
            all_ok &= ok
            print(_("{track:<7} segments {received}  missing {missing}  {mb:.2f} MB  "
                    "chain {chain}").format(track=track, received=info.received,
                                            missing=info.missing or "-",
                                            mb=info.bytes / 1e6,
                                            chain="ok" if info.chain_ok else "BROKEN"))
        print(_("Audio: recorded with the camera track from the default microphone.") if has_mic
              else _("Audio: no microphone found, none recorded."))
        print(_("Demo finished: everything recorded reached the server.") if all_ok and
              recordings.tracks else _("Demo finished with problems (see above)."))
        return 0 if all_ok and recordings.tracks else 1

    def _checks(self) -> None:
        from zhishiyun.checks import CheckContext, CheckRunner, create_checks
        from zhishiyun.checks.report import to_table

        report = CheckRunner(create_checks(None), CheckContext(self.settings),
                             in_order=True).run()
        print(to_table(report))
        print(_("(The demo goes on whatever the checks say; a real exam would not.)"))
