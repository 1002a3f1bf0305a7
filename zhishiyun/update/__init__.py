"""Auto-update: signed release check, resumable verified download, silent installer hand-off.

Nothing here imports Qt; the GUI calls :class:`Updater` off the UI thread and shows
:class:`UpdateOffer` to the candidate. No update starts while an exam is in progress.
"""

from zhishiyun.update.download import DownloadResult
from zhishiyun.update.release import (
    ReleaseManifest,
    UpdateError,
    UpdateKind,
    current_platform,
    load_public_key,
    signed_payload,
    verify_manifest,
)
from zhishiyun.update.updater import UpdateOffer, Updater, session_from_settings

__all__ = [
    "DownloadResult",
    "ReleaseManifest",
    "UpdateError",
    "UpdateKind",
    "UpdateOffer",
    "Updater",
    "current_platform",
    "load_public_key",
    "session_from_settings",
    "signed_payload",
    "verify_manifest",
]
