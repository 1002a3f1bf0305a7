"""``zhishiyun upload [--wait]``: resume every pending upload, headless, printing progress.

It opens the queue in the data directory, re-scans the directories of registered sessions
(so segments a crash left unqueued are added), and runs the same worker the GUI runs.
The token comes from the token store of the session's server (the keyring after a login).

Without ``--wait`` it stops at the first "server unreachable" or "not logged in" pause;
with ``--wait`` it keeps retrying until everything is uploaded (Ctrl+C stops cleanly).
A server whose certificate is not trusted stops it either way, with that message.
Exit codes: 0 all uploaded, 1 something is still pending or failed.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path

from zhishiyun import paths
from zhishiyun.api.errors import ApiError
from zhishiyun.api.operations import server_root
from zhishiyun.api.transport import Transport
from zhishiyun.config import Settings
from zhishiyun.i18n import _
from zhishiyun.upload.queue import FAILED, UploadQueue
from zhishiyun.upload.session import SessionUploads
from zhishiyun.upload.tus import CERTIFICATE_UNTRUSTED
from zhishiyun.upload.worker import UploadProgress, UploadsBusy, UploadWorker

log = logging.getLogger(__name__)


def queue_path(settings: Settings) -> Path:
    """Where the upload queue lives (the GUI and this command share it)."""
    return paths.queue_db(settings.data_path)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Printer:
    """Progress lines, at most one per second per item plus one at each item's end."""

    def __init__(self) -> None:
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def __call__(self, p: UploadProgress) -> None:
        now = time.monotonic()
        final = p.state != "uploading"
        with self._lock:
            if not final and now - self._last.get(p.item_id, 0.0) < 1.0:
                return
            self._last[p.item_id] = now
        eta = f"{p.eta_s:.0f} s" if p.eta_s is not None and not final else "-"
        print(f"{p.session_id[:8]} {p.label:<16} {_mb(p.bytes_done):>10} / "
              f"{_mb(p.bytes_total):<10} {p.rate_bps / 1e6:6.1f} MB/s  ETA {eta:>6}  "
              f"{p.state}", flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Resume every pending upload; see the module docstring."""
    from zhishiyun.api.tokens import TokenStore

    queue = UploadQueue(queue_path(settings))
    try:
        sessions = queue.sessions()
        for s in sessions:
            if s["session_dir"] and Path(s["session_dir"]).is_dir():
                SessionUploads(queue, s["session_id"], s["upload_url"], s["api_url"],
                               s["session_dir"]).enqueue_session_dir()
        pending = queue.unfinished()
        if pending == 0:
            failed = [i for i in queue.items() if i.state == FAILED]
            for item in failed:
                print(_("Failed: {item}: {reason}").format(item=item.label, reason=item.reason))
            print(_("Nothing to upload."))
            return 1 if failed else 0
        root = settings.server_url or (server_root(sessions[-1]["api_url"]) if sessions else "")
        store = TokenStore(root)
        transport = Transport.from_settings(settings)
        worker = UploadWorker(queue, store.get, transport=transport)
        worker.upload_did_progress.append(_Printer())
        paused, reasons = threading.Event(), set()
        worker.worker_did_wait.append(lambda reason, seconds: (reasons.add(reason),
                                                               paused.set()))
        try:
            worker.start()
        except UploadsBusy as exc:
            print(exc.one_line())
            return 1
        print(_("Uploading {count} item(s)…").format(count=pending), flush=True)
        try:
            while not worker.wait_idle(0.5):
                if paused.is_set() and not args.wait:
                    break
                if CERTIFICATE_UNTRUSTED in reasons:  # waiting cannot help: say why
                    print(ApiError(0, "tls").one_line())
                    break
                if "not_logged_in" in reasons:
                    print(_("Not logged in: log in with the Zhishiyun app, then run this "
                            "again."))
                    break
        except KeyboardInterrupt:
            print(_("Stopping after the current chunk…"), flush=True)
        finally:
            worker.stop()
            transport.close()
        left = queue.unfinished()
        failed = [i for i in queue.items() if i.state == FAILED]
        for item in failed:
            print(_("Failed: {item}: {reason}").format(item=item.label, reason=item.reason))
        if left:
            print(_("{count} item(s) still to upload; run `zhishiyun upload --wait` to "
                    "keep trying.").format(count=left))
        else:
            print(_("All uploads are complete."))
        return 1 if left or failed else 0
    finally:
        queue.close()
