from __future__ import annotations

import subprocess
import sys

import pytest

from zhishiyun.config import (
    CheckThresholds,
    RecordingSettings,
    load_settings,
    merge_from_server,
    save_user_settings,
)
from zhishiyun.errors import ConfigError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_layers_override_in_order(tmp_path):
    system = write(tmp_path / "sys.toml", 'server_url = "https://sys.example"\nlanguage = "en"\n'
                   'log_level = "DEBUG"\nread_timeout = 7\n')
    user = write(tmp_path / "user.toml",
                 'server_url = "https://user.example"\nlanguage = "zh_CN"\n')
    env = {"ZHISHIYUN_LANGUAGE": "pseudo", "ZHISHIYUN_NTP_SERVERS": "a.example, b.example"}
    s = load_settings({"language": "en"}, environ=env, system_file=system, user_file=user)
    assert s.server_url == "https://user.example"
    assert s.sources["server_url"].startswith("user file")
    assert s.log_level == "DEBUG" and s.sources["log_level"].startswith("system file")
    assert s.read_timeout == 7.0
    assert s.ntp_servers == ("a.example", "b.example")
    assert s.sources["ntp_servers"] == "environment"
    assert s.language == "en" and s.sources["language"] == "command line"
    assert s.sources["ca_bundle"] == "default"
    assert s.problems == []


def test_malformed_file_is_reported_with_path_and_line_and_skipped(tmp_path):
    system = write(tmp_path / "sys.toml", 'server_url = "https://sys.example"\n')
    user = write(tmp_path / "user.toml", 'language = "en"\nserver_url = https://oops\n')
    s = load_settings({}, environ={}, system_file=system, user_file=user)
    assert s.server_url == "https://sys.example"  # fell back to the next layer
    assert s.language == "auto"
    assert len(s.problems) == 1
    assert str(user) in s.problems[0] and "line 2" in s.problems[0]


def test_bad_values_and_unknown_keys_are_reported_per_key(tmp_path):
    user = write(tmp_path / "user.toml",
                 'language = "klingon"\nconnect_timeout = -3\nfoo = 1\nlog_level = "debug"\n')
    s = load_settings({}, environ={"ZHISHIYUN_SERVER_URL": "ftp://x"},
                      system_file=tmp_path / "none.toml", user_file=user)
    text = "\n".join(s.problems)
    assert f"{user}:1: language" in text
    assert f"{user}:2: connect_timeout" in text
    assert "unknown setting 'foo'" in text
    assert "ZHISHIYUN_SERVER_URL" in text
    assert s.language == "auto" and s.connect_timeout == 5.0 and s.server_url == ""
    assert s.log_level == "DEBUG"  # case-insensitive level accepted


def test_invalid_command_line_value_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="--server-url"):
        load_settings({"server_url": "not a url"}, environ={},
                      system_file=tmp_path / "a", user_file=tmp_path / "b")


def test_user_settings_round_trip_and_secrets_refused(tmp_path):
    user = tmp_path / "u" / "zhishiyun.toml"
    save_user_settings({"language": "en", "ntp_servers": ("x.example",)}, user_file=user)
    save_user_settings({"window_geometry": "10,10,1280,720"}, user_file=user)
    s = load_settings({}, environ={}, system_file=tmp_path / "none", user_file=user)
    assert (s.language, s.ntp_servers, s.window_geometry) == ("en", ("x.example",),
                                                              "10,10,1280,720")
    with pytest.raises(ValueError):
        save_user_settings({"proxy": "http://u:p@proxy:3128"}, user_file=user)


def test_server_config_overlays_defaults_and_ignores_junk():
    merged = merge_from_server(CheckThresholds(), {
        "disk_recordings_min_gb": 50, "memory_total_min_gb": "lots", "max_displays": True,
        "prohibited_processes": ["Foo"], "unknown": 1,
    })
    assert merged.disk_recordings_min_gb == 50.0
    assert merged.memory_total_min_gb == 4.0 and merged.max_displays == 1
    assert merged.prohibited_processes == ("Foo",)
    assert merge_from_server(RecordingSettings(), {"segment_seconds": 10}).segment_seconds == 10


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zhishiyun", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_config_show_masks_secrets_and_names_sources(isolated_home, monkeypatch):
    import os

    env = dict(os.environ, ZHISHIYUN_PROXY="http://alice:hunter2@proxy.example:3128")
    result = run_cli("config", "show", "--server", "https://exam.example", env=env)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "********" in result.stdout
    assert "https://exam.example" in result.stdout and "[command line]" in result.stdout


def test_broken_system_file_gives_one_line_and_the_command_goes_on(isolated_home):
    import os

    system = isolated_home / "system" / "zhishiyun.toml"
    write(system, "server_url = [unclosed\n")
    result = run_cli("config", "show", env=dict(os.environ))
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(system) in warnings[0] and "line 1" in warnings[0]
