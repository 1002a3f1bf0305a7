"""The environment probe: signals, severities and entry refusals from supplied system answers,
and one real look at this Linux machine."""

from __future__ import annotations

import sys

import pytest

from tests.platform.fakes import FakeSystem
from zhishiyun.capture.devices import Camera, Microphone, Screen
from zhishiyun.config import IntegritySettings
from zhishiyun.exam.environment import EnvironmentProbe
from zhishiyun.platform import current
from zhishiyun.platform.base import PowerStatus, RemoteSessionReport, VmReport
from zhishiyun.platform.linux import LinuxPlatform


class AnsweringPlatform:
    """A platform whose probes answer what the test says."""

    def __init__(self, vm: VmReport | None = None, remote: RemoteSessionReport | None = None,
                 power: PowerStatus | None = None) -> None:
        self.vm = vm or VmReport(virtual=False)
        self.remote = remote or RemoteSessionReport(remote=False)
        self.power_status = power or PowerStatus(has_battery=False)

    def virtual_machine(self) -> VmReport:
        return self.vm

    def remote_session(self) -> RemoteSessionReport:
        return self.remote

    def power(self) -> PowerStatus:
        return self.power_status


def screen(i: int, width: int = 1920, height: int = 1080) -> Screen:
    return Screen(index=i, name=f"Monitor {i}", left=0, top=0, width=width, height=height,
                  is_primary=i == 1)


def probe(platform, *, cameras=(), mics=(), screens=(screen(1),), integrity=None):
    return EnvironmentProbe(integrity or IntegritySettings(), platform=platform,
                            cameras=lambda: list(cameras), microphones=lambda: list(mics),
                            screens=lambda: list(screens))


MIC = Microphone(index=0, name="Built-in Microphone", host_api="Core Audio", channels=1,
                 default_samplerate=48000.0, is_default=True)


def test_a_virtual_camera_in_use_is_severe_and_blocks_entry_by_default():
    cameras = [Camera(index=0, name="OBS Virtual Camera", backend="dshow"),
               Camera(index=1, name="Integrated Webcam", backend="dshow")]
    env = probe(AnsweringPlatform(), cameras=cameras, mics=[MIC]).snapshot(0, None)
    signal = next(s for s in env.signals if s.kind == "virtual_camera")
    assert signal.severity == "severe" and "OBS Virtual Camera" in signal.detail
    assert env.devices == {"camera": "OBS Virtual Camera", "camera_backend": "dshow",
                           "microphone": "Built-in Microphone",
                           "microphone_backend": "Core Audio"}
    assert "OBS Virtual Camera" in env.refusal(IntegritySettings())
    # the real webcam instead: the virtual one is only present, and entry is allowed
    other = probe(AnsweringPlatform(), cameras=cameras, mics=[MIC]).snapshot(1, None)
    assert "virtual_camera" not in other.kinds() and "virtual_camera_present" in other.kinds()
    assert other.refusal(IntegritySettings()) is None


def test_the_organisations_own_virtual_device_names_count():
    mics = [Microphone(index=0, name="Studio Feed 2", host_api="WASAPI", channels=2,
                       default_samplerate=48000.0, is_default=True)]
    settings = IntegritySettings(virtual_audio=("Studio Feed",))
    env = probe(AnsweringPlatform(), mics=mics, integrity=settings).snapshot(0, None)
    signal = next(s for s in env.signals if s.kind == "virtual_audio")
    assert signal.severity == "warning" and env.refusal(settings) is None  # reported only
    assert env.refusal(IntegritySettings(blocking_environment=("virtual_audio",))) is not None


def test_a_remote_session_from_linux_answers_blocks_and_says_why():
    system = FakeSystem(environ={"SSH_CONNECTION": "10.0.0.5 50122 10.0.0.9 22",
                                 "DISPLAY": "localhost:10.0"})
    env = probe(LinuxPlatform(system), mics=[MIC]).snapshot(0, None)
    remote = next(s for s in env.signals if s.kind == "remote_session")
    assert remote.severity == "severe"
    assert "SSH_CONNECTION is set" in remote.data["evidence"]
    assert any("forwarded X display" in e for e in remote.data["evidence"])
    reason = env.refusal(IntegritySettings())
    assert reason and "SSH_CONNECTION" in reason
    body = env.body()
    assert {"kind": "remote_session", "severity": "severe"} == {
        k: body["environment"][0][k] for k in ("kind", "severity")}


