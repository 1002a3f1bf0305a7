"""Resumable download of an installer with HTTP Range, checked against size and SHA-256.

The bytes go to ``<name>.part`` next to the final file; a later attempt asks the server for
``Range: bytes=<have>-`` and appends. Only a file whose size and SHA-256 match the signed
manifest is renamed to its final name; anything else is deleted and refused.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from zhishiyun.api.errors import ApiError
from zhishiyun.api.transport import Transport
from zhishiyun.i18n import _
from zhishiyun.update.release import UpdateError
from zhishiyun_formats.manifest import file_sha256

log = logging.getLogger(__name__)
CHUNK = 256 * 1024

#: ``progress(done_bytes, total_bytes)``; called on the downloading thread after each chunk.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DownloadResult:
    """A verified file and how much of it this attempt fetched."""

    path: Path
    resumed_from: int
    fetched: int


def _refuse(part: Path, message: str, code: str) -> UpdateError:
    part.unlink(missing_ok=True)
    log.warning("update download refused (%s); %s deleted", code, part)
    return UpdateError(message, hint=_("Zhishiyun keeps running the installed version."),
                       code=code)


def download(
    transport: Transport,
    url: str,
    target: Path,
    *,
    size: int,
    sha256: str,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> DownloadResult:
    """Fetch ``url`` into ``target``, resuming ``target.part`` if an earlier attempt left one.

    Over the client's transport, within a deadline sized to what is left to fetch, and
    never more than the signed ``size`` nor the transport's release cap.

    Raises:
        UpdateError: ``download_failed`` (network; the partial file is kept for the next try),
            ``download_cancelled`` (kept too), ``download_too_large``, ``download_truncated``
            or ``bad_checksum`` (the file is deleted).
    """
    cancel = cancel or threading.Event()
    if size > transport.caps.release:
        raise UpdateError(_("The update file is larger than any Zhishiyun release can be "
                            "and was refused."), code="download_too_large")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if have > size:
        part.unlink()
        have = 0
    resumed_from, fetched = have, 0
    if have < size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with transport.stream("GET", url, headers={**headers, "Accept": "*/*"},
                                  deadline=transport.deadline_for(size - have)) as reply:
                if reply.status_code == 416 and have:
                    part.unlink()
                    return download(transport, url, target, size=size, sha256=sha256,
                                    cancel=cancel, progress=progress)
                reply.raise_for_status()
                if have and reply.status_code != 206:
                    log.info("server ignored Range; downloading %s from the start", url)
                    have = resumed_from = 0
                with part.open("ab" if have else "wb") as fh:
                    for chunk in transport.chunks(reply, transport.caps.release, CHUNK):
                        if cancel.is_set():
                            raise UpdateError(_("The update download was cancelled."),
                                              code="download_cancelled")
                        fh.write(chunk)
                        have += len(chunk)
                        fetched += len(chunk)
                        if have > size:
                            fh.close()
                            raise _refuse(part, _("The update file is larger than announced "
                                                  "and was deleted."), "download_too_large")
                        if progress:
                            progress(have, size)
                    fh.flush()
                    os.fsync(fh.fileno())
        except (requests.RequestException, ApiError) as exc:
            log.warning("update download interrupted at %d of %d bytes: %s", have, size, exc)
            if isinstance(exc, ApiError) and exc.code == "tls":
                raise UpdateError(exc.message, hint=exc.hint, code="tls") from exc
            raise UpdateError(_("The update download was interrupted; it resumes next time."),
                              hint=str(exc), code="download_failed") from exc
    if have < size:
        # The server ended the reply normally with fewer bytes than the signed size: its file
        # is not the one that was signed (a broken connection raises above and keeps .part).
        raise _refuse(part, _("The update file is shorter than announced (truncated) and was "
                              "deleted."), "download_truncated")
    actual = file_sha256(part)
    if actual != sha256.lower():
        raise _refuse(part, _("The downloaded update is damaged or was tampered with "
                              "(checksum mismatch) and was deleted."), "bad_checksum")
    os.replace(part, target)
    log.info("update downloaded to %s (%d bytes, %d fetched now, resumed from %d)",
             target, size, fetched, resumed_from)
    return DownloadResult(path=target, resumed_from=resumed_from, fetched=fetched)
