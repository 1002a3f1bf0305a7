"""How this server process runs: database, data directory, address, demo switches."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """``ZHISHIYUN_SERVER_DATA`` or the platform's data directory for the server."""
    env = os.environ.get("ZHISHIYUN_SERVER_DATA", "").strip()
    return Path(env) if env else Path(platformdirs.user_data_dir("zhishiyun-server", False))


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


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
        }
        hooks.update({k: v for k, v in values.items() if v is not None})
        return cls(**hooks)
