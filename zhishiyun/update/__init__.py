"""Auto-update: signed release check, resumable verified download, silent installer hand-off.

Nothing here imports Qt; the GUI calls :class:`Updater` off the UI thread and shows
:class:`UpdateOffer` to the candidate. No update starts while an exam is in progress.
"""

from zhishiyun.update.download import DownloadResult
from zhishiyun.update.release import (
    ReleaseManifest,
    UpdateError,
    UpdateKind,
    check_fresh,
    current_platform,
    load_public_key,
    signed_payload,
    verify_manifest,
)
from zhishiyun.update.updater import UpdateOffer, Updater

__all__ = [
    "DownloadResult",
    "ReleaseManifest",
    "UpdateError",
    "UpdateKind",
    "UpdateOffer",
    "Updater",
    "check_fresh",
    "current_platform",
    "load_public_key",
    "signed_payload",
    "verify_manifest",
]
