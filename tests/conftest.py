"""Shared test configuration: Qt offscreen, an isolated ZHISHIYUN_HOME per test."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path

import pytest

# Qt aborts the whole process without a platform; offscreen works everywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_configure(config):
    """No automatic cyclic GC: a pass on a worker thread may free Qt objects there (segfault).

    The app does the same (zhishiyun/ui/gc_main.py); here each test's teardown collects on
    the main thread instead. A parallel test worker past the first gets its own screen.
    """
    gc.disable()
    _own_display_for_this_worker()


_worker_display: list = []


def _own_display_for_this_worker() -> None:
    """Give each xdist worker after ``gw0`` its own Xvfb, so screen recordings never mix.

    A test that records a static screen must see only its own pictures; another worker's
    moving pattern on the same display would make it change. Worker ``gwN`` uses the display
    N above the run's (``:97`` → ``:98``), started here unless one already answers there.
    """
    import shutil
    import socket
    import subprocess
    import time

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    display = os.environ.get("DISPLAY", "")
    if worker == "gw0" or not display.startswith(":") or not shutil.which("Xvfb"):
        return
    number = int(display[1:].split(".")[0]) + int(worker.removeprefix("gw"))
    path = f"/tmp/.X11-unix/X{number}"

    def answers() -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            return probe.connect_ex(path) == 0

    if not answers():
        xvfb = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1920x1080x24", "-noreset", "-nolisten",
             "tcp"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while not answers():
            if xvfb.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb :{number} for test worker {worker} did not start")
            time.sleep(0.05)
        _worker_display.append(xvfb)
    os.environ["DISPLAY"] = f":{number}"


@pytest.fixture(autouse=True)
def main_thread_gc(request):
    """Collect on the main thread after each test: fully after a Qt test, else when due."""
    yield
    if {"qtbot", "qapp"} & set(request.fixturenames):
        gc.collect()
        return
    thresholds, counts = gc.get_threshold(), gc.get_count()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            break


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(component: str, why: str) -> None:
    """Stop a test whose real ``component`` is missing: skip locally, fail in CI.

    A green CI run has to mean the real part (Xvfb, PulseAudio, PostgreSQL, S3, node,
    Chromium, ...) was exercised, so under ``CI=true`` a missing one is a failure.
    """
    message = f"{component} missing: {why}"
    if IN_CI and not message.startswith(ALLOWED_SKIP_PREFIXES):
        pytest.fail(f"{UNEXPECTED_SKIP}{message}", pytrace=False)
    pytest.skip(message)


#: Skip reasons allowed in CI: tests of another operating system, and whatever the job
#: declares in ZHISHIYUN_TEST_ALLOWED_SKIPS (comma-separated reason prefixes; e.g. a runner
#: with no microphone).
ALLOWED_SKIP_PREFIXES = ("not on this OS",) + tuple(
    p.strip() for p in os.environ.get("ZHISHIYUN_TEST_ALLOWED_SKIPS", "").split(",") if p.strip())
_unexpected_skips: list[str] = []
UNEXPECTED_SKIP = "skipped in CI, where every real component must be present: "


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skip is a failure unless its reason is an allowed one (see above)."""
    outcome = yield
    report = outcome.get_result()
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if reason.startswith(ALLOWED_SKIP_PREFIXES):
        return
    report.outcome = "failed"
    report.longrepr = f"{UNEXPECTED_SKIP}{reason}"


def pytest_runtest_logreport(report):
    """Count the skips turned into failures (in the main process, also under xdist)."""
    text = str(report.longrepr) if report.failed else ""
    if UNEXPECTED_SKIP in text:
        reason = text.split(UNEXPECTED_SKIP, 1)[1].splitlines()[0]
        _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter):
    """Write the skip verdict where ``ZHISHIYUN_TEST_SUMMARY`` says (``.ci/run`` reads it)."""
    target = os.environ.get("ZHISHIYUN_TEST_SUMMARY")
    skipped = len(terminalreporter.stats.get("skipped", []))
    line = f"unexpected skips: {len(_unexpected_skips)} (allowed skips: {skipped})"
    terminalreporter.write_line(line)
    for entry in _unexpected_skips:
        terminalreporter.write_line(f"  {entry}")
    if target:
        Path(target).write_text(line + "\n", encoding="utf-8")


