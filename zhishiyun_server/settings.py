"""How this server process runs: database, data directory, address, demo switches.

This module is the server's only reader of environment variables: :meth:`ServerConfig.from_env`
reads them once at start-up, checks them and raises :class:`SettingsError` (one line, the
CLI exits 2) for a value it cannot use; every other module gets its values from the config.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """``ZHISHIYUN_SERVER_DATA`` or the platform's data directory for the server."""
    env = os.environ.get("ZHISHIYUN_SERVER_DATA", "").strip()
    return Path(env) if env else Path(platformdirs.user_data_dir("zhishiyun-server", False))


#: Every ``ZHISHIYUN_SERVER_FACE_<FIELD>`` overrides that field of the face-login policy.
FACE_ENV_PREFIX = "ZHISHIYUN_SERVER_FACE_"
#: How ``--workers`` hands the parent's configuration to each worker process.
WORKER_CONFIG_ENV = "ZHISHIYUN_SERVER_WORKER_CONFIG"


class SettingsError(ValueError):
    """A setting holds a value the server cannot use; the message is one line for the user."""


def default_storage() -> str:
    """``ZHISHIYUN_SERVER_STORAGE`` (a directory or ``s3://bucket/prefix``), or ''."""
    return os.environ.get("ZHISHIYUN_SERVER_STORAGE", "").strip()


def _env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"{name}={raw!r} must be 1 or 0")
    return raw in ("1", "true", "yes")


