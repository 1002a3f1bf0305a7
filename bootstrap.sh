#!/usr/bin/env bash
# Sets up everything Zhishiyun needs on a Debian/Ubuntu machine, then runs one thing:
#   ./bootstrap.sh demo    reference server with demo data + the GUI (headless path without a display)
#   ./bootstrap.sh test    the full test suite (import contract, lint, pytest)
#   ./bootstrap.sh bundle  the PyInstaller bundle + its smoke test + the NSIS script compile (CI)
#   ./bootstrap.sh setup   only install
# As root on Debian/Ubuntu it installs the apt packages it needs; otherwise it lists what is
# missing and goes on (tests that need a missing piece skip and say why).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
VENV=${ZHISHIYUN_VENV:-$ROOT/.venv}
ACTION=${1:-setup}; shift || true

APT_PACKAGES=(
  python3-venv python3-pip ca-certificates
  xvfb xauth x11-utils xdotool libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0
  libxkbcommon-x11-0 libxcb-image0 libxcb-render-util0 libxcb-randr0 libxcb-shape0 libegl1 libgl1
  libdbus-1-3 fonts-wqy-microhei
  libportaudio2 libpulse0 pulseaudio pulseaudio-utils ffmpeg
  gnome-keyring libsecret-tools dbus-x11
  postgresql nsis chromium chromium-driver shellcheck
  tinyproxy
  openbox imagemagick  # the 1366×768 walkthrough: a window manager and `import -window root`
)
# node may come from elsewhere (e.g. NodeSource, which bundles npm): only ask apt when absent.
command -v node >/dev/null || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null || APT_PACKAGES+=(npm)

install_apt() {
  command -v dpkg-query >/dev/null || { echo "bootstrap: not a Debian/Ubuntu machine; install the packages in README by hand"; return; }
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing apt packages (run as root to install): ${missing[*]}"
  fi
}

install_python() {
  local py=${PYTHON:-python3}
  if [ ! -x "$VENV/bin/python" ]; then
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
  fi
  "$VENV/bin/pip" install -q -e ".[server,dev]"
  "$VENV/bin/python" -m zhishiyun.i18n >/dev/null
}

# The phone page's tus-js-client, built from npm (not in git); tests that need it fail under CI.
build_phone_client() {
  sh scripts/build_phone_client.sh || echo "bootstrap: the phone page is not built; the server will not serve /phone/"
}

case "$ACTION" in
  setup) install_apt; install_python; build_phone_client; echo "bootstrap: ready ($VENV)";;
  bundle) install_apt; install_python; build_phone_client
          "$VENV/bin/pip" install -q -e ".[build]"
          exec "$VENV/bin/python" installer/build.py --ci "$@";;
  demo)  install_apt; install_python; build_phone_client
         # shellcheck source=scripts/services.sh
         source scripts/services.sh; start_audio
         if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ]; then
           # No desktop: the headless demo on a virtual display, so the screen is recorded too
           start_display; set -- --headless "$@"
         fi
         exec "$VENV/bin/zhishiyun" demo "$@";;
  test)  install_apt; install_python
         # shellcheck source=scripts/services.sh
         source scripts/services.sh; start_display; start_audio; start_postgres; install_node_peers
         build_phone_client
         "$VENV/bin/lint-imports"
         "$VENV/bin/ruff" check zhishiyun zhishiyun_server tests benchmarks
         # Three workers by default, on 2 cores too: most of the suite waits on real time
         # (recordings, outages, browsers); two workers kept 0.7 of the 2 cores busy. Each
         # worker gets its own virtual screen (tests/conftest.py). -n 0 runs in one process.
         # The slowest tests are listed, so the run's time can be kept in view.
         exec "$VENV/bin/python" -m pytest -n "${ZHISHIYUN_TEST_WORKERS:-3}" --dist loadfile \
           --durations=25 "$@";;
  *) echo "usage: ./bootstrap.sh [setup|demo|test|bundle] [args…]" >&2; exit 2;;
esac