def test_a_virtual_machine_from_linux_dmi_answers_is_reported_not_blocked():
    system = FakeSystem(files={"/sys/class/dmi/id/sys_vendor": "QEMU\n",
                               "/sys/class/dmi/id/product_name": "Standard PC (Q35)\n"})
    env = probe(LinuxPlatform(system), mics=[MIC]).snapshot(0, None)
    vm = next(s for s in env.signals if s.kind == "virtual_machine")
    assert vm.severity == "warning" and vm.data["product"] == "QEMU"
    assert env.refusal(IntegritySettings()) is None
    assert env.refusal(IntegritySettings(blocking_environment=("virtual_machine",)))


def test_stand_ins_monitors_and_changes(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 16)
    two = [screen(1), screen(2, 1280, 1024)]
    env = probe(AnsweringPlatform(), mics=[MIC], screens=two).snapshot(str(clip), "none")
    assert env.stand_ins == ["camera_file", "no_microphone"]
    assert env.devices["camera"] == "clip.mp4" and env.devices["camera_backend"] == "file"
    assert "several_monitors" in env.kinds()
    assert [s.detail for s in env.signals if s.kind == "screen"] == ["1920×1080", "1280×1024"]
    assert "stand-ins are not allowed" in env.refusal(IntegritySettings())
    assert env.refusal(IntegritySettings(stand_in_devices=True)) is None  # monitors: report
    assert env.body()["devices"]["stand_ins"] == ["camera_file", "no_microphone"]

    cameras = [Camera(index=0, name="Integrated Webcam"), Camera(index=1, name="USB Camera")]
    before = probe(AnsweringPlatform(), cameras=cameras, mics=[MIC]).snapshot(0, None)
    after = probe(AnsweringPlatform(), cameras=cameras, mics=[MIC], screens=two).snapshot(1, None)
    changes = {s.kind: s for s in before.changes(after)}
    assert changes["monitors_changed"].severity == "severe"
    assert changes["device_switched"].data == {"role": "camera", "before": "Integrated Webcam",
                                              "after": "USB Camera"}
    assert "several_monitors" in changes


def test_no_monitor_at_all_is_severe():
    env = probe(AnsweringPlatform(), mics=[MIC], screens=()).snapshot(0, None)
    assert next(s for s in env.signals if s.kind == "no_monitor").severity == "severe"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="not on this OS: Linux")
def test_this_linux_machine_for_real():
    env = EnvironmentProbe(IntegritySettings(stand_in_devices=True),
                           microphones=lambda: []).snapshot("none", "none")
    vm = current().virtual_machine()
    assert ("virtual_machine" in env.kinds()) == vm.virtual  # the VM probe says what this is
    if vm.virtual:
        signal = next(s for s in env.signals if s.kind == "virtual_machine")
        assert signal.data["evidence"] == list(vm.evidence)
    assert ("remote_session" in env.kinds()) == current().remote_session().remote
    assert next(s for s in env.signals if s.kind == "monitors").data["count"] == len(
        env.monitors)


def test_screen_scaling_from_each_platforms_answers():
    from zhishiyun.exam.environment import screen_scale

    assert screen_scale("linux", environ={"GDK_SCALE": "2"}, xrdb=lambda: None) == 2.0
    assert screen_scale("linux", environ={}, xrdb=lambda: "Xft.dpi:\t144\nXft.hinting:\t1\n") \
        == 1.5
    assert screen_scale("linux", environ={}, xrdb=lambda: "Xcursor.size:\t24\n") == 1.0
    assert screen_scale("linux", environ={}, xrdb=lambda: None) is None  # no X resources
    assert screen_scale("win32", windows_dpi=lambda: 120) == 1.25
    assert screen_scale("darwin") is None
    env = EnvironmentProbe(IntegritySettings(), platform=AnsweringPlatform(),
                           cameras=lambda: [], microphones=lambda: [MIC],
                           screens=lambda: [screen(1, 2560, 1600)],
                           scale=lambda: 1.25).snapshot(0, None)
    assert env.monitors[0]["scale"] == 1.25
    assert next(s for s in env.signals if s.kind == "screen").data["scale"] == 1.25