@dataclass
class ServerConfig:
    """Everything :func:`zhishiyun_server.app.create_app` needs."""

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8400
    demo: bool = False
    #: Base URL clients reach this server at (behind a proxy); '' = from each request.
    public_url: str = ""
    #: Seconds added to the real time (test hook ZHISHIYUN_SERVER_CLOCK_OFFSET).
    clock_offset_s: float = 0.0
    #: Demo interview entry opens this long after start-up (ZHISHIYUN_DEMO_INTERVIEW_DELAY_S).
    demo_interview_delay_s: float = 300.0
    #: Demo written exam starts this long after start-up (ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S).
    demo_written_start_delay_s: float = 120.0
    #: Failed logins per ID number (and per client address x5) per window before 429.
    login_max_failures: int = 5
    login_window_s: float = 300.0
    #: Proxies whose X-Forwarded-For is believed (comma-separated IPs/networks; '' = none).
    forwarded_allow_ips: str = ""
    #: Run Alembic migrations on start (off only for tests that build the schema themselves).
    migrate: bool = True
    #: Where uploads live: '' (``<data>/uploads``), a directory, or ``s3://bucket/prefix``
    #: (endpoint and credentials from boto3's environment: AWS_ENDPOINT_URL, ...).
    storage: str = ""
    #: Server processes on this machine (``--workers``); they share the database and storage.
    workers: int = 1
    #: Life of a second-camera bind code (ZHISHIYUN_SERVER_BIND_CODE_TTL_S).
    bind_code_ttl_s: float = 300.0
    #: Silence after which a bound phone counts as lost (ZHISHIYUN_SERVER_PHONE_LOST_S).
    phone_lost_s: float = 15.0
    #: Length of the phone's chunks in seconds (ZHISHIYUN_SERVER_PHONE_SEGMENT_S, at least 2).
    phone_segment_s: int = 10
    #: Folder with user_agreement.md / privacy_policy.md (ZHISHIYUN_SERVER_AGREEMENTS_DIR).
    agreements_dir: str = ""
    #: Seconds an unfinished upload may be resumed (ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S).
    upload_expiry_s: float = 24 * 3600.0
    #: Load shedding: requests in progress, event-loop lag and queue before 503
    #: (ZHISHIYUN_SERVER_MAX_INFLIGHT, _MAX_LAG_MS, _MAX_QUEUE).
    max_inflight: int = 400
    max_lag_ms: int = 500
    max_queue: int = 16
    #: Database pool of each process (ZHISHIYUN_SERVER_DB_POOL_SIZE, _OVERFLOW, _TIMEOUT_S).
    db_pool_size: int = 40
    db_pool_overflow: int = 0
    db_pool_timeout_s: float = 5.0
    #: FastAPI's OpenTelemetry hooks, on when the environment configures OpenTelemetry
    #: (any ``OTEL_*`` variable, or FASTAPI_OTEL_AUTO_CONFIGURE).
    telemetry: bool = False
    #: Face-login policy overrides by field name (ZHISHIYUN_SERVER_FACE_<FIELD>), checked by
    #: :meth:`zhishiyun_server.face.policy.FacePolicy.from_config`.
    face_overrides: dict[str, str] = field(default_factory=dict)
    #: Demo: enrol a face by the first liveness check (ZHISHIYUN_DEMO_FACE_ENROL, default 1).
    demo_face_enrol: bool = True

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.db_url:
            self.db_url = f"sqlite:///{self.data_dir / 'server.db'}"

    @classmethod
    def from_env(cls, **values) -> ServerConfig:
        """A config whose test hooks come from the environment, ``values`` on top."""
        hooks = {
            "clock_offset_s": _env_float("ZHISHIYUN_SERVER_CLOCK_OFFSET", 0.0),
            "demo_interview_delay_s": _env_float("ZHISHIYUN_DEMO_INTERVIEW_DELAY_S", 300.0),
            "demo_written_start_delay_s": _env_float("ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S",
                                                     120.0),
            "bind_code_ttl_s": _env_float("ZHISHIYUN_SERVER_BIND_CODE_TTL_S", 300.0, 1.0),
            "phone_lost_s": _env_float("ZHISHIYUN_SERVER_PHONE_LOST_S", 15.0, 1.0),
            "phone_segment_s": _env_int("ZHISHIYUN_SERVER_PHONE_SEGMENT_S", 10, 2),
            "agreements_dir": os.environ.get("ZHISHIYUN_SERVER_AGREEMENTS_DIR", "").strip(),
            "upload_expiry_s": _env_float("ZHISHIYUN_SERVER_UPLOAD_EXPIRY_S", 24 * 3600.0, 1.0),
            "max_inflight": _env_int("ZHISHIYUN_SERVER_MAX_INFLIGHT", 400),
            "max_lag_ms": _env_int("ZHISHIYUN_SERVER_MAX_LAG_MS", 500),
            "max_queue": _env_int("ZHISHIYUN_SERVER_MAX_QUEUE", 16),
            "db_pool_size": _env_int("ZHISHIYUN_SERVER_DB_POOL_SIZE", 40),
            "db_pool_overflow": _env_int("ZHISHIYUN_SERVER_DB_POOL_OVERFLOW", 0, 0),
            "db_pool_timeout_s": _env_float("ZHISHIYUN_SERVER_DB_POOL_TIMEOUT_S", 5.0, 0.1),
            "face_overrides": {k[len(FACE_ENV_PREFIX):].lower(): v.strip()
                               for k, v in os.environ.items()
                               if k.startswith(FACE_ENV_PREFIX) and v.strip()},
            "demo_face_enrol": _env_flag("ZHISHIYUN_DEMO_FACE_ENROL", True),
            "telemetry": any(k.startswith("OTEL_") or k == "FASTAPI_OTEL_AUTO_CONFIGURE"
                             for k in os.environ),
        }
        hooks.update({k: v for k, v in values.items() if v is not None})
        return cls(**hooks)

    def publish_for_workers(self) -> None:
        """Hand this config to the ``--workers`` processes (read by :func:`worker_config`)."""
        values = dataclasses.asdict(self)
        values["data_dir"] = str(self.data_dir)
        values["migrate"] = False  # the parent migrated before it started the workers
        os.environ[WORKER_CONFIG_ENV] = json.dumps(values)


def worker_config() -> ServerConfig:
    """The config the ``--workers`` parent published (:meth:`ServerConfig.publish_for_workers`)."""
    values = json.loads(os.environ[WORKER_CONFIG_ENV])
    known = {f.name for f in dataclasses.fields(ServerConfig)}
    return ServerConfig(**{k: v for k, v in values.items() if k in known})
