"""What every check may use: settings, the server client, thresholds from the server.

Thresholds and recording settings are the built-in defaults of :mod:`zhishiyun.config`
merged with the server's ``GET /config`` (fetched once, lazily, by whichever check needs
it first; shared by all). With no server, or when the server cannot be reached in
``config_timeout_s``, the defaults apply and ``config_source`` says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from zhishiyun import __version__
from zhishiyun.config import (
    CheckThresholds,
    RecordingSettings,
    Settings,
    load_settings,
    merge_from_server,
)

log = logging.getLogger(__name__)


class CheckContext:
    """Shared inputs of one run of the checks (thread-safe; checks run concurrently).

    Args:
        settings: effective settings (``load_settings()`` when omitted).
        client: a ready :class:`~zhishiyun.api.client.ServerClient`; built from
            ``settings.server_url`` when omitted and a server is configured.
        thresholds: use these instead of the server's (tests, support overrides).
        recording: use these recording settings instead of the server's.
        ntp_servers: NTP servers (``host`` or ``host:port``) instead of config's.
        client_version: the version the version check reports (default: this build).
        config_timeout_s: how long to wait for the server's ``/config``.
    """

    def __init__(self, settings: Settings | None = None, *, client: Any = None,
                 thresholds: CheckThresholds | None = None,
                 recording: RecordingSettings | None = None,
                 ntp_servers: tuple[str, ...] | None = None,
                 client_version: str = __version__,
                 config_timeout_s: float = 3.0) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.server_url: str = self.settings.server_url
        self.client_version = client_version
        self.config_timeout_s = config_timeout_s
        self.cancelled = threading.Event()
        self._client = client
        self._thresholds_override = thresholds
        self._recording_override = recording
        self._ntp_override = ntp_servers
        self._lock = threading.Lock()
        self._config: Mapping[str, Any] | None = None
        self._config_error: str | None = None
        self._config_fetched = False

    # --- server ------------------------------------------------------------------------

    @property
    def has_server(self) -> bool:
        """Whether a server is configured (``--server`` or ``server_url``)."""
        return bool(self.server_url) or self._client is not None

    @property
    def client(self) -> Any:
        """The server client (built on first use), or None with no server configured."""
        with self._lock:
            if self._client is None and self.server_url:
                from zhishiyun.api.client import ServerClient

                self._client = ServerClient.from_settings(self.settings)
            return self._client

    def server_config(self) -> Mapping[str, Any]:
        """The server's ``/config`` reply as a mapping (empty when unavailable)."""
        client = self.client
        with self._lock:
            if self._config_fetched:
                return self._config or {}
            self._config_fetched = True
            if client is None:
                return {}
            try:
                self._config = _as_mapping(client.get_config(timeout=self.config_timeout_s))
            except Exception as exc:  # any failure: defaults apply, the server check explains
                self._config_error = str(exc) or type(exc).__name__
                log.info("checks: server config unavailable, defaults apply: %s", exc)
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
    def ntp_servers(self) -> tuple[str, ...]:
        """NTP servers: override, else the server's list, else the settings'."""
        if self._ntp_override is not None:
            return tuple(self._ntp_override)
        from_server = self.server_config().get("ntp_servers")
        if isinstance(from_server, list) and all(isinstance(s, str) for s in from_server):
            return tuple(from_server)
        return tuple(self.settings.ntp_servers)

    def is_blocking(self, check_id: str) -> bool:
        """Whether a failure of ``check_id`` keeps the candidate out."""
        return check_id in self.thresholds.blocking_checks


def _as_mapping(reply: Any) -> Mapping[str, Any]:
    """Accept a dict, a pydantic-like model or a dataclass-like object with ``raw``."""
    if reply is None:
        return {}
    if isinstance(reply, Mapping):
        return reply
    for attr in ("raw", "data"):
        value = getattr(reply, attr, None)
        if isinstance(value, Mapping):
            return value
    if hasattr(reply, "model_dump"):
        return reply.model_dump()
    import dataclasses

    if dataclasses.is_dataclass(reply):
        return dataclasses.asdict(reply)
    return {}
