"""Values both sides agree on: what the server's ``/config`` may set and its defaults.

The client applies them (checks, recording); the reference server publishes them in
``/config``. Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_PROHIBITED_PROCESSES: tuple[str, ...] = (
    # remote control
    "TeamViewer", "TeamViewer_Service", "AnyDesk", "ToDesk", "ToDesk_Service", "SunloginClient",
    "AweSun", "RustDesk", "Parsec", "vncserver", "x11vnc", "winvnc", "tvnserver",
    "remoting_host", "GotoHTTP", "Splashtop",
    # chat and meetings
    "QQ", "TIM", "WeChat", "Weixin", "WeChatAppEx", "DingTalk", "Feishu", "Lark", "WXWork",
    "wemeetapp", "Telegram", "Discord", "Skype", "Zoom",
)


@dataclass(frozen=True)
class CheckThresholds:
    """Limits the pre-exam checks apply (server ``/config`` → ``checks`` overrides)."""

    disk_recordings_min_gb: float = 20.0
    disk_system_min_gb: float = 5.0
    memory_total_min_gb: float = 4.0
    memory_available_min_gb: float = 2.0
    clock_warn_s: float = 5.0
    clock_fail_s: float = 120.0
    server_latency_warn_ms: float = 800.0
    max_displays: int = 1
    prohibited_processes: tuple[str, ...] = DEFAULT_PROHIBITED_PROCESSES
    #: Checks whose failure keeps the candidate out of the system.
    blocking_checks: tuple[str, ...] = ("server", "version", "clock", "disk", "camera",
                                        "microphone", "display", "processes")


@dataclass(frozen=True)
class RecordingSettings:
    """How sessions are recorded (server ``/config`` → ``recording`` overrides)."""

    segment_seconds: int = 30
    screen_fps: float = 5.0
    screen_max_side: int = 1920
    screen_drop_duplicates: bool = True
    camera_width: int = 640
    camera_height: int = 480
    camera_fps: float = 15.0
    audio_rate: int = 16000
    audio_channels: int = 1
    audio_bitrate: int = 32000
    keyframe_seconds: float = 2.0
    crf: int = 30
    x264_preset: str = "veryfast"
    disk_warn_gb: float = 2.0
    disk_floor_gb: float = 0.5


DEFAULT_VIRTUAL_CAMERAS: tuple[str, ...] = (
    "OBS Virtual Camera", "OBS-Camera", "ManyCam", "XSplit", "Snap Camera", "DroidCam",
    "e2eSoft VCam", "VCam", "iVCam", "Iriun", "EpocCam", "CamTwist", "Camo", "NDI Virtual",
    "mmhmm", "AlterCam", "SplitCam", "YouCam", "v4l2loopback", "Dummy video device",
)
DEFAULT_VIRTUAL_AUDIO: tuple[str, ...] = (
    "VB-Audio", "VB-Cable", "CABLE Output", "VoiceMeeter", "BlackHole", "Soundflower",
    "Loopback Audio", "Virtual Audio Cable", "ManyCam Virtual Microphone", "Krisp",
)


@dataclass(frozen=True)
class IntegritySettings:
    """What the organisation allows and blocks (server ``/config`` top-level keys).

    Signal kinds for ``blocking_environment``: ``virtual_camera``, ``virtual_audio``,
    ``virtual_machine``, ``remote_session``, ``several_monitors``.
    """

    #: A video file as the camera, no camera, no microphone, or a file as the microphone.
    stand_in_devices: bool = False
    blocking_environment: tuple[str, ...] = ("virtual_camera", "remote_session")
    #: Device names containing one of these (case-insensitive) are virtual.
    virtual_cameras: tuple[str, ...] = DEFAULT_VIRTUAL_CAMERAS
    virtual_audio: tuple[str, ...] = DEFAULT_VIRTUAL_AUDIO
    #: Mean seconds between identity checks during the exam (0: none).
    identity_interval_s: int = 240
    #: A prohibited program still running this long after its banner is severe.
    prohibited_grace_s: int = 60
    #: On battery below this percentage: a banner and an event.
    battery_warn_percent: int = 20


def merge_from_server(defaults: Any, reply: Mapping[str, Any] | None) -> Any:
    """Overlay a server-supplied mapping on a defaults dataclass, field by field.

    Unknown keys are ignored and a value of the wrong type keeps the default, so a
    newer or slightly broken server never breaks the client.
    """
    if not reply:
        return defaults
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(defaults):
        if f.name not in reply:
            continue
        value, current = reply[f.name], getattr(defaults, f.name)
        if isinstance(current, tuple) and isinstance(value, list):
            if all(isinstance(v, str) for v in value):
                changes[f.name] = tuple(value)
        elif isinstance(current, bool):
            if isinstance(value, bool):
                changes[f.name] = value
        elif isinstance(current, (int, float)) and isinstance(value, (int, float)):
            if not isinstance(value, bool) and value >= 0:
                changes[f.name] = type(current)(value)
        elif isinstance(current, str) and isinstance(value, str):
            changes[f.name] = value
    return dataclasses.replace(defaults, **changes)
