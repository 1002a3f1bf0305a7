"""The GUI's composition root: ``zhishiyun`` / ``zhishiyun gui`` call :func:`run`.

Builds the services once (the exam runtime with the server client, the one server clock
and the upload queue; check runner, device test, face login) and passes them to the windows
through their constructors; no window reaches for globals.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from zhishiyun import config, paths
from zhishiyun.config import Settings
from zhishiyun.i18n import _, current_language
from zhishiyun.ui.services import AppServices

log = logging.getLogger(__name__)
STARTUP_CHECK_ORDER = ("server", "version", "clock", "disk", "memory", "os", "camera",
                       "microphone", "display", "processes", "bandwidth")


def _make_check_runner(settings: Settings, transport: Any) -> Callable[..., Any]:
    from zhishiyun.checks import CheckContext, CheckRunner, create_checks

    def run_checks(on_result: Callable[[Any], None], only: Sequence[str] | None = None) -> Any:
        context = CheckContext(settings, session=transport.session)
        runner = CheckRunner(create_checks(only), context, on_result=on_result, in_order=True)
        return runner.run()

    return run_checks


def _make_face_login(settings: Settings, transport: Any) -> Callable[..., Any]:
    """A starter for face-login sessions on the one transport."""
    from zhishiyun.auth.face_client import FaceClient
    from zhishiyun.auth.face_session import FaceLoginSession

    def start(name: str, id_number: str, camera: Any, **callbacks: Any) -> Any:
        client = FaceClient.from_settings(settings, transport=transport)
        shown = callbacks.pop("on_result", None)

        def on_result(result: Any) -> None:
            if getattr(result, "ok", False):  # the camera that recognised them records the exam
                remember_camera(settings.data_path, camera)
            if shown is not None:
                shown(result)

        session = FaceLoginSession(client, name, id_number, camera, on_result=on_result,
                                   **callbacks)
        session.start()  # raises at once for a bad name or ID number
        return session

    return start


def remember_camera(data_dir: Any, camera: Any) -> None:
    """Face login's camera becomes this computer's choice (the microphone stays)."""
    from zhishiyun.device_choice import save_choice

    try:
        save_choice(data_dir, camera, chosen_in="face_login")
    except OSError as exc:
        log.warning("device choice not saved: %s", exc)


def _make_updater(settings: Settings, transport: Any) -> Callable[..., Any]:
    """``update_now(cancel, progress)`` from the update package (refuses during an exam)."""
    from zhishiyun.update.updater import Updater

    def update_now(cancel: Any, progress: Callable[[int, int], None]) -> Any:
        return Updater.from_settings(settings, transport=transport).update_now(cancel,
                                                                             progress)

    return update_now


def _make_after_exam_updater(settings: Settings, transport: Any) -> Callable[[], Any]:
    """Install the required update an exam held back, once it is over (see Updater)."""
    from zhishiyun.update.updater import Updater

    return lambda: Updater.from_settings(settings, transport=transport).install_after_exam()


def build_services(settings: Settings) -> AppServices:
    """Build everything the windows need from the effective settings (once per app)."""
    from zhishiyun.capture.devicetest import run_device_test
    from zhishiyun.checks import ALL_CHECK_IDS
    from zhishiyun.exam.runtime import ExamRuntime

    runtime = ExamRuntime.from_settings(settings)
    transport = runtime.client.transport  # the one road: CAs, proxy, deadlines, token
    check_ids = [i for i in STARTUP_CHECK_ORDER if i in ALL_CHECK_IDS]

    def save(updates: dict) -> None:
        try:
            config.save_user_settings(updates)
        except (OSError, ValueError) as exc:
            log.warning("settings not saved: %s", exc)

    return AppServices(
        settings=settings,
        client=runtime.client,
        runtime=runtime,
        run_checks=_make_check_runner(settings, transport),
        check_ids=check_ids,
        download_dir=settings.data_path / "attachments",
        face_login=_make_face_login(settings, transport),
        device_test=run_device_test,
        update_now=_make_updater(settings, transport),
        update_after_exam=_make_after_exam_updater(settings, transport),
        save_settings=save,
    )


def install_translators(app: Any) -> list[Any]:
    """Qt's own translations (built-in dialogs) for the language gettext uses."""
    from zhishiyun.ui.qt import QLibraryInfo, QLocale, QTranslator

    if current_language() != "zh_CN":
        return []
    QLocale.setDefault(QLocale(QLocale.Language.Chinese, QLocale.Country.China))
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if translator.load("qtbase_zh_CN", folder):
        app.installTranslator(translator)
        return [translator]
    log.info("qtbase_zh_CN.qm not found in %s", folder)
    return []


