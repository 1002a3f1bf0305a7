"""What the GUI is given by its composition root (``app.run``), in one object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhishiyun.config import Settings

if TYPE_CHECKING:
    from zhishiyun.api.client import ServerClient
    from zhishiyun.api.models import LoginResult
    from zhishiyun.checks.base import CheckResult
    from zhishiyun.checks.runner import CheckReport
    from zhishiyun.exam.runtime import ExamRuntime

    RunChecks = Callable[[Callable[[CheckResult], None], Sequence[str] | None], CheckReport]


@dataclass
class AppServices:
    """Everything the windows use; built once in :func:`zhishiyun.ui.app.build_services`.

    Attributes:
        settings: effective settings.
        client: the :class:`~zhishiyun.api.client.ServerClient` (holds the login token).
        runtime: the app's one :class:`~zhishiyun.exam.runtime.ExamRuntime` (upload queue,
            worker, server clock); status bar, exam cards and exam windows read it.
        run_checks: ``run_checks(on_result, only)`` — blocking, called on a pool thread.
        check_ids: the checks shown on the start-up page, in order.
        download_dir: where attachments are saved.
        face_login: starts a face-login session; None (services a test builds) says face
            login is unavailable on the login page.
        device_test: the capture package's ``run_device_test``; None disables 设备检测.
        update_now: ``update_now(cancel, progress)`` downloads, verifies and starts the
            installer (blocking); None: the check page offers no update.
        update_after_exam: installs a required update an exam held back (blocking);
            returns the started installer command or None.
        save_settings: persists user settings (language, server, geometry).
        on_logged_in: called with the login reply (e.g. to keep the token in the keyring).
        on_logged_out: called after logout.
    """

    settings: Settings
    client: ServerClient
    runtime: ExamRuntime
    run_checks: RunChecks
    check_ids: Sequence[str]
    download_dir: Path
    face_login: Callable[..., Any] | None = None
    device_test: Callable[..., Any] | None = None
    update_now: Callable[..., Any] | None = None
    update_after_exam: Callable[[], Any] | None = None
    save_settings: Callable[[dict], None] | None = None
    on_logged_in: Callable[[LoginResult], None] | None = None
    on_logged_out: Callable[[], None] | None = None

    def server_now(self) -> datetime:
        """Current server time from the runtime's one clock."""
        return self.runtime.server_now()

    def ping(self) -> Any:
        """Blocking probe of the server that re-measures the clock; raises when unreachable."""
        return self.runtime.sync_clock()

    def pending_uploads(self) -> int:
        """Unfinished uploads in the queue (blocking, short)."""
        return self.runtime.pending_uploads()

    def upload_totals(self, session_id: str) -> dict[str, int]:
        """One session's upload totals (blocking, short)."""
        return self.runtime.upload_totals(session_id)
