"""Real PulseAudio for the microphone-list tests: the test services' server and private ones.

:func:`services_server` checks scripts/services.sh's server with its 'vmic' source (440 Hz,
the default source); :func:`private_server` starts a server of the test's own, made this
process's through ``PULSE_SERVER``, with the sources a laptop has: a desk microphone
(660 Hz), an ALSA card's input as PulseAudio names one (its ``alsa.*`` properties, what an
older version's PortAudio name maps by; a remap of the desk microphone, so it sounds) and
the speakers' monitor. A missing server skips locally and fails in CI (``require``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from zhishiyun.capture import pulse_input

#: For a test module of these sources: ``pytestmark = LINUX_ONLY``.
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="not on this OS: PulseAudio is read natively on Linux")

SERVICES_SOURCE = "vmic"
SERVICES_DESCRIPTION = "Sine source at 440 Hz"
DESK_MIC = "desk_mic"
DESK_DESCRIPTION = "Sine source at 660 Hz"
#: The ALSA input of "card 0, device 0" as PulseAudio names it on a laptop.
CARD_SOURCE = "alsa_input.pci-0000_00_1f.3.analog-stereo"
CARD_DESCRIPTION = "Built-in Audio Analog Stereo"
#: What PortAudio (ALSA host API) called that device: older versions saved this name.
CARD_PORTAUDIO_NAME = "HDA Intel PCH: ALC892 Analog (hw:0,0)"
SPEAKERS = "speakers"


def _pactl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=20)


def services_server() -> None:
    """Require the test services' PulseAudio with its 'vmic' source, as the recorder reads it."""
    if not pulse_input.available():
        require("pulseaudio", "libpulse-simple or pasimple cannot be loaded")
    if shutil.which("pactl") is None or _pactl("info").returncode != 0:
        require("pulseaudio", "no PulseAudio server (run scripts/services.sh start_audio)")
    if SERVICES_SOURCE not in _pactl("list", "short", "sources").stdout.split():
        require("pulseaudio", "no 'vmic' source (run scripts/services.sh start_audio)")


def default_source() -> str:
    """The server's default source, as ``pactl`` reports it."""
    return _pactl("get-default-source").stdout.strip()


def private_server_environment(folder: Path) -> dict[str, str]:
    """The environment a private PulseAudio server in *folder* starts in, off every session bus.

    A server on a session bus claims the name org.PulseAudio1 there and exits when another
    server (the services' one, or its own killed predecessor) holds it. Unsetting
    ``DBUS_SESSION_BUS_ADDRESS`` is not enough: libdbus then finds a bus through the X
    display (dbus-launch's autolaunch). An address where no bus listens is: the server warns
    that it cannot contact D-Bus and goes on.
    """
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder), "HOME": str(folder)}
    env.pop("PULSE_SERVER", None)
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={folder / 'no-session-bus'}"
    return env


@contextlib.contextmanager
def private_server(folder: Path, monkeypatch) -> Iterator[None]:
    """A PulseAudio server of this test's own with the laptop's sources (see the module)."""
    if not pulse_input.available() or shutil.which("pulseaudio") is None:
        require("pulseaudio", "no pulseaudio binary or libpulse to start a private server")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket = folder / "native"
    card_properties = (f'device.description="{CARD_DESCRIPTION}" alsa.card=0 alsa.device=0 '
                       'alsa.card_name="HDA Intel PCH" alsa.name="ALC892 Analog"')
    command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
               "--use-pid-file=no", "--disallow-exit", "--log-target=stderr",
               f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
               f"--load=module-sine-source source_name={DESK_MIC} frequency=660 rate=48000",
               f"--load=module-null-sink sink_name={SPEAKERS}",
               f"--load=module-remap-source master={DESK_MIC} source_name={CARD_SOURCE} "
               f"channels=1 source_properties='{card_properties}'"]
    env = private_server_environment(folder)
    monkeypatch.setenv("PULSE_SERVER", f"unix:{socket}")
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    log_path = folder.parent / f"{folder.name}.log"
    with open(log_path, "wb") as log_out:
        server = subprocess.Popen(command, env=env, stdout=log_out, stderr=log_out)
    try:
        deadline = time.monotonic() + 20  # a loaded CI machine starts it slowly
        while _pactl("info").returncode != 0:
            if time.monotonic() > deadline or server.poll() is not None:
                said = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                require("pulseaudio", "a private PulseAudio server does not start "
                                      f"(exit {server.poll()}): {' | '.join(said)}")
            time.sleep(0.1)
        _pactl("set-default-source", DESK_MIC)
        yield
    finally:
        server.kill()
        server.wait()
