"""The release manifest from ``GET /client/release``: parsing, signature, what it means.

The server signs each release with an Ed25519 private key; the client ships the matching
public key in ``resources/update_ed25519.pub`` and trusts nothing it cannot verify with it.
The reply carries ``manifest``, the exact JSON text the server signed (platform, version,
minimum version, URL, size, SHA-256, notes), and ``signature``, base64 Ed25519 over the
UTF-8 bytes of that text (:func:`signed_payload`). The client trusts only what is inside the
verified manifest text, never the unsigned copies of those fields beside it.

The manifest also carries ``issued_at`` and ``expires_at``: :func:`check_fresh` refuses an
expired manifest, an undated one, and one issued before the newest already accepted, so an
old manifest cannot be replayed to hold back an update.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from packaging.version import InvalidVersion, Version

from zhishiyun import paths
from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _

PUBLIC_KEY_FILENAME = "update_ed25519.pub"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UpdateError(ZhishiyunError):
    """An update cannot be checked, downloaded, verified or installed; the app keeps running."""

    code = "update_failed"


def current_platform() -> str:
    """The platform id the server's ``?platform=`` expects: windows, macos or linux."""
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def parse_version(text: str) -> Version:
    """A PEP 440 version; :class:`UpdateError` when it is not one."""
    try:
        return Version(str(text))
    except InvalidVersion:
        raise UpdateError(_("The server announced an invalid version: {version}").format(
            version=text), hint=_("Zhishiyun keeps running the installed version."),
            code="bad_reply") from None


class UpdateKind(enum.Enum):
    """What a release means for the running client."""

    NONE = "none"            #: up to date
    OPTIONAL = "optional"    #: newer version available; the candidate may decline
    MANDATORY = "mandatory"  #: running version is below the minimum; must update to go on


@dataclass(frozen=True)
class ReleaseManifest:
    """One published release for one platform: the signed manifest text and its signature.

    Every field below is read from ``manifest_text`` (the exact bytes the server signed),
    never from the unsigned fields around it in the reply; nothing is acted on before
    :func:`verify_manifest` has checked the signature.
    """

    platform: str
    version: str
    minimum_version: str
    url: str
    size: int
    sha256: str
    manifest_text: str
    signature: str
    notes: str = ""
    issued_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_reply(cls, reply: Any) -> ReleaseManifest:
        """Read a ``GET /client/release`` reply: ``{…, manifest: "<JSON text>", signature}``.

        Raises:
            UpdateError: code ``bad_reply`` when the manifest is missing, not JSON, or lacks
                a field or has one of the wrong type.
        """
        if not isinstance(reply, Mapping):
            raise _bad_reply("not a JSON object")
        text, signature = reply.get("manifest"), reply.get("signature")
        if not isinstance(text, str) or not isinstance(signature, str) or not signature:
            raise _bad_reply("no signed manifest")
        try:
            signed = json.loads(text)
        except ValueError:
            raise _bad_reply("the manifest is not JSON") from None
        if not isinstance(signed, Mapping):
            raise _bad_reply("the manifest is not a JSON object")
        try:
            data = {
                "platform": _text(signed, "platform"),
                "version": _text(signed, "version", "latest"),
                "minimum_version": _text(signed, "minimum_version", "minimum"),
                "url": _text(signed, "url"),
                "size": signed["size"],
                "sha256": _text(signed, "sha256").lower(),
                # notes are display-only; the server does not sign them
                "notes": signed.get("notes") or reply.get("notes") or "",
            }
        except KeyError as exc:
            raise _bad_reply(f"missing field {exc.args[0]}") from None
        if isinstance(data["size"], bool) or not isinstance(data["size"], int) or data["size"] <= 0:
            raise _bad_reply("size is not a positive integer")
        if not _SHA256.match(data["sha256"]):
            raise _bad_reply("sha256 is not 64 hex digits")
        if not isinstance(data["notes"], str):
            data["notes"] = ""
        parse_version(data["version"])
        parse_version(data["minimum_version"])
        data["issued_at"] = _moment(signed, "issued_at")
        data["expires_at"] = _moment(signed, "expires_at")
        return cls(manifest_text=text, signature=signature.strip(), **data)

    def kind_for(self, current_version: str) -> UpdateKind:
        """NONE, OPTIONAL or MANDATORY for a client running ``current_version``."""
        current = parse_version(current_version)
        if current < parse_version(self.minimum_version):
            return UpdateKind.MANDATORY
        if current < parse_version(self.version):
            return UpdateKind.OPTIONAL
        return UpdateKind.NONE


