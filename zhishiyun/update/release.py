"""The release manifest from ``GET /client/release``: parsing, signature, what it means.

The server signs each release with an Ed25519 private key; the client ships the matching
public key in ``resources/update_ed25519.pub`` and trusts nothing it cannot verify with it.
The signed bytes are :func:`signed_payload` — canonical JSON of the fields that decide what
gets installed (platform, version, minimum version, URL, size, SHA-256).
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
SIGNED_FIELDS = ("platform", "version", "minimum_version", "url", "size", "sha256")
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
            version=text), code="bad_reply") from None


class UpdateKind(enum.Enum):
    """What a release means for the running client."""

    NONE = "none"            #: up to date
    OPTIONAL = "optional"    #: newer version available; the candidate may decline
    MANDATORY = "mandatory"  #: running version is below the minimum; must update to go on


@dataclass(frozen=True)
class ReleaseManifest:
    """One published release for one platform, with the server's signature."""

    platform: str
    version: str
    minimum_version: str
    url: str
    size: int
    sha256: str
    signature: str
    notes: str = ""

    @classmethod
    def from_reply(cls, reply: Any) -> ReleaseManifest:
        """Validate a ``GET /client/release`` reply (or the ``release`` object inside it).

        Raises:
            UpdateError: code ``bad_reply`` when fields are missing or of the wrong type.
        """
        if isinstance(reply, Mapping) and isinstance(reply.get("release"), Mapping):
            reply = reply["release"]
        if not isinstance(reply, Mapping):
            raise _bad_reply("not a JSON object")
        try:
            data = {
                "platform": _text(reply, "platform"),
                "version": _text(reply, "version", "latest_version"),
                "minimum_version": _text(reply, "minimum_version"),
                "url": _text(reply, "url"),
                "size": reply["size"],
                "sha256": _text(reply, "sha256").lower(),
                "signature": _text(reply, "signature"),
                "notes": reply.get("notes") or "",
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
        return cls(**data)

    def signed_fields(self) -> dict[str, Any]:
        """The fields covered by the signature."""
        return {name: getattr(self, name) for name in SIGNED_FIELDS}

    def kind_for(self, current_version: str) -> UpdateKind:
        """NONE, OPTIONAL or MANDATORY for a client running ``current_version``."""
        current = parse_version(current_version)
        if current < parse_version(self.minimum_version):
            return UpdateKind.MANDATORY
        if current < parse_version(self.version):
            return UpdateKind.OPTIONAL
        return UpdateKind.NONE


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


def signed_payload(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes the Ed25519 signature covers.

    UTF-8 of ``json.dumps`` over :data:`SIGNED_FIELDS` only, keys sorted, separators
    ``(",", ":")``, ``ensure_ascii=False``; ``size`` is an integer, ``sha256`` lower-case hex.
    """
    body = {name: fields[name] for name in SIGNED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


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
        public_key.verify(signature, signed_payload(manifest.signed_fields()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise UpdateError(
            _("The update {version} is not signed by your organisation's key and was refused.")
            .format(version=manifest.version),
            hint=_("Zhishiyun keeps running the installed version; tell support."),
            code="bad_signature") from None
