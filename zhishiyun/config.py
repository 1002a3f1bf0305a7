"""Layered settings and the built-in defaults that the server's ``/config`` may change.

Layers, lowest first: built-in defaults < system file (written by the silent installer)
< user file < environment (``ZHISHIYUN_<KEY>``) < command line. A malformed file or value
is reported (``Settings.problems``: path, line, what is wrong) and that layer is skipped for
it, so a broken file never stops the client from starting.

Thresholds (:class:`CheckThresholds`) and recording settings (:class:`RecordingSettings`)
are declared here once; the server's ``/config`` overrides them field by field.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from zhishiyun import paths
from zhishiyun_formats.settings import (  # noqa: F401 - shared with the server, re-exported
    DEFAULT_PROHIBITED_PROCESSES,
    CheckThresholds,
    IntegritySettings,
    RecordingSettings,
    merge_from_server,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "ZHISHIYUN_"
LANGUAGES = ("auto", "zh_CN", "en", "pseudo")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {type(raw).__name__}")
    return raw.strip()


def _parse_url(raw: Any) -> str:
    value = _parse_str(raw).rstrip("/")
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http(s):// URL, got {value!r}")
    return value


def _parse_path(raw: Any) -> str:
    value = _parse_str(raw)
    return str(Path(value).expanduser()) if value else ""


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number, got true/false")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"expected a positive number, got {raw!r}")
    return value


def _parse_list(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, (list, tuple)) and all(isinstance(i, str) for i in raw):
        items = list(raw)
    else:
        raise ValueError("expected a list of text")
    return tuple(i.strip() for i in items if i.strip())


def _choice(options: tuple[str, ...], *, upper: bool = False) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = _parse_str(raw)
        value = value.upper() if upper else value
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return parse


@dataclass(frozen=True)
class Setting:
    """One user-facing setting: its key, default, parser and whether it is secret."""

    key: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        """The environment variable that sets this key."""
        return ENV_PREFIX + self.key.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("server_url", "", _parse_url, "Exam server base URL, e.g. https://exam.example.cn"),
    Setting("ca_bundle", "", _parse_path, "Extra CA bundle (PEM) the organisation trusts"),
    Setting("language", "auto", _choice(LANGUAGES), "auto, zh_CN, en or pseudo"),
    Setting("data_dir", "", _parse_path, "Recordings, upload queue and logs (empty: default)"),
    Setting(
        "ntp_servers",
        ("ntp.aliyun.com", "ntp.tencent.com", "cn.pool.ntp.org"),
        _parse_list,
        "NTP servers for the clock check (the server's /config may replace them)",
    ),
    Setting("log_level", "INFO", _choice(LOG_LEVELS, upper=True), "DEBUG, INFO, WARNING, ERROR"),
    Setting("proxy", "", _parse_url, "HTTP(S) proxy URL, may carry credentials", secret=True),
    Setting("connect_timeout", 5.0, _parse_float, "Seconds to wait for a connection"),
    Setting("read_timeout", 20.0, _parse_float, "Seconds to wait for a reply"),
    Setting("camera", "", _parse_str, "Preferred camera: index, name or a video file"),
    Setting("microphone", "", _parse_str, "Preferred microphone name ('none' to disable)"),
    Setting("window_geometry", "", _parse_str, "Last main-window geometry (saved by the GUI)"),
)
SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass
class Settings:
    """Effective settings, where each value came from, and what was wrong on the way."""

    values: dict[str, Any]
    sources: dict[str, str]
    problems: list[str] = field(default_factory=list)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def data_path(self) -> Path:
        """The data directory; a root from the system file gets a private per-user subdir."""
        return paths.data_dir_for(self.values["data_dir"],
                                  machine_wide=self.sources["data_dir"].startswith("system file"))

    def describe(self) -> list[dict[str, str]]:
        """Rows of ``{key, value, source}`` with secrets masked, for ``config show``."""
        rows = []
        for setting in SETTINGS:
            value = self.values[setting.key]
            if setting.secret and value:
                shown = "********"
            elif isinstance(value, tuple):
                shown = ", ".join(value)
            else:
                shown = str(value)
            rows.append({"key": setting.key, "value": shown, "source": self.sources[setting.key]})
        return rows


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _read_file_layer(path: Path, problems: list[str]) -> dict[str, Any]:
    """Parse one TOML layer; any problem is reported and that layer (or key) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read ({exc}); ignored")
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}; file ignored")
        return {}
    accepted: dict[str, Any] = {}
    for key, raw in data.items():
        where = f"{path}:{_line_of(text, key) or '?'}"
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None:
            problems.append(f"{where}: unknown setting {key!r} ignored")
            continue
        try:
            accepted[key] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"{where}: {key}: {exc}; ignored")
    return accepted


def _read_env_layer(environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    accepted: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env_var)
        if raw is None:
            continue
        try:
            accepted[setting.key] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"environment {setting.env_var}: {exc}; ignored")
    return accepted


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    system_file: Path | None = None,
    user_file: Path | None = None,
) -> Settings:
    """Build the effective settings from every layer (command-line ``overrides`` last).

    Raises:
        ConfigError: only when a command-line value is invalid (the caller cannot go on).
    """
    from zhishiyun.errors import ConfigError

    environ = os.environ if environ is None else environ
    system_file = system_file or paths.system_config_file()
    user_file = user_file or paths.user_config_file()
    problems: list[str] = []
    values = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}
    layers = [
        (f"system file {system_file}", _read_file_layer(system_file, problems)),
        (f"user file {user_file}", _read_file_layer(user_file, problems)),
        ("environment", _read_env_layer(environ, problems)),
    ]
    for name, layer in layers:
        for key, value in layer.items():
            values[key], sources[key] = value, name
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        try:
            values[key] = SETTINGS_BY_KEY[key].parse(raw)
        except ValueError as exc:
            raise ConfigError(f"--{key.replace('_', '-')}: {exc}") from None
        sources[key] = "command line"
    return Settings(values=values, sources=sources, problems=problems)


def save_user_settings(updates: Mapping[str, Any], *, user_file: Path | None = None) -> Path:
    """Merge ``updates`` into the user file (atomic replace); secrets are never written."""
    user_file = user_file or paths.user_config_file()
    current = _read_file_layer(user_file, [])
    for key, value in updates.items():
        setting = SETTINGS_BY_KEY[key]
        if setting.secret:
            raise ValueError(f"{key} is secret and is not stored in a file")
        current[key] = list(value) if isinstance(value, tuple) else setting.parse(value)
    user_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = user_file.with_suffix(".tmp")
    tmp.write_bytes(tomli_w.dumps({k: list(v) if isinstance(v, tuple) else v
                                   for k, v in current.items()}).encode("utf-8"))
    os.replace(tmp, user_file)
    return user_file
