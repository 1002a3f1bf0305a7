"""Helpers for the checks tests: contexts built on the real settings layers."""

from __future__ import annotations

import pytest

from zhishiyun.checks import CheckContext
from zhishiyun.config import load_settings


@pytest.fixture
def make_context():
    """``make_context(server_url=None, settings=None, **context_kwargs)`` → CheckContext."""

    def make(server_url: str | None = None, settings: dict | None = None, **kwargs):
        overrides = dict(settings or {})
        if server_url:
            overrides["server_url"] = server_url
        return CheckContext(load_settings(overrides), **kwargs)

    return make
