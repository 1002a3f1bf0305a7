"""Capture and recording: screen + camera + microphone into crash-safe segments (no Qt).

Recorder (:mod:`zhishiyun.capture.recorder`)::

    rec = Recorder(session_dir, session_key, settings,        # <data>/sessions/<sid>/
                   first_seq=None,                            # None: after existing files
                   screen=True, camera=0, microphone=None,    # file path stands in for camera
                   now_server=clock.now,                      # tz-aware server time
                   segment_did_close=on_closed,               # ClosedSegment, close-<track>
                   event_did_occur=on_event)                  # RecorderEvent, any rec. thread
    rec.start()        # recovers open segments first; RecordingError / DeviceError
    rec.summary(); rec.audio_level(); rec.latest_frame("camera")
    rec.stop()         # closes segments, writes manifest lines, returns the summary dict
    rec.wait(timeout)  # True once stopped (also after disk_full)

Files: ``<session>/<track>/<seq:06d>.mp4`` (tracks ``screen``, ``camera``; fragmented MP4,
H.264 + AAC) and ``<session>/manifest.jsonl`` (:mod:`~zhishiyun.capture.manifest`:
``ManifestWriter``, ``verify_manifest``; standard library only, the server imports it).
Event kinds: ``device_lost``, ``device_restored``, ``disk_low``, ``disk_full``,
``segment_recovered``, ``segment_unreadable``, ``track_failed``, ``stopped``.

Also: :func:`~zhishiyun.capture.recovery.recover_session` (crash recovery without
recording), :func:`~zhishiyun.capture.devicetest.run_device_test` (设备检测),
:mod:`~zhishiyun.capture.devices` (``list_cameras/list_microphones/list_screens``),
:mod:`~zhishiyun.capture.probe` (``grab_camera_frame``, ``record_audio_clip``, levels),
:mod:`~zhishiyun.capture.encoder` (``choose_encoder``; hardware encoders verified by
``probe.probe_video_encoder``), sources in :mod:`~zhishiyun.capture.sources` and
:mod:`~zhishiyun.capture.screen` (grabbers: :mod:`~zhishiyun.capture.screen_grab`; a
webcam's MJPEG/YUYV: :mod:`~zhishiyun.capture.camera_formats`), a track's inputs in
:mod:`~zhishiyun.capture.context`.
What recording costs and why: docs/performance.md. Errors: ``DeviceError``, ``RecordingError``
(:mod:`~zhishiyun.capture.errors`).
"""
