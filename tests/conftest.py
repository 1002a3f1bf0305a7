"""Shared test configuration: Qt offscreen, an isolated ZHISHIYUN_HOME per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Qt aborts the whole process without a platform; offscreen works everywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own config/data dirs and no system config file."""
    home = tmp_path_factory.mktemp("zhishiyun-home")
    monkeypatch.setenv("ZHISHIYUN_HOME", str(home))
    monkeypatch.setenv("ZHISHIYUN_SYSTEM_CONFIG", str(home / "system" / "zhishiyun.toml"))
    for key in list(os.environ):
        if key.startswith("ZHISHIYUN_") and key not in (
            "ZHISHIYUN_HOME", "ZHISHIYUN_SYSTEM_CONFIG"
        ) and not key.startswith("ZHISHIYUN_TEST_"):
            monkeypatch.delenv(key)
    return home
