"""Known virtual cameras and audio devices, recognised by the names devices report.

A virtual camera can show a recorded video or another person instead of the candidate; a
virtual audio device can feed in a recording or route the computer's own sound. The list
matches the names these products give their devices on Windows, macOS and Linux; the
organisation's own list (``extra``) extends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: (product, kind, pattern) for each known virtual device; patterns are matched
#: case-insensitively on word boundaries against the device name.
KNOWN_VIRTUAL_DEVICES: tuple[tuple[str, str, str], ...] = (
    ("OBS Virtual Camera", "camera", r"obs[ -]?(virtual )?cam(era)?|obs virtual source"),
    ("ManyCam", "camera", r"manycam"),
    ("XSplit VCam", "camera", r"xsplit( vcam| broadcaster)?"),
    ("Snap Camera", "camera", r"snap camera"),
    ("DroidCam", "camera", r"droidcam"),
    ("e2eSoft VCam", "camera", r"e2esoft|vcam"),
    ("iVCam", "camera", r"ivcam"),
    ("CamTwist", "camera", r"camtwist"),
    ("SplitCam", "camera", r"splitcam"),
    ("CyberLink YouCam", "camera", r"youcam"),
    ("Iriun Webcam", "camera", r"iriun"),
    ("EpocCam", "camera", r"epoccam"),
    ("Reincubate Camo", "camera", r"reincubate|camo"),
    ("NDI Webcam", "camera", r"ndi (webcam|virtual)"),
    ("mmhmm", "camera", r"mmhmm"),
    ("Logitech Capture", "camera", r"logi(tech)? capture"),
    ("NVIDIA Broadcast", "camera", r"nvidia broadcast"),
    ("v4l2loopback", "camera", r"v4l2 ?loopback|dummy video device"),
    ("Virtual camera", "camera", r"virtual (web)?cam(era)?"),
    ("VB-Audio Virtual Cable", "audio", r"vb-?audio|vb-?cable|cable (in|out)put"),
    ("VoiceMeeter", "audio", r"voicemeeter"),
    ("BlackHole", "audio", r"blackhole"),
    ("Soundflower", "audio", r"soundflower"),
    ("Rogue Amoeba Loopback", "audio", r"loopback( audio)?"),
    ("Virtual Audio Cable", "audio", r"virtual audio cable"),
    ("Voicemod", "audio", r"voicemod"),
    ("Krisp", "audio", r"krisp"),
    ("ManyCam Virtual Microphone", "audio", r"manycam virtual mic(rophone)?"),
)


@dataclass(frozen=True)
class VirtualDeviceMatch:
    """A device whose name is a known virtual device's.

    Attributes:
        device: The device name as the system reported it.
        product: The product it belongs to (for the organisation's list: the entry itself).
        kind: "camera", "audio", or "any" for the organisation's entries.
    """

    device: str
    product: str
    kind: str


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])", re.IGNORECASE)


_KNOWN = tuple((product, kind, _compile(p)) for product, kind, p in KNOWN_VIRTUAL_DEVICES)


def match_virtual_devices(device_names: Iterable[str], extra: Iterable[str] = (),
                          kind: str | None = None) -> list[VirtualDeviceMatch]:
    """The devices among ``device_names`` that are known virtual devices.

    Args:
        device_names: Camera and/or audio device names as the system lists them.
        extra: The organisation's own names; each matches as a case-insensitive phrase.
        kind: Only check entries of this kind ("camera" or "audio"); the organisation's
            entries are checked for every kind.

    Returns:
        One match per matching device, in the order given; the first known entry wins.
    """
    entries = [(p, k, rx) for p, k, rx in _KNOWN if kind is None or k == kind]
    entries += [(name.strip(), "any", _compile(re.escape(name.strip())))
                for name in extra if name and name.strip()]
    matches = []
    for device in device_names:
        for product, entry_kind, pattern in entries:
            if pattern.search(device):
                matches.append(VirtualDeviceMatch(device, product, entry_kind))
                break
    return matches
