#!/bin/sh
# Build the phone page's tus client: install tus-js-client (pinned in tests/interop's
# package.json and lock file) from the npm registry and copy its dist build and licence into
# zhishiyun_server/bindings/phone/vendor/ (not in git). `./bootstrap.sh setup|test|bundle|demo`
# run this; without it the server does not serve the phone page and says to run it.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pin=4.3.1
src="$here/tests/interop/node_modules/tus-js-client"
dst="$here/zhishiyun_server/bindings/phone/vendor"
installed() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$src/package.json" 2>/dev/null | head -n 1; }
if [ "$(installed)" != "$pin" ]; then
  command -v npm >/dev/null || { echo "build_phone_client: npm is missing (install node and npm)" >&2; exit 1; }
  (cd "$here/tests/interop" && { npm ci --silent --no-audit --no-fund >/dev/null 2>&1 \
    || npm install --silent --no-audit --no-fund >/dev/null; })
fi
[ "$(installed)" = "$pin" ] || { echo "build_phone_client: npm gave tus-js-client $(installed), not $pin" >&2; exit 1; }
mkdir -p "$dst"
# Replace a file only when it differs, and atomically: a server may be serving the page.
put() {
  cmp -s "$1" "$2" && return 0
  cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}
put "$src/dist/tus.min.js" "$dst/tus.min.js"
put "$src/LICENSE" "$dst/tus-js-client.LICENSE"
echo "build_phone_client: tus-js-client $pin built into the phone page"
