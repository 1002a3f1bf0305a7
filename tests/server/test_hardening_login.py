"""Login abuse: a burst counts in full, forged addresses change nothing, strangers elsewhere
cannot lock a candidate out (real server over HTTP)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import urllib3

from tests.server.support import ZHANG_SAN, running_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory) as server:
        yield server


def password_login(url: str, id_number: str, password: str, headers=None) -> int:
    return requests.post(f"{url}/api/v1/auth/password", timeout=60, headers=headers or {},
                         json={"id_number": id_number, "password": password}).status_code


def from_address(source: str, url: str, id_number: str, password: str) -> int:
    """A login sent from another loopback address (127.0.0.2 is a different client)."""
    pool = urllib3.PoolManager(source_address=(source, 0))
    body = json.dumps({"id_number": id_number, "password": password}).encode()
    return pool.request("POST", f"{url}/api/v1/auth/password", body=body, timeout=60,
                        headers={"Content-Type": "application/json"}).status


def test_twenty_concurrent_wrong_passwords_verify_at_most_the_limit(served):
    target = "11010119800101" + uuid.uuid4().hex[:4]
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: password_login(served.url, target, "wrong"), range(20)))
    assert codes.count(401) <= 5 and codes.count(401) + codes.count(429) == 20, codes
    assert password_login(served.url, target, "wrong") == 429


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(served):
    target = "11010119800102" + uuid.uuid4().hex[:4]
    for _ in range(5):
        assert password_login(served.url, target, "wrong") == 401
    forged = {"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.7"}
    assert password_login(served.url, target, "wrong", headers=forged) == 429
    log = (served.data_dir / "server.log").read_text()
    assert "client addresses: the TCP peer" in log


def test_a_stranger_elsewhere_cannot_lock_the_candidate_out(served):
    for _ in range(8):
        assert from_address("127.0.0.2", served.url, ZHANG_SAN[1], "guess") in (401, 429)
    assert from_address("127.0.0.2", served.url, ZHANG_SAN[1], "guess") == 429
    assert password_login(served.url, ZHANG_SAN[1], ZHANG_SAN[2]) == 200


def test_client_addresses_come_from_forwarded_for_only_behind_a_trusted_proxy():
    from zhishiyun_server.clientaddr import parse_trusted, resolve

    trusted = parse_trusted("10.0.0.1, 192.168.0.0/16")
    assert resolve("127.0.0.1", "203.0.113.7", ()) == "127.0.0.1"
    assert resolve("127.0.0.1", "203.0.113.7", trusted) == "127.0.0.1"
    assert resolve("10.0.0.1", "203.0.113.7", trusted) == "203.0.113.7"
    # a client forging the header behind the proxy: the proxy appended the real address
    assert resolve("10.0.0.1", "6.6.6.6, 203.0.113.7, 192.168.1.2", trusted) == "203.0.113.7"
    assert resolve("10.0.0.1", "not-an-ip", trusted) == "10.0.0.1"
    assert resolve("10.0.0.1", None, trusted) == "10.0.0.1"


def test_a_second_face_challenge_leaves_the_first_usable(tmp_path):
    from sqlalchemy import select

    from zhishiyun_server.app import create_app
    from zhishiyun_server.demo import seed_if_empty
    from zhishiyun_server.face import service
    from zhishiyun_server.face.policy import FacePolicy
    from zhishiyun_server.models import Candidate
    from zhishiyun_server.settings import ServerConfig

    config = ServerConfig(data_dir=tmp_path)
    app = create_app(config)
    seed_if_empty(app.state.session_factory, config)
    with app.state.session_factory() as db:
        person = db.scalar(select(Candidate).where(Candidate.id_number == ZHANG_SAN[1]))
        policy = FacePolicy(demo_enrol=True)
        mine = service.new_challenge(db, person, policy)
        db.commit()
        service.new_challenge(db, person, policy)  # a stranger knowing name + ID number
        db.commit()
        db.refresh(mine)
        assert mine.used_at is None and mine.cancelled_at is None
    app.state.engine.dispose()


def test_face_refusals_and_cancels_count_per_client_with_a_global_ceiling(tmp_path):
    from sqlalchemy import select

    from zhishiyun_server.app import create_app
    from zhishiyun_server.demo import seed_if_empty
    from zhishiyun_server.face import service
    from zhishiyun_server.face.policy import FacePolicy
    from zhishiyun_server.models import Candidate
    from zhishiyun_server.settings import ServerConfig

    config = ServerConfig(data_dir=tmp_path)
    app = create_app(config)
    seed_if_empty(app.state.session_factory, config)
    policy = FacePolicy(demo_enrol=True)
    with app.state.session_factory() as db:
        person = db.scalar(select(Candidate).where(Candidate.id_number == ZHANG_SAN[1]))
        service.record_attempt(db, person, policy, outcome="cancelled",
                               client_address="203.0.113.9")
        for _ in range(policy.max_failures):
            service.record_attempt(db, person, policy, outcome="refused",
                                   client_address="203.0.113.9")
        db.commit()
        assert service.cooldown_left(db, person, policy, "203.0.113.9") > 0
        assert service.cooldown_left(db, person, policy, "127.0.0.1") == 0
        assert service.attempts_left(db, person, policy, "203.0.113.9") == 0
        assert service.attempts_left(db, person, policy, "127.0.0.1") == policy.max_failures
        for n in range(policy.max_failures * service.GLOBAL_FAILURE_FACTOR):
            service.record_attempt(db, person, policy, outcome="refused",
                                   client_address=f"198.51.100.{n % 250}")
        db.commit()
        assert service.attempts_left(db, person, policy, "127.0.0.1") == 0
    app.state.engine.dispose()


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(tmp_path):
    import subprocess
    import sys
    import time

    from tests.conftest import REPO, free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "zhishiyun_server", "--data", str(tmp_path / "data"),
             "--port", str(port), "--demo", "--forwarded-allow-ips", "127.0.0.1"],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        target = "11010119800103" + uuid.uuid4().hex[:4]
        first = {"X-Forwarded-For": "203.0.113.1"}
        for _ in range(5):
            assert password_login(url, target, "wrong", headers=first) == 401
        assert password_login(url, target, "wrong", headers=first) == 429
        assert password_login(url, target, "wrong",
                              headers={"X-Forwarded-For": "203.0.113.2"}) == 401
    finally:
        process.terminate()
        process.wait(10)
    assert "X-Forwarded-For when the peer is a trusted proxy (127.0.0.1/32)" in log.read_text()
