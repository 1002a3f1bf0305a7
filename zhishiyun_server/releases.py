"""Client releases: Ed25519 keys, the signed manifest, publishing.

The signed manifest carries ``issued_at`` and ``expires_at`` (UTC, ISO 8601), so an old
manifest cannot be replayed to hold clients back: clients refuse an expired one, and one
issued before the newest they have already accepted. Publish again (same file) before
``expires_at`` to keep a release offered.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from zhishiyun_server import clock
from zhishiyun_server.models import Release

PLATFORMS = ("windows", "macos", "linux")
#: How long a signed manifest is valid unless the publisher says otherwise.
DEFAULT_VALID_DAYS = 30


class ReleaseError(Exception):
    """The release cannot be published (bad key, unreadable file, bad version)."""


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, mode 600); return the raw public key, base64."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(pem)
    return public_key_b64(key)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, unencrypted)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ReleaseError(f"{path}: {exc.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ReleaseError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReleaseError(f"{path}: not an Ed25519 key")
    return key


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def manifest_text(platform: str, version: str, minimum: str, url: str, size: int,
                  sha256: str, *, issued_at: datetime, expires_at: datetime) -> str:
    """The canonical JSON text that gets signed (sorted keys, no spaces)."""
    return json.dumps({"platform": platform, "version": version, "minimum_version": minimum,
                       "url": url, "size": size, "sha256": sha256,
                       "issued_at": _iso(issued_at), "expires_at": _iso(expires_at)},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(key: Ed25519PrivateKey, manifest: str) -> str:
    """Base64 Ed25519 signature of the UTF-8 manifest."""
    return base64.b64encode(key.sign(manifest.encode("utf-8"))).decode("ascii")


def publish(db: Session, *, platform: str, version: str, minimum: str, url: str, file: Path,
            key: Path, notes: str = "", valid_days: float = DEFAULT_VALID_DAYS) -> Release:
    """Hash ``file``, sign the manifest with ``key`` and store the release (caller commits).

    The manifest is valid for ``valid_days`` from now.
    """
    if platform not in PLATFORMS:
        raise ReleaseError(f"platform must be one of {', '.join(PLATFORMS)}")
    if not 0 < valid_days <= 366:
        raise ReleaseError("the validity must be between 0 and 366 days")
    if not url.startswith(("https://", "http://")):
        raise ReleaseError("--url must be an http(s) URL")
    private = load_key(key)
    digest, size = hashlib.sha256(), 0
    try:
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ReleaseError(f"{file}: {exc.strerror}") from None
    issued = clock.now()
    manifest = manifest_text(platform, version, minimum, url, size, digest.hexdigest(),
                             issued_at=issued, expires_at=issued + timedelta(days=valid_days))
    row = Release(platform=platform, version=version, minimum_version=minimum, url=url,
                  size=size, sha256=digest.hexdigest(), notes=notes, manifest=manifest,
                  signature=sign(private, manifest), published_at=issued)
    db.add(row)
    db.flush()
    return row
