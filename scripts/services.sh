# Sourced by bootstrap.sh: real devices and servers the tests and the demo use, started only
# where they are missing. Each function says what it could not do and carries on.

start_display() {
  if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then return; fi
  command -v Xvfb >/dev/null || { echo "services: no Xvfb; screen tests will skip"; return; }
  export DISPLAY=:${ZHISHIYUN_TEST_DISPLAY:-97}
  if ! xdpyinfo >/dev/null 2>&1; then
    Xvfb "$DISPLAY" -screen 0 1920x1080x24 -nolisten tcp >/dev/null 2>&1 &
    for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "services: X display $DISPLAY"
}

start_audio() {
  command -v pulseaudio >/dev/null || { echo "services: no pulseaudio; microphone tests will skip"; return; }
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/zhishiyun-xdg-$(id -u)}
  mkdir -p -m700 "$XDG_RUNTIME_DIR"
  if ! pactl info >/dev/null 2>&1; then
    pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit -n \
      --load=module-native-protocol-unix --load="module-null-sink sink_name=vsink" \
      --load="module-sine-source source_name=vmic frequency=440 rate=48000" >/dev/null 2>&1 || true
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
    pactl set-default-source vmic >/dev/null 2>&1 || true
  fi
  pactl info >/dev/null 2>&1 && echo "services: PulseAudio with virtual microphone 'vmic' (440 Hz)"
}

start_postgres() {
  [ -n "${ZHISHIYUN_TEST_PG_URL:-}" ] && return
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { echo "services: no PostgreSQL installed; PostgreSQL tests will skip"; return; }
  local dir=/tmp/zhishiyun-pg port=${ZHISHIYUN_TEST_PG_PORT:-55432} run=""
  [ "$(id -u)" = 0 ] && run="runuser -u postgres --"
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; [ -n "$run" ] && chown postgres "$dir"
    $run "$bin/initdb" -D "$dir" -U zsy --auth=trust >/dev/null || { echo "services: initdb failed"; return; }
  fi
  if ! $run "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    $run "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w \
      -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
      || { echo "services: PostgreSQL did not start (see $dir/log)"; return; }
  fi
  export ZHISHIYUN_TEST_PG_URL="postgresql+psycopg://zsy@127.0.0.1:$port/postgres"
  echo "services: PostgreSQL at $ZHISHIYUN_TEST_PG_URL"
}

install_node_peers() {
  command -v npm >/dev/null || { echo "services: no node/npm; tus interop tests will skip"; return; }
  [ -f tests/interop/package.json ] || return
  (cd tests/interop && { [ -d node_modules ] || npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null; }) \
    && echo "services: tus peers installed (tests/interop/node_modules)"
}
