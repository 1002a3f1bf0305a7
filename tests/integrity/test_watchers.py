"""The exam watchers on their own: prohibited programs, battery, keep-awake, identity polls."""

from __future__ import annotations

import contextlib
import shutil
import subprocess

import pytest

from zhishiyun.config import IntegritySettings
from zhishiyun.exam.watchers import ExamWatchers, manifest_last_seqs
from zhishiyun.platform.base import KeepAwakeStatus, PowerStatus


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.banners: list[tuple[str, str | None]] = []

    def event(self, kind: str, details: dict) -> None:
        self.events.append((kind, details))

    def banner(self, key: str, text: str | None) -> None:
        self.banners.append((key, text))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


class PowerPlatform:
    def __init__(self, active: bool = True) -> None:
        self.status = PowerStatus(has_battery=True, percent=80.0, plugged=True)
        self.active = active
        self.released = False

    def power(self) -> PowerStatus:
        return self.status

    @contextlib.contextmanager
    def keep_awake(self, reason: str):
        try:
            yield KeepAwakeStatus(self.active, method="logind" if self.active else "",
                                  reason="" if self.active else "no logind on this system")
        finally:
            self.released = True


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "AnyDesk"
    shutil.copy(shutil.which("sleep"), path)
    process = subprocess.Popen([str(path), "300"])
    yield process
    process.kill()
    process.wait()


def test_a_prohibited_program_banner_then_severe_after_the_grace_then_closed(program):
    clock, seen = Clock(), Recorder()
    watchers = ExamWatchers(record_event=seen.event, banner=seen.banner, now=clock,
                            integrity=IntegritySettings(prohibited_grace_s=30),
                            prohibited=("AnyDesk", "TeamViewer"))
    watchers.check_processes()
    assert seen.kinds() == ["prohibited_program"]
    assert seen.events[0][1]["name"] == "AnyDesk" and seen.events[0][1]["severity"] == "warning"
    assert seen.banners[0][0] == "prohibited:AnyDesk" and "AnyDesk" in seen.banners[0][1]
    clock.t += 29
    watchers.check_processes()
    assert seen.kinds() == ["prohibited_program"]  # within the grace period: nothing new
    clock.t += 2
    watchers.check_processes()
    watchers.check_processes()
    assert seen.kinds() == ["prohibited_program", "prohibited_program_still_running"]
    assert seen.events[1][1]["severity"] == "severe"
    program.kill()
    program.wait()
    watchers.check_processes()
    assert seen.kinds()[-1] == "prohibited_program_closed"
    assert seen.banners[-1] == ("prohibited:AnyDesk", None)


def test_battery_below_the_threshold_banner_and_event_once_until_plugged_in():
    seen, platform = Recorder(), PowerPlatform()
    watchers = ExamWatchers(record_event=seen.event, banner=seen.banner, platform=platform,
                            integrity=IntegritySettings(battery_warn_percent=20))
    watchers.check_power()
    assert seen.events == []
    platform.status = PowerStatus(has_battery=True, percent=15.0, plugged=False,
                                  seconds_left=900)
    watchers.check_power()
    watchers.check_power()
    assert seen.kinds() == ["battery_low"] and seen.events[0][1]["percent"] == 15.0
    assert seen.banners == [("battery", seen.banners[0][1])] and "15%" in seen.banners[0][1]
    platform.status = PowerStatus(has_battery=True, percent=16.0, plugged=True)
    watchers.check_power()
    assert seen.kinds() == ["battery_low", "battery_ok"] and seen.banners[-1] == ("battery", None)


@pytest.mark.parametrize("active", [True, False])
def test_keep_awake_is_held_while_watching_and_a_refusal_is_an_event(active):
    seen, platform = Recorder(), PowerPlatform(active=active)
    watchers = ExamWatchers(record_event=seen.event, banner=seen.banner, platform=platform,
                            environment_interval_s=3600, process_interval_s=3600,
                            identity_interval_s=3600)
    watchers.start()
    watchers.stop()
    assert platform.released
    kind, details = seen.events[0]
    if active:
        assert (kind, details["method"]) == ("keep_awake", "logind")
    else:
        assert kind == "keep_awake_unavailable" and details["severity"] == "warning"
        assert "logind" in details["reason"]


def test_identity_is_asked_on_its_own_interval():
    clock, calls = Clock(), []
    watchers = ExamWatchers(record_event=lambda *a: None, banner=lambda *a: None, now=clock,
                            identity=lambda: calls.append(clock.t), identity_interval_s=20)
    for _ in range(5):
        watchers.tick()
        clock.t += 10
    assert calls == [1000.0, 1020.0, 1040.0]


def test_the_last_seq_of_each_track_comes_from_the_manifest(tmp_path):
    from zhishiyun.capture.manifest import ManifestWriter

    with ManifestWriter(tmp_path / "manifest.jsonl", "k" * 64) as manifest:
        for track, seq in (("screen", 0), ("camera", 0), ("screen", 1), ("camera", 1),
                           ("screen", 2)):
            manifest.append({"seq": seq, "track": track, "start": "2026-12-01T10:00:00.000+00:00",
                             "duration_ms": 2000, "bytes": 1, "sha256": "0" * 64})
    assert manifest_last_seqs(tmp_path) == {"screen": 2, "camera": 1}
    assert manifest_last_seqs(tmp_path / "nothing") == {}


def test_a_device_switch_and_a_second_monitor_during_the_exam_are_reported():
    from zhishiyun.capture.devices import Camera, Microphone, Screen
    from zhishiyun.exam.environment import EnvironmentProbe

    class Platform:
        def virtual_machine(self):
            from zhishiyun.platform.base import VmReport
            return VmReport(virtual=False)

        def remote_session(self):
            from zhishiyun.platform.base import RemoteSessionReport
            return RemoteSessionReport(remote=False)

    screens = [Screen(index=1, name="A", left=0, top=0, width=1920, height=1080,
                      is_primary=True)]
    mic = Microphone(index=0, name="Headset", host_api="ALSA", channels=1,
                     default_samplerate=48000.0, is_default=True)
    probe = EnvironmentProbe(IntegritySettings(), platform=Platform(), scale=lambda: 1.0,
                             cameras=lambda: [Camera(0, "Webcam"), Camera(1, "USB Camera")],
                             microphones=lambda: [mic], screens=lambda: list(screens))
    current = {"camera": 0}
    seen = Recorder()
    watchers = ExamWatchers(record_event=seen.event, banner=seen.banner, probe=probe,
                            baseline=probe.snapshot(0, None),
                            devices=lambda: (current["camera"], None))
    watchers.check_environment()
    assert seen.events == []
    current["camera"] = 1
    screens.append(Screen(index=2, name="B", left=1920, top=0, width=1920, height=1080))
    watchers.check_environment()
    changed = {d["kind"]: d for k, d in seen.events if k == "environment_changed"}
    assert changed["device_switched"]["data"]["after"] == "USB Camera"
    assert changed["monitors_changed"]["severity"] == "severe"
    assert seen.banners[-1][0] == "monitors" and "Unplug" in seen.banners[-1][1]
    screens.pop()
    watchers.check_environment()
    assert seen.banners[-1] == ("monitors", None)
