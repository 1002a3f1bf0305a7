"""The organisation's face-login rules, built once per process from the server's settings.

Every field can be set with ``ZHISHIYUN_SERVER_FACE_<FIELD>`` (e.g.
``ZHISHIYUN_SERVER_FACE_TOLERANCE=0.5``; :class:`~zhishiyun_server.settings.ServerConfig`
reads them into ``face_overrides``). Defaults follow the seed manuals: three failed
attempts then a fallback, one minute of cooldown after a cancelled verification.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from zhishiyun_server.settings import FACE_ENV_PREFIX, ServerConfig, SettingsError


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
    def from_config(cls, config: ServerConfig) -> FacePolicy:
        """Defaults overridden by ``config.face_overrides``.

        Raises:
            SettingsError: an override names no field or holds no number of its type.
        """
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "demo_enrol"}
        values: dict[str, object] = {}
        for name, raw in config.face_overrides.items():
            env = FACE_ENV_PREFIX + name.upper()
            if name not in fields:
                raise SettingsError(f"{env}={raw!r}: no such face-login setting")
            kind = type(fields[name].default)
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{env}={raw!r} is not a valid {kind.__name__}") from None
            if value < 0:
                raise SettingsError(f"{env}={raw!r} must not be negative")
            values[name] = value
        values["demo_enrol"] = config.demo and config.demo_face_enrol
        return cls(**values)

    def install(self) -> None:
        """Make this the policy of the process (:func:`current`)."""
        global _current
        _current = self

    def challenge_seconds(self) -> float:
        """How long a challenge stays valid."""
        return self.actions * self.step_seconds + self.step_seconds + self.challenge_slack_s


_current = FacePolicy()


def current() -> FacePolicy:
    """The policy :meth:`FacePolicy.install` made this process's (defaults before that)."""
    return _current
