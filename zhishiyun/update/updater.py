"""Check for a release, download and verify it, hand it to the installer — never in an exam.

Start-up flow (GUI, after the ``version`` check)::

    updater = Updater.from_settings(settings)   # + exam_in_progress=<callable> if you have one
    offer = updater.check()                 # network: call it off the UI thread
    if offer.kind is UpdateKind.MANDATORY or (offer.kind is UpdateKind.OPTIONAL and agreed):
        updater.install(offer, updater.download(offer, cancel, progress))  # then quit

Every step raises :class:`~zhishiyun.update.release.UpdateError` with a candidate-readable
message on failure; the installed version keeps working whatever happens here.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zhishiyun import __version__
from zhishiyun.api.client import ServerClient
from zhishiyun.api.errors import ApiError
from zhishiyun.api.tokens import MemoryTokenStore
from zhishiyun.api.transport import Transport
from zhishiyun.i18n import _
from zhishiyun.update.download import DownloadResult, Progress, download
from zhishiyun.update.handoff import Launcher, hand_off
from zhishiyun.update.release import (
    ReleaseManifest,
    UpdateError,
    UpdateKind,
    check_fresh,
    current_platform,
    load_public_key,
    parse_version,
    verify_manifest,
)
from zhishiyun_formats.manifest import file_sha256

log = logging.getLogger(__name__)
_EXTENSIONS = {"windows": ".exe", "macos": ".pkg", "linux": ".run"}

#: ``fetch(platform, current_version)`` → the reply of ``GET /client/release`` (a mapping or
#: ``zhishiyun.api.models.Release``), or None when the server has no release for this platform.
ReleaseFetcher = Callable[[str, str], "Mapping[str, Any] | None"]


@dataclass(frozen=True)
class UpdateOffer:
    """The outcome of a check: what kind of update, and the verified manifest behind it."""

    kind: UpdateKind
    current_version: str
    manifest: ReleaseManifest | None = None

    @property
    def version(self) -> str:
        """The offered version (the current one when there is nothing to offer)."""
        return self.manifest.version if self.manifest else self.current_version


class Updater:
    """Release check, download and hand-off for one client installation."""

    def __init__(
        self,
        server_url: str,
        *,
        transport: Transport | None = None,
        download_dir: Path,
        exam_in_progress: Callable[[], bool],
        public_key: Ed25519PublicKey | None = None,
        current_version: str = __version__,
        platform: str | None = None,
        fetch: ReleaseFetcher | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.transport = transport or Transport()
        self.client = ServerClient(self.server_url, token_store=MemoryTokenStore(),
                                   transport=self.transport, retries=1)
        self.download_dir = download_dir
        self.exam_in_progress = exam_in_progress
        self.public_key = public_key
        self.current_version = current_version
        self.platform = platform or current_platform()
        self._fetch = fetch or self._fetch_over_http
        self._launcher = launcher

    @classmethod
    def from_settings(cls, settings: Any, *,
                      exam_in_progress: Callable[[], bool] | None = None,
                      **kwargs: Any) -> Updater:
        """An updater for the configured server, downloading into ``<data>/updates``.

        An exam counts as in progress when ``exam_in_progress()`` says so **or** the data
        directory holds an active-session record (an exam entered and not finished, also
        after a crash), so no caller can forget the guard.
        """
        data_dir = settings.data_path

        def in_exam() -> bool:
            from zhishiyun.active_session import load_active

            return load_active(data_dir) is not None or bool(
                exam_in_progress and exam_in_progress())

        kwargs.setdefault("transport", Transport.from_settings(settings))
        return cls(settings.server_url, download_dir=data_dir / "updates",
                   exam_in_progress=in_exam, **kwargs)

    # -- check ---------------------------------------------------------------------------

    def _fetch_over_http(self, platform: str, current: str) -> Mapping[str, Any] | None:
        if not self.server_url:
            raise UpdateError(_("No exam server is configured, so updates cannot be checked."),
                              code="no_server")
        try:
            return self.client.release_reply(platform, current)
        except ApiError as exc:
            if exc.code == "no_release":
                return None
            if exc.code == "tls":
                raise UpdateError(exc.message, hint=exc.hint, code="tls") from exc
            if exc.status == 0:
                raise UpdateError(_("Could not reach the server to check for updates."),
                                  hint=exc.message, code="network") from exc
            raise UpdateError(_("The server could not say which version is current "
                                "(HTTP {status}).").format(status=exc.status),
                              hint=exc.message, code="bad_reply") from exc

    def check(self) -> UpdateOffer:
        """Ask the server for the current release and verify its signature.

        Raises:
            UpdateError: network, ``bad_reply`` or ``bad_signature``.
        """
        parse_version(self.current_version)
        reply = self._fetch(self.platform, self.current_version)
        if hasattr(reply, "model_dump"):  # a typed reply from zhishiyun.api
            reply = reply.model_dump(mode="json")
        if reply is None:
            log.info("no release published for %s", self.platform)
            return UpdateOffer(UpdateKind.NONE, self.current_version)
        manifest = ReleaseManifest.from_reply(reply)
        if manifest.platform != self.platform:
            raise UpdateError(_("The server offered an update for another platform ({platform})."
                                ).format(platform=manifest.platform), code="bad_reply")
        verify_manifest(manifest, self.public_key or load_public_key())
        check_fresh(manifest, newest_seen=self._newest_seen())
        self._remember(manifest)
        kind = manifest.kind_for(self.current_version)
        if kind is UpdateKind.MANDATORY and self.exam_in_progress():
            self._remember_after_exam(manifest.version)
        log.info("release check: running %s, latest %s, minimum %s -> %s", self.current_version,
                 manifest.version, manifest.minimum_version, kind.value)
        return UpdateOffer(kind, self.current_version, manifest)

    @property
    def _seen_file(self) -> Path:
        # beside the downloads, not among them: that folder holds only installers
        return self.download_dir.parent / "update-manifest-seen.json"

    def _newest_seen(self) -> datetime | None:
        """``issued_at`` of the newest manifest accepted before (None: never, or unreadable)."""
        try:
            text = json.loads(self._seen_file.read_text("utf-8"))["issued_at"]
            return datetime.fromisoformat(str(text))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember(self, manifest: ReleaseManifest) -> None:
        seen = self._newest_seen()
        if manifest.issued_at is None or (seen is not None and manifest.issued_at <= seen):
            return
        try:
            self._seen_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._seen_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"issued_at": manifest.issued_at.isoformat()}), "utf-8")
            tmp.replace(self._seen_file)
        except OSError as exc:  # the check still holds for this run
            log.warning("cannot remember the release manifest date: %s", exc)

    # -- a required update found during an exam ---------------------------------------------

    @property
    def _after_exam_file(self) -> Path:
        return self.download_dir.parent / "update-after-exam.json"

    def _remember_after_exam(self, version: str) -> None:
        try:
            self._after_exam_file.parent.mkdir(parents=True, exist_ok=True)
            self._after_exam_file.write_text(json.dumps({"version": version}), "utf-8")
            log.info("required update %s remembered for after the exam", version)
        except OSError as exc:  # the next check finds it again
            log.warning("cannot remember the required update: %s", exc)

    def pending_after_exam(self) -> str | None:
        """The version of a required update a check found during an exam (None: none)."""
        try:
            return str(json.loads(self._after_exam_file.read_text("utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def install_after_exam(self, cancel: threading.Event | None = None,
                           progress: Progress | None = None) -> list[str] | None:
        """Install the required update held back by an exam, once no exam runs.

        Returns the started installer command (the caller quits), or None when nothing is
        held back or an exam still runs. The release is checked again first: a newer one
        published meanwhile is the one installed.

        Raises:
            UpdateError: as :meth:`check`, :meth:`download` and :meth:`install`.
        """
        if self.pending_after_exam() is None or self.exam_in_progress():
            return None
        offer = self.check()
        if offer.kind is UpdateKind.NONE:
            self._after_exam_file.unlink(missing_ok=True)
            return None
        command = self.install(offer, self.download(offer, cancel, progress))
        self._after_exam_file.unlink(missing_ok=True)
        return command

    # -- download and install ---------------------------------------------------------------

    def _refuse_during_exam(self) -> None:
        if self.exam_in_progress():
            raise UpdateError(_("Updates never start during an exam; it will be offered "
                                "after the exam."), code="exam_in_progress")

    def target_path(self, manifest: ReleaseManifest) -> Path:
        """Where the verified installer of ``manifest`` is kept."""
        version = re.sub(r"[^0-9A-Za-z.+!-]", "_", str(parse_version(manifest.version)))
        # the checksum in the name: a re-published file never resumes another file's bytes
        name = (f"ZhishiyunSetup-{version}-{manifest.sha256[:12]}"
                f"{_EXTENSIONS.get(self.platform, '.bin')}")
        return self.download_dir / name

    def download(self, offer: UpdateOffer, cancel: threading.Event | None = None,
                 progress: Progress | None = None) -> DownloadResult:
        """Download (resuming) and verify the offered installer.

        Raises:
            UpdateError: ``exam_in_progress``, ``nothing_to_install``, download or checksum
                failures (a damaged file is deleted).
        """
        self._refuse_during_exam()
        manifest = offer.manifest
        if manifest is None or offer.kind is UpdateKind.NONE:
            raise UpdateError(_("There is no update to install."), code="nothing_to_install")
        # The manifest was verified in check(); verify again in case the offer was built
        # elsewhere, so that only signed sizes and checksums are ever trusted.
        verify_manifest(manifest, self.public_key or load_public_key())
        url = self.client.absolute_url(manifest.url)
        target = self.target_path(manifest)
        for stale in self.download_dir.glob("ZhishiyunSetup-*"):
            if stale != target and not stale.name.startswith(target.name):
                stale.unlink(missing_ok=True)
        return download(self.transport, url, target, size=manifest.size,
                        sha256=manifest.sha256, cancel=cancel, progress=progress)

    def install(self, offer: UpdateOffer, result: DownloadResult) -> list[str]:
        """Re-check the installer's SHA-256, then hand it over (silent mode); the caller exits.

        Raises:
            UpdateError: ``exam_in_progress``, ``bad_checksum`` (file deleted) or
                ``handoff_failed``.
        """
        self._refuse_during_exam()
        if offer.manifest is None or file_sha256(result.path) != offer.manifest.sha256:
            result.path.unlink(missing_ok=True)
            raise UpdateError(_("The downloaded update is damaged or was tampered with "
                                "(checksum mismatch) and was deleted."),
                              hint=_("Zhishiyun keeps running the installed version."),
                              code="bad_checksum")
        return hand_off(result.path, self.platform, self._launcher)

    def update_now(self, cancel: threading.Event | None = None,
                   progress: Progress | None = None) -> list[str]:
        """Check, download (resuming), verify and hand off in one call (a worker thread's).

        The caller quits the application when this returns the started command.

        Raises:
            UpdateError: as :meth:`check`, :meth:`download` and :meth:`install`, or
                ``nothing_to_install`` when the client is up to date.
        """
        offer = self.check()
        return self.install(offer, self.download(offer, cancel, progress))