def _moment(signed: Mapping[str, Any], name: str) -> datetime | None:
    value = signed.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _bad_reply(f"{name} is not a time") from None
    if moment.tzinfo is None:
        raise _bad_reply(f"{name} has no time zone")
    return moment


#: Clock difference tolerated between this computer and the server that signed.
CLOCK_SLACK = timedelta(minutes=10)


def check_fresh(manifest: ReleaseManifest, *, now: datetime | None = None,
                newest_seen: datetime | None = None) -> None:
    """Refuse a manifest that is undated, expired, or older than one already accepted.

    Call after :func:`verify_manifest` (only signed dates mean anything).

    Raises:
        UpdateError: ``stale_manifest``.
    """
    now = now or datetime.now(timezone.utc)
    keep = _("Zhishiyun keeps running the installed version; tell support if this persists.")
    if manifest.issued_at is None or manifest.expires_at is None:
        raise UpdateError(_("The release description carries no validity dates and was "
                            "refused."), hint=keep, code="stale_manifest")
    if manifest.expires_at + CLOCK_SLACK < now:
        raise UpdateError(_("The release description expired on {date} and was refused (an "
                            "old copy may have been replayed).").format(
                                date=manifest.expires_at.astimezone().strftime("%Y-%m-%d")),
                          hint=keep, code="stale_manifest")
    if newest_seen is not None and manifest.issued_at < newest_seen:
        raise UpdateError(_("The release description is older than one already seen and was "
                            "refused (an old copy may have been replayed)."), hint=keep,
                          code="stale_manifest")


def _text(reply: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = reply.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise KeyError(names[0])


def _bad_reply(what: str) -> UpdateError:
    return UpdateError(
        _("The update server sent a release description that cannot be used ({what}).").format(
            what=what),
        hint=_("Zhishiyun keeps running the installed version."), code="bad_reply")


def signed_payload(manifest: ReleaseManifest) -> bytes:
    """The exact bytes the Ed25519 signature covers: the manifest text as UTF-8."""
    return manifest.manifest_text.encode("utf-8")


def load_public_key(path: Path | None = None) -> Ed25519PublicKey:
    """The update-signing public key: PEM (``BEGIN PUBLIC KEY``) or base64 of the raw 32 bytes.

    Raises:
        UpdateError: code ``no_update_key`` when the file is missing or not an Ed25519 key.
    """
    path = path or paths.resources_dir() / PUBLIC_KEY_FILENAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UpdateError(_("The update signing key is missing: {path}").format(path=path),
                          hint=_("Reinstall Zhishiyun."), code="no_update_key") from exc
    try:
        if b"BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(),
                                                                      validate=True))
    except (ValueError, binascii.Error) as exc:
        raise UpdateError(_("The update signing key is damaged: {path}").format(path=path),
                          hint=_("Reinstall Zhishiyun."), code="no_update_key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UpdateError(_("The update signing key is not an Ed25519 key: {path}").format(
            path=path), hint=_("Reinstall Zhishiyun."), code="no_update_key")
    return key


def verify_manifest(manifest: ReleaseManifest, public_key: Ed25519PublicKey) -> None:
    """Check the server's signature over :func:`signed_payload`.

    Raises:
        UpdateError: code ``bad_signature`` when the signature does not match the shipped key.
    """
    try:
        signature = base64.b64decode(manifest.signature, validate=True)
        public_key.verify(signature, signed_payload(manifest))
    except (InvalidSignature, binascii.Error, ValueError):
        raise UpdateError(
            _("The update {version} is not signed by your organisation's key and was refused.")
            .format(version=manifest.version),
            hint=_("Zhishiyun keeps running the installed version; tell support."),
            code="bad_signature") from None
