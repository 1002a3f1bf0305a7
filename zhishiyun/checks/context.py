"""What every check may use: settings, an HTTP session for the server, thresholds.

Thresholds and recording settings are the built-in defaults of :mod:`zhishiyun.config`
merged with the server's ``GET /config`` (fetched once, lazily, by whichever check needs
it first; shared by all). With no server, or when the server cannot be reached within
``probe_timeout_s``, the defaults apply and ``config_source`` says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from zhishiyun import __version__
from zhishiyun.checks.network import ProbeError, api_url, request_json, session_for
from zhishiyun.config import (
    CheckThresholds,
    IntegritySettings,
    RecordingSettings,
    Settings,
    load_settings,
    merge_from_server,
)
from zhishiyun.device_choice import load_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceToTest:
    """The camera or microphone a check tests, and where that came from.

    ``value`` is spelled as the setting spells it (``""``: the system default);
    ``chosen_in`` names where the candidate chose it (``""``: from the settings);
    ``setting`` is the settings' own value, tested when the chosen device is gone.
    """

    value: str
    chosen_in: str
    setting: str

    def from_settings(self) -> DeviceToTest:
        """The settings' device instead of the chosen one."""
        return DeviceToTest(self.setting, "", self.setting)


class CheckContext:
    """Shared inputs of one run of the checks (thread-safe; checks run concurrently).

    Args:
        settings: effective settings (``load_settings()`` when omitted).
        session: the requests session for the server (built from the settings' CA
            bundle and proxy when omitted).
        thresholds: use these instead of the server's (tests, support overrides).
        recording: use these recording settings instead of the server's.
        ntp_servers: NTP servers (``host`` or ``host:port``) instead of config's.
        client_version: the version the version check reports (default: this build).
        probe_timeout_s: connect and read timeout of each request to the server
            (default: ``connect_timeout`` from the settings, at most 4 s).
        integrity: use these integrity settings instead of the server's.
    """

    def __init__(self, settings: Settings | None = None, *,
                 session: requests.Session | None = None,
                 thresholds: CheckThresholds | None = None,
                 recording: RecordingSettings | None = None,
                 ntp_servers: tuple[str, ...] | None = None,
                 client_version: str = __version__,
                 probe_timeout_s: float | None = None,
                 integrity: IntegritySettings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.server_url: str = self.settings.server_url
        self.client_version = client_version
        self.probe_timeout_s = probe_timeout_s if probe_timeout_s is not None else min(
            float(self.settings.connect_timeout), 4.0)
        self.cancelled = threading.Event()
        self._session = session
        self._thresholds_override = thresholds
        self._recording_override = recording
        self._ntp_override = ntp_servers
        self._integrity_override = integrity
        self._lock = threading.Lock()
        self._config_lock = threading.Lock()
        self._config: Mapping[str, Any] | None = None
        self._config_error: str | None = None
        self._config_fetched = False

    # --- server ------------------------------------------------------------------------

    @property
    def has_server(self) -> bool:
        """Whether a server is configured (``--server`` or ``server_url``)."""
        return bool(self.server_url)

    @property
    def session(self) -> requests.Session:
        """The HTTP session for the server (built on first use)."""
        with self._lock:
            if self._session is None:
                self._session = session_for(self.settings)
            return self._session

    def api_url(self, path: str) -> str:
        """Full URL of an API path such as ``/health`` on the configured server."""
        return api_url(self.server_url, path)

    def server_config(self) -> Mapping[str, Any]:
        """The server's ``/config`` reply (empty with no server or when it cannot be read).

        Fetched once, by the first caller; concurrent callers wait for that fetch.
        """
        if not self.has_server:
            return {}
        session = self.session
        with self._config_lock:
            if not self._config_fetched:
                self._config_fetched = True
                try:
                    self._config = request_json(
                        session, "GET", self.api_url("/config"),
                        timeout=self.probe_timeout_s, expect_keys=("checks",)).data
                except ProbeError as exc:
                    self._config_error = exc.kind
                    log.info("checks: server config unavailable (%s); defaults apply", exc)
            return self._config or {}

    @property
    def config_source(self) -> str:
        """``override``, ``server`` or ``defaults`` (where thresholds came from)."""
        if self._thresholds_override is not None:
            return "override"
        return "server" if self.server_config() else "defaults"

    # --- values the server may change --------------------------------------------------

    @property
    def thresholds(self) -> CheckThresholds:
        """Check thresholds: override, else server ``checks`` merged over the defaults."""
        if self._thresholds_override is not None:
            return self._thresholds_override
        return merge_from_server(CheckThresholds(), self.server_config().get("checks"))

    @property
    def recording(self) -> RecordingSettings:
        """Recording settings: override, else server ``recording`` merged over defaults."""
        if self._recording_override is not None:
            return self._recording_override
        return merge_from_server(RecordingSettings(), self.server_config().get("recording"))

    @property
    def integrity(self) -> IntegritySettings:
        """What the organisation allows (stand-ins) and blocks: override, else the server's.

        With no server or an unreadable one the defaults apply: no stand-in devices.
        """
        if self._integrity_override is not None:
            return self._integrity_override
        return merge_from_server(IntegritySettings(), self.server_config())

    @property
    def ntp_servers(self) -> tuple[str, ...]:
        """NTP servers: override, else the server's list, else the settings'."""
        if self._ntp_override is not None:
            return tuple(self._ntp_override)
        from_server = self.server_config().get("ntp_servers")
        if isinstance(from_server, list) and all(isinstance(s, str) for s in from_server):
            return tuple(from_server)
        return tuple(self.settings.ntp_servers)

    # --- devices -----------------------------------------------------------------------

    def device(self, kind: str) -> DeviceToTest:
        """The ``camera`` or ``microphone`` to test: what the exam will record with.

        A device given on the command line wins; else the candidate's saved choice
        (:mod:`zhishiyun.device_choice`, as the exam itself reads it); else the settings.
        A saved "no camera" / "no microphone" is no device to test: the settings' is tested.
        """
        setting = str(getattr(self.settings, kind) or "").strip()
        from_settings = DeviceToTest(setting, "", setting)
        if self.settings.sources.get(kind) == "command line":
            return from_settings
        choice = load_choice(self.settings.data_path)
        if choice is None:
            return from_settings
        chosen = choice.camera if kind == "camera" else choice.microphone
        if (kind == "camera" and chosen is None) or str(chosen).lower() == "none":
            return from_settings
        return DeviceToTest("" if chosen is None else str(chosen),
                            choice.chosen_in or "device_choice", setting)

    def is_blocking(self, check_id: str) -> bool:
        """Whether a failure of ``check_id`` keeps the candidate out."""
        return check_id in self.thresholds.blocking_checks

