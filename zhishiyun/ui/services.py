"""What the GUI is given by its composition root (``app.run``), in one object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zhishiyun.config import Settings


@dataclass
class AppServices:
    """Everything the windows use; built in :func:`zhishiyun.ui.app.build_services`.

    Attributes:
        settings: effective settings.
        client: the :class:`~zhishiyun.api.client.ServerClient` (holds the login token).
        run_checks: ``run_checks(on_result, only)`` — blocking, called on a pool thread.
        check_ids: the checks shown on the start-up page, in order.
        server_now: current server time (aware datetime) from the ServerClock.
        ping: blocking probe of the server (re-measures the clock); raises when unreachable.
        download_dir: where attachments are saved.
        face_login: starts a face-login session, or None when this build has none.
        device_test: the capture package's device-test module, or None when missing.
        pending_uploads: number of queued uploads, or None without an upload queue.
        upload_totals: per-session upload totals from the queue (blocking), or None.
        update_now: ``update_now(cancel, progress)`` downloads, verifies and starts the
            installer (blocking), or None when this build cannot update itself.
        save_settings: persists user settings (language, server, geometry).
        on_logged_in: called with the login reply (e.g. to keep the token in the keyring).
        on_logged_out: called after logout.
    """

    settings: Settings
    client: Any
    run_checks: Callable[..., Any]
    check_ids: Sequence[str]
    server_now: Callable[[], datetime]
    download_dir: Path
    ping: Callable[[], Any] | None = None
    face_login: Callable[..., Any] | None = None
    device_test: Any = None
    pending_uploads: Callable[[], int | None] | None = None
    update_now: Callable[..., Any] | None = None
    upload_totals: Callable[[str], dict] | None = None
    save_settings: Callable[[dict], Any] | None = None
    on_logged_in: Callable[[Any], None] | None = None
    on_logged_out: Callable[[], None] | None = None
