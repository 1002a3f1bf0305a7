"""One real server per test module and database backend (SQLite always, PostgreSQL when
ZHISHIYUN_TEST_PG_URL is set)."""

from __future__ import annotations

import pytest

from tests.server.support import WANG_WU, add_candidate, running_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live_server(request, tmp_path_factory):
    """A demo server with a third candidate (王五, password login) added."""
    with running_server(tmp_path_factory, request.param) as server:
        add_candidate(server.db_url, WANG_WU[0], WANG_WU[1], WANG_WU[2])
        yield server
