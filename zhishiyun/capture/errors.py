"""Errors of the capture package."""

from __future__ import annotations

from zhishiyun.errors import ZhishiyunError


class DeviceError(ZhishiyunError):
    """A camera, microphone or screen cannot be used; the message says what to do."""

    code = "device_error"


class RecordingError(ZhishiyunError):
    """Recording cannot start or go on (no encoder, no space, bad output directory)."""

    code = "recording_error"
