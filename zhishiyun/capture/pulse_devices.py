"""The microphones PulseAudio (or PipeWire's pulse server) offers, listed through libpulse.

Where :mod:`~zhishiyun.capture.pulse_input` reads the microphone, the pickers and the
microphone check list the same server's sources, so every name a candidate picks is one
the recorder opens. Listing goes through ``pulsectl`` (ctypes bindings of libpulse's
introspection API; ``pasimple`` only records).

A source's ``name`` (``alsa_input.usb-…``, ``vmic``) is its stable id and what is saved;
its ``description`` is what a person reads. No sample rate is listed: pulsectl's entries
keep their sample spec in memory libpulse reuses, and the server converts to the rate the
recorder asks for anyway. Monitor sources (what an output plays) are
left out even when nothing else exists: they record the computer's own sound, not the
candidate, so "no microphone" is the true answer then.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

#: The server name says so when PipeWire answers PulseAudio's protocol.
PIPEWIRE_MARK = "PipeWire"
#: A PortAudio (ALSA host API) name's hardware address: ``"HDA Intel PCH: ALC892 (hw:0,0)"``.
PORTAUDIO_HW = re.compile(r"\(hw:(\d+),(\d+)\)\s*$")


class PulseListError(Exception):
    """The sound server cannot be reached or listed (or libpulse cannot be loaded)."""


@dataclass(frozen=True)
class PulseSource:
    """One capture source of the sound server."""

    index: int
    name: str
    description: str
    channels: int
    server: str
    #: The name PortAudio gives the same ALSA device (older versions saved that), or "".
    portaudio_name: str = ""


def list_sources() -> tuple[list[PulseSource], str]:
    """The server's capture sources (no monitors) and the default one's name.

    The default is ``PULSE_SOURCE`` when set (libpulse opens that for "the default"),
    else the server's default source.

    Raises:
        PulseListError: libpulse or ``pulsectl`` cannot be loaded, or no server answers.
    """
    try:
        import pulsectl
    except (ImportError, OSError) as exc:  # pulsectl loads libpulse.so.0 on import
        raise PulseListError(f"pulsectl unavailable: {exc}") from None
    pulse = pulsectl.Pulse("Zhishiyun devices", connect=False)
    try:
        pulse.connect(autospawn=False)  # fails at once without a server
        info = pulse.server_info()
        server = "PipeWire" if PIPEWIRE_MARK in str(info.server_name or "") else "PulseAudio"
        # read while connected: the entries' sample specs point into libpulse's memory
        sources = [_source(entry, server) for entry in pulse.source_list()
                   if not _is_monitor(entry)]
        default = os.environ.get("PULSE_SOURCE") or str(info.default_source_name or "")
    except pulsectl.PulseError as exc:
        raise PulseListError(str(exc)) from None
    finally:
        pulse.close()
    return sources, default


def _is_monitor(entry) -> bool:
    from pulsectl._pulsectl import PA_INVALID

    props = entry.proplist or {}
    return entry.monitor_of_sink not in (None, PA_INVALID) or props.get(
        "device.class") == "monitor"


def _source(entry, server: str) -> PulseSource:
    props = entry.proplist or {}
    portaudio_name = ""
    card, device = props.get("alsa.card"), props.get("alsa.device")
    if card is not None and device is not None and str(card).isdigit():
        portaudio_name = (f"{props.get('alsa.card_name', '')}: {props.get('alsa.name', '')} "
                          f"(hw:{card},{device})")
    return PulseSource(index=int(entry.index), name=str(entry.name),
                       description=str(entry.description or entry.name),
                       channels=int(entry.channel_count or 1), server=server,
                       portaudio_name=portaudio_name)


def source_for_portaudio_name(value: str, sources: list[PulseSource]) -> PulseSource | None:
    """The source an older version's PortAudio name stands for, or None.

    PortAudio names an ALSA device ``"<card>: <device> (hw:C,D)"``; PulseAudio records the
    same card and device in the source's ``alsa.*`` properties. The whole name is matched
    first, then the card and device names (card numbers can change when USB devices come
    and go), then the numbers alone.
    """
    hardware = PORTAUDIO_HW.search(value)
    if hardware is None:
        return None
    alsa_sources = [s for s in sources if s.portaudio_name]
    for source in alsa_sources:
        if source.portaudio_name == value:
            return source
    names = value[:hardware.start()].strip()
    for source in alsa_sources:
        if source.portaudio_name[:PORTAUDIO_HW.search(source.portaudio_name).start()].strip() \
                == names:
            return source
    address = f"(hw:{hardware.group(1)},{hardware.group(2)})"
    return next((s for s in alsa_sources if s.portaudio_name.endswith(address)), None)
