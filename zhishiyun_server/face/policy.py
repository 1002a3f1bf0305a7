"""The organisation's face-login rules, read once per process from the environment.

Every field can be set with ``ZHISHIYUN_SERVER_FACE_<FIELD>`` (e.g.
``ZHISHIYUN_SERVER_FACE_TOLERANCE=0.5``). Defaults follow the seed manuals: three failed
attempts then a fallback, one minute of cooldown after a cancelled verification.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

ENV_PREFIX = "ZHISHIYUN_SERVER_FACE_"


@dataclass(frozen=True)
class FacePolicy:
    """Thresholds and limits of face login."""

    #: Largest embedding distance accepted as the same person (dlib's usual 0.6).
    tolerance: float = 0.6
    #: Failed attempts (since the last success, within the window) before the fallback.
    max_failures: int = 3
    failure_window_s: int = 1800
    #: After a cancelled verification the next may start only this much later.
    cancel_cooldown_s: int = 60
    #: Actions per challenge (drawn at random, in random order, no repeats).
    actions: int = 2
    #: Seconds the client shows each step; a challenge lives for all steps plus slack.
    step_seconds: float = 2.5
    challenge_slack_s: float = 30.0
    min_frames: int = 4
    max_frames: int = 40
    max_frame_bytes: int = 300_000
    max_review_photo_bytes: int = 3_000_000
    #: Days a frontal frame of each attempt is kept for audits (0: keep no images).
    retention_days: int = 0
    #: Demo only: a candidate without an enrolled face is enrolled by their first successful
    #: liveness check (set by ``zhishiyun-server --demo`` unless ZHISHIYUN_DEMO_FACE_ENROL=0).
    demo_enrol: bool = False

    @classmethod
    def from_env(cls, *, demo: bool = False) -> FacePolicy:
        """Defaults overridden by ``ZHISHIYUN_SERVER_FACE_*``; bad values keep the default."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper(), "").strip()
            if not raw or f.name == "demo_enrol":
                continue
            try:
                values[f.name] = type(f.default)(raw)
            except ValueError:
                continue
        enrol = os.environ.get("ZHISHIYUN_DEMO_FACE_ENROL", "1").strip() not in ("0", "false")
        values["demo_enrol"] = demo and enrol
        return cls(**values)

    def challenge_seconds(self) -> float:
        """How long a challenge stays valid."""
        return self.actions * self.step_seconds + self.step_seconds + self.challenge_slack_s
