"""How fast the review console's session page loads for a 3-hour session.

A fixture makes the session in a real server's database (``zhishiyun-server --demo`` on
127.0.0.1): 360 segments per track (screen + camera, 30 s each: 3 hours) with a valid signed
manifest chain, 1,000 events of mixed kinds, 20 answers with 30 saved versions each (the
page lists every version); every segment is a small real
H.264 file in the upload storage. A staff member logs in and loads
``/review/sessions/{sid}`` again and again (requests, keep-alive); the reference, measured in
the same run on the same rows, is the candidate API's ``GET /sessions/{sid}/recordings``
(it reads and verifies the same 720 segments and manifest lines). With Chromium present, the
page is also loaded in a headless browser (navigation timing: DOMContentLoaded and load).

Prints one JSON object: ``page_s`` (cold, median, p95, max), ``reference_s`` (median),
``ratio_page_vs_reference``, ``browser_s`` when measured, ``target_s`` (1.0) and ``ok``.

    python benchmarks/review_page.py [--loads 20] [--no-browser]
    python benchmarks/review_page.py --smoke      # a few seconds; numbers are not measurements
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ZHANG = ("110101199003070011", "zsy-demo-1")
STAFF = ("bench-reviewer", "bench-password-1")
KINDS = ("focus_lost", "focus_back", "network_lost", "network_back", "face_absent",
         "face_returned", "identity_check", "display_added", "devices_changed", "minimised")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_segment() -> bytes:
    """A real 2 s H.264 fragmented MP4 (160x120, 5 fps): a stand-in for every segment."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = Fraction(1, 5)
        for i in range(10):
            picture = np.full((120, 160, 3), (i * 20) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _store(storage, data: bytes, sha: str) -> str:
    info = storage.create(len(data), {"sha256": sha}, "bench", 0)
    writer = storage.writer(info)
    writer.write(data)
    writer.commit()
    return info.id


def make_session(db_url: str, data_dir: Path, segments: int, events: int,
                 questions: int = 20, versions: int = 30) -> str:
    """The 3-hour session (rows + small files) for 张三's demo written exam; its id."""
    import hashlib

    from sqlalchemy import select

    from zhishiyun_formats.manifest import canonical_bytes, compute_mac, line_hash
    from zhishiyun_server.db import make_engine, make_session_factory
    from zhishiyun_server.demo import WRITTEN_EXAM
    from zhishiyun_server.models import (
        Answer,
        AnswerVersion,
        Candidate,
        Event,
        Exam,
        ExamSession,
        RecordingSegment,
    )
    from zhishiyun_server.recordings import ManifestLine
    from zhishiyun_server.tus.storage import LocalDiskStorage

    engine = make_engine(db_url)
    storage = LocalDiskStorage(data_dir / "uploads")
    segment = tiny_segment()
    sha = hashlib.sha256(segment).hexdigest()
    started = datetime.now(timezone.utc) - timedelta(hours=3)
    with make_session_factory(engine)() as db:
        exam = db.scalar(select(Exam).where(Exam.name == WRITTEN_EXAM))
        person = db.scalar(select(Candidate).where(Candidate.id_number == ZHANG[0]))
        sid, key = secrets.token_hex(16), secrets.token_hex(32)
        db.add(ExamSession(id=sid, exam_id=exam.id, candidate_id=person.id, session_key=key,
                           entered_at=started, finished_at=started + timedelta(hours=3),
                           finish_reason="time_up"))
        db.flush()
        for track in ("screen", "camera"):
            prev = ""
            for seq in range(segments):
                record = {"seq": seq, "track": track, "bytes": len(segment), "sha256": sha,
                          "duration_ms": 30000, "prev": prev, "encoder": "libx264",
                          "start": (started + timedelta(seconds=30 * seq))
                          .isoformat(timespec="milliseconds")}
                record["mac"] = compute_mac(record, key)
                line = canonical_bytes(record).decode("utf-8")
                prev = line_hash(line)
                db.add(ManifestLine(session_id=sid, track=track, seq=seq, sha256=sha, line=line,
                                    received_at=started + timedelta(seconds=30 * seq + 31)))
                db.add(RecordingSegment(session_id=sid, track=track, seq=seq,
                                        bytes=len(segment), sha256=sha,
                                        storage_key=_store(storage, segment, sha),
                                        received_at=started + timedelta(seconds=30 * seq + 32)))
        for i in range(events):
            kind = KINDS[i % len(KINDS)]
            db.add(Event(session_id=sid, client_event_id=f"bench-{i}", kind=kind,
                         at=started + timedelta(seconds=i * 10.8),
                         details={"n": i, "note": "基准测试事件"}))
        for question in range(1, questions + 1):
            for version in range(1, versions + 1):
                saved = started + timedelta(seconds=question * 300 + version * 10)
                db.add(AnswerVersion(session_id=sid, question_id=str(question),
                                     version=version, content=f"第 {version} 稿" + "答案" * 200,
                                     saved_at=saved, received_at=saved + timedelta(seconds=1)))
            db.add(Answer(session_id=sid, question_id=str(question), version=versions,
                          content=f"第 {versions} 稿" + "答案" * 200, updated_at=saved))
        db.commit()
    engine.dispose()
    return sid


def _timed(get, url: str, **kwargs) -> float:
    begin = time.perf_counter()
    reply = get(url, timeout=60, **kwargs)
    elapsed = time.perf_counter() - begin
    reply.raise_for_status()
    return elapsed


def _browser_load(url: str, cookie: str, loads: int) -> dict | None:
    """DOMContentLoaded / load of the page in headless Chromium, or None without it."""
    chromium, driver_path = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (Path(chromium).exists() and Path(driver_path).exists()):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="zsy-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1366,900",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        base = url.split("/review/")[0]
        driver.get(base + "/review/static/console.css")
        driver.add_cookie({"name": "zsy_review", "value": cookie, "path": "/review/"})
        ready, loaded = [], []
        for _ in range(loads):
            driver.get(url)
            timing = driver.execute_script(
                "const t = performance.getEntriesByType('navigation')[0];"
                "return [t.domContentLoadedEventEnd, t.loadEventEnd];")
            ready.append(timing[0] / 1000)
            loaded.append(timing[1] / 1000)
        return {"dom_content_loaded_median": round(statistics.median(ready), 3),
                "load_median": round(statistics.median(loaded), 3),
                "load_max": round(max(loaded), 3)}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def run(segments: int, events: int, loads: int, browser: bool, questions: int = 20,
        versions: int = 30) -> dict:
    """Seed, start the server, measure; the JSON report."""
    import requests

    work = Path(tempfile.mkdtemp(prefix="zsy-review-bench-"))
    db_url = f"sqlite:///{work}/server.db"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "-m", "zhishiyun_server", "--db", db_url,
                               "--data", str(work), "--port", str(port), "--demo",
                               "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
                              cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/v1/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((work / "server.log").read_text())
            time.sleep(0.2)
        subprocess.run([sys.executable, "-m", "zhishiyun_server", "admin", "--db", db_url,
                        "--data", str(work), "add-staff", "--name", STAFF[0], "--role",
                        "reviewer"], input=STAFF[1] + "\n", text=True, check=True,
                       capture_output=True)
        seed_begin = time.perf_counter()
        sid = make_session(db_url, work, segments, events, questions, versions)
        seed_s = time.perf_counter() - seed_begin

        staff = requests.Session()
        form = staff.get(base + "/review/", timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        staff.post(base + "/review/login", data={"name": STAFF[0], "password": STAFF[1],
                                                 "csrf": csrf}, timeout=30).raise_for_status()
        page_url = f"{base}/review/sessions/{sid}"
        cold = _timed(staff.get, page_url)
        page = [_timed(staff.get, page_url) for _ in range(loads)]
        html = staff.get(page_url, timeout=60).text
        token = requests.post(base + "/api/v1/auth/password", timeout=30, json={
            "id_number": ZHANG[0], "password": ZHANG[1]}).json()["token"]
        candidate = requests.Session()
        candidate.headers["Authorization"] = f"Bearer {token}"
        reference = [_timed(candidate.get, f"{base}/api/v1/sessions/{sid}/recordings")
                     for _ in range(loads)]
        page_sorted = sorted(page)
        report = {
            "fixture": {"segments_per_track": segments, "events": events,
                        "answers": questions, "versions_per_answer": versions,
                        "seed_s": round(seed_s, 2)},
            "page_bytes": len(html.encode("utf-8")),
            "page_rows": {"events": html.count('class="event '),
                          "versions": html.count('<li class="version'),
                          "pieces": sum(len(t["pieces"]) for t in json.loads(re.search(
                              r'id="session-data">(.*?)</script>', html).group(1))
                              ["tracks"].values())},
            "page_s": {"cold": round(cold, 3), "median": round(statistics.median(page), 3),
                       "p95": round(page_sorted[max(0, int(len(page) * 0.95) - 1)], 3),
                       "max": round(max(page), 3)},
            "reference_s": {"what": "GET /api/v1/sessions/{sid}/recordings",
                            "median": round(statistics.median(reference), 3)},
            "ratio_page_vs_reference": round(statistics.median(page)
                                             / max(statistics.median(reference), 1e-6), 2),
            "target_s": 1.0,
            "load_average": os.getloadavg(),
        }
        if browser:
            report["browser_s"] = _browser_load(page_url, staff.cookies.get("zsy_review"),
                                                max(3, loads // 4))
        slowest = max(report["page_s"]["p95"],
                      (report.get("browser_s") or {}).get("load_median", 0))
        report["ok"] = slowest < report["target_s"]
        return report
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=20, help="page loads to time (20)")
    parser.add_argument("--segments", type=int, default=360, help="segments per track (360)")
    parser.add_argument("--events", type=int, default=1000, help="events (1000)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny fixture, 3 loads, no browser: checks that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        report = run(segments=12, events=50, loads=3, browser=False, questions=2,
                     versions=3)
    else:
        report = run(args.segments, args.events, args.loads, browser=not args.no_browser)
    report["smoke"] = args.smoke  # smoke numbers are not measurements
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
