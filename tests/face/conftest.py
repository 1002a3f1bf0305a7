"""Fixtures for the face-login tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def face_server(server_factory):
    """A fresh demo server (its own database) where face login is on."""
    return server_factory(demo=True)
