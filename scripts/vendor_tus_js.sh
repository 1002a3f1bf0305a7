#!/bin/sh
# Copy the tus project's browser client from the interop tests' npm install into the phone
# page (zhishiyun_server/bindings/phone/vendor/), with its licence. Run after `npm ci` in
# tests/interop when tus-js-client is updated there; tests/second_camera/test_phone_vendor.py
# fails while the copies differ.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
src="$here/tests/interop/node_modules/tus-js-client"
dst="$here/zhishiyun_server/bindings/phone/vendor"
[ -f "$src/dist/tus.min.js" ] || { echo "run npm ci in tests/interop first" >&2; exit 1; }
mkdir -p "$dst"
cp "$src/dist/tus.min.js" "$dst/tus.min.js"
cp "$src/LICENSE" "$dst/tus-js-client.LICENSE"
echo "tus-js-client $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$src/package.json") copied"