@contextlib.contextmanager
def styled_app(qapp, language: str):
    """The app's look and main-thread bridge, in ``language`` for the duration (UI tests)."""
    from zhishiyun import i18n
    from zhishiyun.ui.style import apply_style
    from zhishiyun.ui.tasks import install_bridge

    previous = i18n.current_language()
    i18n.set_language(language)
    apply_style(qapp)
    install_bridge()
    try:
        yield qapp
    finally:
        i18n.set_language(previous)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own config/data dirs and no system config file."""
    home = tmp_path_factory.mktemp("zhishiyun-home")
    monkeypatch.setenv("ZHISHIYUN_HOME", str(home))
    monkeypatch.setenv("ZHISHIYUN_SYSTEM_CONFIG", str(home / "system" / "zhishiyun.toml"))
    for key in list(os.environ):
        if key.startswith("ZHISHIYUN_") and key not in (
            "ZHISHIYUN_HOME", "ZHISHIYUN_SYSTEM_CONFIG"
        ) and not key.startswith("ZHISHIYUN_TEST_"):
            monkeypatch.delenv(key)
    return home



@pytest.fixture(autouse=True)
def isolated_keyring():
    """In this process, tokens live in the per-test memory store, never in a shared keyring.

    The keyring library caches one backend per process; a Secret Service started by an earlier
    test (and gone, or locked, since) would otherwise answer later tests. Child processes are
    not touched: the tests that want a real keyring give their children one.
    """
    import keyring
    from keyring.backends import fail

    from zhishiyun.api import tokens

    keyring.set_keyring(fail.Keyring())
    tokens._memory.clear()
    yield
    tokens._memory.clear()

# --- the real reference server, as a subprocess on 127.0.0.1 ------------------------------

import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import requests  # noqa: E402


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    """``zhishiyun-server`` in its own process; stop/start keep the same port and data."""

    data_dir: Path
    db_url: str
    demo: bool = True
    env: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RunningServer:
        cmd = [sys.executable, "-m", "zhishiyun_server", "--db", self.db_url,
               "--data", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port)]
        if self.demo:
            cmd.append("--demo")
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env}, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data_dir / 'server.log').read_text()}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer: {(self.data_dir / 'server.log').read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server_factory(tmp_path_factory):
    """Start real servers: ``server_factory(demo=True, db_url=None, env=None)``."""
    started: list[RunningServer] = []

    def start(demo: bool = True, db_url: str | None = None, env: dict | None = None):
        data = tmp_path_factory.mktemp("server-data")
        server = RunningServer(data_dir=data, db_url=db_url or f"sqlite:///{data}/server.db",
                               demo=demo, env=env or {})
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """One demo server for the whole run (read-mostly tests; mutate with care)."""
    data = tmp_path_factory.mktemp("demo-server")
    server = RunningServer(data_dir=data, db_url=f"sqlite:///{data}/server.db").start()
    yield server
    server.stop()


_exit_status = {"value": 0}


def pytest_sessionfinish(session, exitstatus):
    """Remember the run's status for :func:`pytest_unconfigure`."""
    _exit_status["value"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process with the run's status once every report is written.

    Native threads that libraries leave behind (PortAudio, Qt's pools, encoder threads of
    hundreds of in-process recordings) can abort the interpreter's own teardown after the
    last test ("terminate called without an active exception"), which turned a green run
    into exit 134. The verdict is the tests', so the process ends here with it.
    """
    import sys as _sys

    for xvfb in _worker_display:
        xvfb.terminate()
    if hasattr(config, "workerinput"):
        return  # an xdist worker: its reports still travel to the main process after this
    _sys.stdout.flush()
    _sys.stderr.flush()
    logging_shutdown()
    os._exit(_exit_status["value"])


def logging_shutdown() -> None:
    """Flush and close every logging handler (the log-file tests read them back)."""
    import logging

    logging.shutdown()
