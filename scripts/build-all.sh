#!/usr/bin/env bash
# Builds every napi target this machine can build, release and stripped, into
# artifacts/bindings-<triple>/ (the layout `napi artifacts` reads, the same as
# the hosted workflow's downloaded artifacts). `npm run artifacts` then copies
# them into npm/<platform>/; it insists on every target in napi.targets, so
# with Windows it only succeeds in the workflow's publish job.
#
#   Linux x64/arm64 host: linux gnu x64 + arm64 with napi-rs's gcc cross
#     toolchain (glibc 2.17, from npm); linux musl x64 + arm64 with
#     cargo-zigbuild (zig and cargo-zigbuild from PyPI, in target/zig-venv).
#     macOS targets compile with zig too but the link needs Apple's SDK (Rust's
#     std links CoreFoundation): pass them explicitly with SDKROOT set.
#     Windows MSVC needs Microsoft's SDK: build it on Windows.
#   macOS host: both darwin targets natively.  Windows host: MSVC natively.
#
# --test-hooks: the test build instead (Cargo feature test-hooks: entry points only the tests
# call), into artifacts/test-hooks-<triple>/, for the workflow's test jobs; never published.
# It is generated in target/addon/test, so the root's index.js / index.d.ts stay the published API's.
#
# Usage: scripts/build-all.sh [--test-hooks] [rust-target-triple...]   (default: all of the above)
set -euo pipefail
cd "$(dirname "$0")/.."

kind=bindings
build=()
if [ "${1:-}" = "--test-hooks" ]; then
  shift
  kind=test-hooks
  build=(--features test-hooks --output-dir target/addon/test)
fi

host="$(node -p 'process.platform + "-" + process.arch')"
case "$host" in
  linux-x64|linux-arm64)
    default=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl
      aarch64-unknown-linux-musl) ;;
  darwin-*) default=(aarch64-apple-darwin x86_64-apple-darwin) ;;
  win32-x64) default=(x86_64-pc-windows-msvc) ;;
  win32-arm64) default=(aarch64-pc-windows-msvc) ;;
  *) echo "no build recipe for host $host" >&2; exit 1 ;;
esac
hostkey="$(node -p "[process.platform, process.arch, process.platform === 'linux'
  ? (process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl')
  : process.platform === 'win32' ? 'msvc' : ''].filter(Boolean).join('-')")"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${default[@]}")

# zig for cargo-zigbuild: use the one on PATH, else install both from PyPI once.
need_zig() {
  command -v cargo-zigbuild >/dev/null && { command -v zig >/dev/null || python3 -c 'import ziglang' 2>/dev/null; } && return
  if [ ! -x target/zig-venv/bin/cargo-zigbuild ]; then
    echo "== installing zig and cargo-zigbuild from PyPI into target/zig-venv"
    python3 -m venv target/zig-venv
    target/zig-venv/bin/pip install --quiet "ziglang==0.17.1" "cargo-zigbuild==0.24.1"
  fi
  export PATH="$PWD/target/zig-venv/bin:$PATH" # its python3 -m ziglang is cargo-zigbuild's zig
}

mkdir -p artifacts
summary=()
for triple in "${targets[@]}"; do
  flags=()
  case "$host:$triple" in
    linux-*:*-linux-gnu)
      node scripts/napi-cross-toolchain.js "$triple"
      # That toolchain's gcc 4.8.5 does not predefine __ARM_ARCH on aarch64, which the
      # assembly of ring (rustls' crypto) requires (briansmith/ring#1728).
      export CFLAGS_aarch64_unknown_linux_gnu="${CFLAGS_aarch64_unknown_linux_gnu:--D__ARM_ARCH=8}"
      flags=(--use-napi-cross) ;;
    linux-*:*-linux-musl | linux-*:*-apple-darwin)
      need_zig
      flags=(-x) ;;
  esac
  command -v rustup >/dev/null && rustup target add "$triple" >/dev/null
  echo "== $triple ${flags[*]:-(native)}"
  npx napi build --platform --release --target "$triple" "${flags[@]}" "${build[@]}"
  platform="$(node -p "require('@napi-rs/cli').parseTriple('$triple').platformArchABI")"
  file="medusa-inventory-rs.$platform.node"
  built="$file"
  [ "$kind" = bindings ] || built="target/addon/test/$file"
  mkdir -p "artifacts/$kind-$triple"
  # The host's own binary stays at the root too: tests and the loader use it.
  if [ "$platform" = "$hostkey" ]; then
    cp "$built" "artifacts/$kind-$triple/"
    [ "$built" = "$file" ] || cp "$built" "$file"
  else
    mv "$built" "artifacts/$kind-$triple/"
  fi
  out="artifacts/$kind-$triple/$file"
  floor=""
  if [[ "$triple" == *-linux-gnu ]]; then
    floor="$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    # npm users on glibc 2.17-era systems (CentOS 7, Amazon Linux 2) load this binary.
    if [ "$(printf '%s\nGLIBC_2.17\n' "$floor" | sort -V | tail -1)" != "GLIBC_2.17" ]; then
      echo "$out needs $floor, newer than GLIBC_2.17" >&2; exit 1
    fi
  fi
  summary+=("$(printf '%-28s %10s bytes  %s' "$triple" "$(wc -c <"$out")" "$floor")")
done

echo "== built into artifacts/"
printf '%s\n' "${summary[@]}"
