"""Load installer/build.py (a script, not a package) as a module for the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_module():
    path = REPO / "installer" / "build.py"
    spec = importlib.util.spec_from_file_location("zhishiyun_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
