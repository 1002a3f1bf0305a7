"""One candidate's hostile manifest cannot take the server's memory or another's time.

The server walks what arrived, never every number a client names: a manifest line with
``seq`` 10**12 is refused, the highest allowed seq is reported as ranges, and a session's
manifest is capped. The last test floods the real server from one candidate while another
works, and holds the server's memory growth (RSS of its process, psutil) and the other
candidate's latency to stated bounds.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import psutil
import pytest
import requests

from tests.server.hardening import Inside, enter, login
from tests.server.support import WANG_WU, add_candidate, running_server

#: Growth of the server's resident memory the flood may cause at most.
MAX_RSS_GROWTH_MB = 300
#: The other candidate's 95th-percentile latency during the flood, at most.
MAX_OTHER_P95_S = 3.0


def line(track: str, seq: int) -> str:
    return json.dumps({"seq": seq, "track": track, "sha256": "0" * 64, "prev": "",
                       "mac": "0" * 64, "start": "2026-12-01T00:00:00.000Z",
                       "duration_ms": 30000, "bytes": 1})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory) as server:
        yield server


def post_lines(inside: Inside, lines: list[str]) -> requests.Response:
    return inside.api("POST", f"/sessions/{inside.session_id}/manifest",
                      json={"lines": lines}, timeout=60)


def test_a_huge_seq_is_refused_and_the_largest_is_reported_as_ranges(served):
    inside = enter(served.url)
    for seq in (10**12, 100_001, -1):
        resp = post_lines(inside, [line("screen", seq)])
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "bad_manifest_line"
    assert post_lines(inside, [line("screen", 100_000)]).status_code == 200
    started = time.monotonic()
    state = inside.api("GET", f"/sessions/{inside.session_id}/recordings",
                       timeout=30).json()["tracks"]["screen"]
    assert time.monotonic() - started < 10
    # named by the manifest, none arrived: every number up to it is missing, as one range
    assert state["missing_ranges"] == [[0, 100_000]] and state["missing_count"] == 100_001
    assert state["missing"] == list(range(1000))


def test_a_session_manifest_is_capped_in_lines_and_tracks(served):
    from zhishiyun_server.validation import MAX_LINES_PER_SESSION, MAX_TRACKS_PER_SESSION

    inside = enter(served.url)
    many_tracks = [line(f"t{n}", 0) for n in range(MAX_TRACKS_PER_SESSION + 1)]
    resp = post_lines(inside, many_tracks)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "manifest_too_large"
    assert MAX_LINES_PER_SESSION <= 20_000


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def _latencies(other: Inside, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.monotonic()
        resp = other.api("GET", "/exams", timeout=60)
        assert resp.status_code == 200
        out.append(time.monotonic() - started)
        time.sleep(0.05)


def test_a_flood_from_one_candidate_bounds_memory_and_the_others_latency(tmp_path_factory):
    with running_server(tmp_path_factory) as server:
        add_candidate(server.db_url, *WANG_WU)
        hostile = enter(server.url)
        other = Inside(server.url, login(server.url, WANG_WU[1], WANG_WU[2]), "", "")
        pid = server.process.pid
        baseline: list[float] = []
        stop = threading.Event()
        probe = threading.Thread(target=_latencies, args=(other, stop, baseline))
        probe.start()
        time.sleep(3)
        stop.set()
        probe.join()
        rss_before, peak = _rss(pid), [0]

        def flood() -> None:
            for batch in range(5):  # 2 x 25 000 lines asked for; the session takes 20 000
                lines = [line(f"t{(batch * 5000 + n) % 4}", (batch * 5000 + n) * 2 % 100_001)
                         for n in range(5000)]
                post_lines(hostile, lines)
            for _ in range(3):
                hostile.api("GET", f"/sessions/{hostile.session_id}/recordings", timeout=120)

        during: list[float] = []
        stop = threading.Event()
        probe = threading.Thread(target=_latencies, args=(other, stop, during))
        attackers = [threading.Thread(target=flood) for _ in range(2)]
        probe.start()
        for thread in attackers:
            thread.start()
        while any(t.is_alive() for t in attackers):
            peak[0] = max(peak[0], _rss(pid))
            time.sleep(0.1)
        stop.set()
        probe.join()
    growth_mb = (peak[0] - rss_before) / 2**20
    p95 = statistics.quantiles(during, n=20)[-1] if len(during) >= 2 else max(during)
    base = statistics.quantiles(baseline, n=20)[-1] if len(baseline) >= 2 else max(baseline)
    print(f"RSS {rss_before / 2**20:.0f} MB -> peak {peak[0] / 2**20:.0f} MB "
          f"(+{growth_mb:.0f} MB); other candidate p95 {base * 1000:.0f} ms before, "
          f"{p95 * 1000:.0f} ms during ({len(during)} calls)")
    assert growth_mb < MAX_RSS_GROWTH_MB
    assert p95 < MAX_OTHER_P95_S
