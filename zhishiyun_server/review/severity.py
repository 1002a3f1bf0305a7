"""How serious a proctoring event looks: ``info``, ``warning`` or ``critical``.

An event may name its own ``severity`` in its details; otherwise its kind decides.
"""

from __future__ import annotations

from typing import Any

SEVERITIES = ("info", "warning", "critical")
CRITICAL = frozenset({"identity_mismatch", "face_mismatch", "multiple_faces", "display_added",
                      "second_person", "stand_in", "stand_in_used", "prohibited_process",
                      "prohibited_program", "virtual_machine", "remote_session",
                      "identity_failed"})
CRITICAL_PREFIXES = ("prohibited", "stand_in", "remote_", "vm_")
WARNING = frozenset({"focus_lost", "minimised", "left_to_home", "network_lost", "device_lost",
                     "face_absent", "devices_changed", "display_removed", "disk_low",
                     "disk_full", "segment_unreadable", "track_failed", "phone_lost",
                     "camera_lost", "microphone_lost", "microphone_silent"})
WARNING_PREFIXES = ("camera_", "microphone_", "disk_")
#: Ends of something: never worse than info.
CALM_SUFFIXES = ("_back", "_returned", "_ended", "_restored")


def severity(kind: str, details: dict[str, Any] | None = None) -> str:
    """The severity of an event of ``kind`` with ``details``."""
    named = (details or {}).get("severity") if isinstance(details, dict) else None
    named = "critical" if named == "severe" else named  # the integrity part's word
    if named in SEVERITIES:
        return named
    if kind.endswith(CALM_SUFFIXES):
        return "info"
    if kind in CRITICAL or kind.startswith(CRITICAL_PREFIXES):
        return "critical"
    if kind in WARNING or kind.startswith(WARNING_PREFIXES):
        return "warning"
    return "info"


def flagging_kinds(kinds: set[str]) -> set[str]:
    """The kinds among ``kinds`` that flag a session (critical ones)."""
    return {kind for kind in kinds if severity(kind) == "critical"}
