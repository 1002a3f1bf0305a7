"""Capture and recording: screen + camera + microphone into crash-safe segments.

Public API (no Qt; see each module for details):

- :mod:`zhishiyun.capture.manifest` — ``ManifestWriter``, ``verify_manifest`` (standard
  library only; the server imports it).
- :mod:`zhishiyun.capture.devices` — ``list_cameras()``, ``list_microphones()``,
  ``list_screens()``.
- :mod:`zhishiyun.capture.probe` — ``grab_camera_frame(spec, timeout_s)``,
  ``record_audio_clip(device, seconds, samplerate)``, ``rms``/``peak``/``dbfs``.
- Errors: :class:`zhishiyun.capture.errors.DeviceError`, ``RecordingError``.

The recorder (``Recorder``) and the device test follow in this package.
"""
