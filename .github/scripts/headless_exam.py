"""CI: start the reference server on 127.0.0.1, take a demo exam headless, check it arrived.

Usage (from the repository root, in the venv that has the server installed):
    python .github/scripts/headless_exam.py [--client EXE] [--seconds 20] [--data DIR]

``--client`` is the program that takes the exam: by default ``python -m zhishiyun`` from this
environment, in the install-test steps the installed app. The camera is a generated video
(the demo organisation allows stand-ins); the microphone is ``none`` because runners have
none. Exit code 0 only when the client exited 0 and reported everything uploaded; the
client's JSON summary is printed either way.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

DEMO_ID_NUMBER = "110101199003070011"
DEMO_PASSWORD = "zsy-demo-1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    """The demo server with its written exam open now; the process and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data / "server.log", "ab")  # noqa: SIM115 - kept open for the server's life
    env = {**os.environ, "ZHISHIYUN_DEMO_WRITTEN_START_DELAY_S": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "zhishiyun_server", "--db", f"sqlite:///{data / 'server.db'}",
         "--data", str(data / "server"), "--host", "127.0.0.1", "--port", str(port), "--demo"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"server exited {server.returncode}:\n{(data / 'server.log').read_text()}")
        try:
            if requests.get(url + "/api/v1/health", timeout=2).ok:
                return server, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.kill()
    sys.exit(f"server did not answer:\n{(data / 'server.log').read_text()}")


def main() -> int:
    """Take the exam; 0 only when everything reached the server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client",
                        help="the client executable (default: this python -m zhishiyun)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--data", type=Path, help="where server and camera files go (temp)")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="zhishiyun-ci-exam-"))
    data.mkdir(parents=True, exist_ok=True)

    from zhishiyun.demo import make_standin_camera

    camera = make_standin_camera(data / "camera.mp4", seconds=6.0)
    client = [args.client] if args.client else [sys.executable, "-m", "zhishiyun"]
    server, url = start_server(data)
    try:
        command = [*client, "exam", "run", "--server", url, "--id-number", DEMO_ID_NUMBER,
                   "--password-stdin", "--exam", "next", "--accept-rules",
                   "--seconds", str(args.seconds), "--camera", str(camera), "--mic", "none"]
        print("headless exam:", " ".join(command), flush=True)
        done = subprocess.run(command, input=DEMO_PASSWORD + "\n", capture_output=True,
                              text=True, timeout=args.seconds + 300)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    sys.stderr.write(done.stderr)
    print(done.stdout, flush=True)
    try:
        summary = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        print(f"headless exam: no JSON summary (exit {done.returncode})", file=sys.stderr)
        return 1
    tracks = summary.get("tracks", {})
    recorded = {track: len(seqs.get("recorded", [])) for track, seqs in tracks.items()}
    print(f"headless exam: exit {done.returncode}, all_uploaded={summary.get('all_uploaded')}, "
          f"segments per track {recorded}", flush=True)
    ok = done.returncode == 0 and summary.get("all_uploaded") is True and "camera" in tracks
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