def create_application(argv: list[str] | None = None) -> Any:
    """The QApplication with high-DPI rounding, style, fonts and translations."""
    from zhishiyun.ui.qt import QApplication, QGuiApplication, Qt
    from zhishiyun.ui.style import apply_style
    from zhishiyun.ui.tasks import install_bridge

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv or [sys.argv[0]])
    app.setApplicationName("Zhishiyun")
    app.setApplicationDisplayName(_("Zhishiyun"))
    apply_style(app)
    install_translators(app)
    install_bridge()
    if not hasattr(app, "_zhishiyun_gc"):
        from zhishiyun.ui.gc_main import MainThreadGarbageCollector

        app._zhishiyun_gc = MainThreadGarbageCollector(app)
    return app


def ask_server_url(settings: Settings) -> bool:
    """Ask for the exam server's address (first start without one); True when given."""
    from zhishiyun.ui.qt import QInputDialog, QLineEdit

    text, problem = "https://", ""
    while True:
        label = _("Exam server address (from your exam notice):")
        text, ok = QInputDialog.getText(None, _("Zhishiyun"), f"{problem}{label}",
                                        QLineEdit.EchoMode.Normal, text)
        if not ok:
            return False
        try:
            url = config.SETTINGS_BY_KEY["server_url"].parse(text)
        except ValueError:
            url = ""
        if url:
            settings.values["server_url"] = url
            settings.sources["server_url"] = "asked at start-up"
            return True
        problem = _("That is not an http(s):// address.") + "\n"


def _log_uncaught() -> None:
    """Uncaught errors in slots and threads go to the log file (never a silent stderr)."""
    import threading

    def on_main_error(kind: Any, value: BaseException, trace: Any) -> None:
        log.error("uncaught error in the GUI", exc_info=(kind, value, trace))

    def on_thread_error(args: Any) -> None:
        log.error("uncaught error in thread %s", getattr(args.thread, "name", "?"),
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = on_main_error
    threading.excepthook = on_thread_error


def _quit_on_signals(app: Any, window: Any, services: AppServices) -> None:
    """Ctrl+C / SIGTERM (logout, shutdown, support tools) end the app cleanly, never hang.

    Nothing may ask a question or refuse (an exam window refuses to close, the quit guard
    asks about uploads, and Qt 6 cancels ``quit()`` when a window refuses): the runtime
    closes first (recording stops with its segments closed, the queue keeps what is pending,
    the active-session record stays so the next start offers to return), then the main
    window closes like with its close button and the event loop exits.
    """
    import signal

    from zhishiyun.ui.qt import QTimer

    def close(*_args: Any) -> None:
        if services.runtime.in_exam():
            log.warning("stopping on a signal: recordings closed, uploads resume at next start")
        services.runtime.close()  # nothing pending is asked about once the queue is closed
        window.close()
        app.exit(0)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    waker = QTimer(app)  # lets Python run its signal handlers while Qt waits
    waker.timeout.connect(lambda: None)
    waker.start(300)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Open the candidate GUI; returns the exit code when the window closes."""
    from zhishiyun.errors import ConfigError

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        raise ConfigError(_("No display found: the GUI needs a desktop."),
                          hint=_("use `zhishiyun check --headless` on a machine without one"))
    app = create_application()
    _log_uncaught()
    if not settings.server_url and not ask_server_url(settings):
        raise ConfigError(_("No exam server is configured."),
                          hint=_("start with --server URL, or ask your organiser for the "
                                 "installer that sets it"))
    from zhishiyun.ui.exam_entry import ExamDesk
    from zhishiyun.ui.main_window import MainWindow

    services = build_services(settings)
    window = MainWindow(services)
    desk = ExamDesk(window, services)  # enter/resume exams, quit guard
    window.exam_enter_requested.connect(desk.enter)
    desk.start()
    window.show()
    window.start()
    _quit_on_signals(app, window, services)
    log.info("GUI started against %s (data %s)", settings.server_url,
             paths.logs_dir(settings.data_path).parent)
    try:
        return int(app.exec())
    finally:
        desk.close()
        services.runtime.close()
