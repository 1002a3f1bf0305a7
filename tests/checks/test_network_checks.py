"""server, version, clock and bandwidth against the real reference server and real
misbehaving servers on 127.0.0.1 (refused, untrusted TLS, silent, plain web server)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from zhishiyun.checks import CheckRunner, Status, create_checks
from zhishiyun.checks.bandwidth import BandwidthCheck
from zhishiyun.checks.clock import ClockCheck
from zhishiyun.checks.disk import DiskCheck
from zhishiyun.checks.server import ServerCheck
from zhishiyun.checks.version import VersionCheck, platform_id
from zhishiyun.config import CheckThresholds

pytestmark = pytest.mark.integration


def run_one(check, context):
    return CheckRunner([check], context).run().results[0]


def test_server_passes_against_the_reference_server(make_context, demo_server):
    result = run_one(ServerCheck(), make_context(demo_server.url, ntp_servers=()))
    assert result.status is Status.PASS, result.message
    assert result.details["latency_ms"] >= 0 and result.details["server_status"] == "ok"


def test_server_warns_when_slower_than_the_threshold(make_context, demo_server):
    context = make_context(demo_server.url,
                           thresholds=CheckThresholds(server_latency_warn_ms=0.001))
    result = run_one(ServerCheck(), context)
    assert result.status is Status.WARN and "answers slowly" in result.message


def test_refused_connection(make_context, refused_url):
    result = run_one(ServerCheck(), make_context(refused_url, probe_timeout_s=2))
    assert result.status is Status.FAIL and result.details["error"] == "connection_refused"
    assert "refused the connection on port" in result.message


def test_name_that_does_not_resolve(make_context):
    result = run_one(ServerCheck(), make_context("http://zhishiyun-check-test.invalid",
                                                 probe_timeout_s=2))
    assert result.status is Status.FAIL and result.details["error"] == "cannot_resolve"
    assert "cannot be found" in result.message


def test_untrusted_certificate(make_context, untrusted_tls_url):
    url, _cert = untrusted_tls_url
    result = run_one(ServerCheck(), make_context(url, probe_timeout_s=2))
    assert result.status is Status.FAIL
    assert result.details["error"] == "certificate_not_trusted"
    assert "not trusted" in result.message and "ca_bundle" in result.fix


def test_the_organisations_ca_bundle_makes_the_certificate_trusted(make_context,
                                                                  untrusted_tls_url):
    url, cert = untrusted_tls_url
    result = run_one(ServerCheck(), make_context(url, settings={"ca_bundle": str(cert)},
                                                 probe_timeout_s=2))
    # Trusted now: the connection works and shows a plain web server for what it is.
    assert result.details["error"] == "not_zhishiyun_server", result.details


@pytest.mark.timeout(30)
def test_server_that_never_answers_times_out_with_its_own_message(make_context, silent_url):
    checks = create_checks(["server", "version", "clock"])
    report = CheckRunner(checks, make_context(silent_url, probe_timeout_s=1,
                                              ntp_servers=())).run()
    server = report.get("server")
    assert server.status is Status.FAIL and server.details["error"] == "timed_out"
    assert "did not answer within 1 s" in server.message
    assert report.get("version").status is Status.SKIP  # explained by the server check
    assert not report.ok


def test_plain_web_server_is_not_a_zhishiyun_server(make_context, web_server_url):
    report = CheckRunner(create_checks(["server", "version"]),
                         make_context(web_server_url, probe_timeout_s=2)).run()
    server = report.get("server")
    assert server.status is Status.FAIL and server.details["error"] == "not_zhishiyun_server"
    assert "not a Zhishiyun exam server" in server.message


def test_no_server_configured_skips_the_server_checks(make_context):
    report = CheckRunner(create_checks(["server", "version", "bandwidth"]),
                         make_context()).run()
    assert [r.status for r in report.results] == [Status.SKIP] * 3
    assert report.ok


# --- the clock: local NTP responder and the reference server with a shifted clock ---------

def test_clock_against_ntp_only(make_context, ntp_responder):
    exact = run_one(ClockCheck(), make_context(ntp_servers=(ntp_responder(0.0),)))
    assert exact.status is Status.PASS, exact.message
    assert abs(exact.details["ntp_offset_s"]) < 1.0
    ahead = run_one(ClockCheck(), make_context(ntp_servers=(ntp_responder(30.0),)))
    assert ahead.status is Status.WARN and "30" in ahead.message and "behind" in ahead.message
    assert 29 < ahead.details["ntp_offset_s"] < 31
    far = run_one(ClockCheck(), make_context(ntp_servers=(ntp_responder(-600.0),)))
    assert far.status is Status.FAIL and "10 min 0 s ahead" in far.message


def test_clock_skips_when_no_time_source_answers(make_context, refused_url):
    port = refused_url.rsplit(":", 1)[1]
    result = run_one(ClockCheck(), make_context(ntp_servers=(f"127.0.0.1:{port}",),
                                                probe_timeout_s=0.5))
    assert result.status is Status.SKIP and "no time server answered" in result.message


def test_clock_matches_the_reference_server(make_context, demo_server, ntp_responder):
    ok = run_one(ClockCheck(), make_context(demo_server.url, ntp_servers=()))
    assert ok.status is Status.PASS and abs(ok.details["server"]["offset_s"]) < 1.0
    # Server agrees but internet time does not: a warning, never a failure.
    drift = run_one(ClockCheck(), make_context(demo_server.url,
                                               ntp_servers=(ntp_responder(-600.0),)))
    assert drift.status is Status.WARN and "internet time" in drift.message


def set_org(server, column, value):
    db_path = server.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as db:
        db.execute(f"UPDATE organisations SET {column} = ?", (json.dumps(value),))


def publish_release(server, version, minimum):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from zhishiyun_server.models import Release

    engine = create_engine(server.db_url)
    with Session(engine) as db:
        db.add(Release(platform=platform_id(), version=version, minimum_version=minimum,
                       url="https://updates.example.cn/zhishiyun.run", size=1,
                       sha256="0" * 64, notes="", manifest="{}", signature="c2ln"))
        db.commit()
    engine.dispose()


def test_shifted_server_clock_release_and_server_config(make_context, server_factory):
    """One real server, 30 s ahead, with a published release; its /config steers the checks."""
    server = server_factory(env={"ZHISHIYUN_SERVER_CLOCK_OFFSET": "30"})

    warn = run_one(ClockCheck(), make_context(server.url, ntp_servers=()))
    assert warn.status is Status.WARN, warn.message
    assert 29 < warn.details["server"]["offset_s"] < 31
    assert "30.0 s behind the exam server's time" in warn.message

    # The server's /config lowers the fail threshold and raises the disk minimum.
    set_org(server, "checks", {"clock_fail_s": 10, "disk_recordings_min_gb": 10**7,
                               "blocking_checks": ["clock"]})
    report = CheckRunner([ClockCheck(), DiskCheck()],
                         make_context(server.url, ntp_servers=())).run()
    clock, disk = report.results
    assert clock.status is Status.FAIL and clock.blocking
    assert disk.status is Status.FAIL and "at least 1e+07 GB" in disk.message
    assert disk.details["config_source"] == "server" and not disk.blocking

    # No release published yet: nothing to update.
    assert run_one(VersionCheck(), make_context(server.url)).status is Status.PASS
    publish_release(server, version="0.5.0", minimum="0.3.0")
    outcomes = {v: run_one(VersionCheck(), make_context(server.url, client_version=v))
                for v in ("0.2.9", "0.4.0", "0.5.0")}
    assert outcomes["0.2.9"].status is Status.FAIL
    assert "0.3.0 or later is required" in outcomes["0.2.9"].message
    assert outcomes["0.4.0"].status is Status.WARN and "0.5.0" in outcomes["0.4.0"].message
    assert outcomes["0.5.0"].status is Status.PASS


# --- bandwidth ---------------------------------------------------------------------------

def test_bandwidth_against_the_reference_server(make_context, demo_server):
    result = run_one(BandwidthCheck(), make_context(demo_server.url))
    assert result.status is Status.PASS, result.message
    assert result.details["bytes"] >= 128 * 1024
    assert result.details["upload_kbps"] > result.details["required_kbps"]


def test_bandwidth_warns_on_a_slow_link(make_context, slow_upload_url):
    result = run_one(BandwidthCheck(), make_context(slow_upload_url))
    assert result.status is Status.WARN, result.message
    assert result.details["upload_kbps"] < 900  # the link reads 800 kbit/s
    assert "finish uploading after the exam" in result.message


@pytest.mark.timeout(30)
def test_bandwidth_fails_when_the_upload_never_finishes(make_context, silent_url):
    result = run_one(BandwidthCheck(), make_context(silent_url, probe_timeout_s=1))
    assert result.status is Status.FAIL and result.details["error"] == "timed_out"
