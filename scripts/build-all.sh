#!/usr/bin/env bash
# Builds every napi target this machine can build, release and stripped, into
# artifacts/bindings-<triple>/ (the layout `napi artifacts` reads, the same as
# the hosted workflow's downloaded artifacts). `npm run artifacts` then copies
# them into npm/<platform>/: on a Linux x64 host, every target in napi.targets.
#
#   Linux x64/arm64 host:
#     linux gnu x64 + arm64 with napi-rs's gcc cross toolchain (glibc 2.17, from npm);
#     linux musl x64 + arm64 and darwin arm64 + x64 with cargo-zigbuild (zig and
#       cargo-zigbuild from PyPI, in target/zig-venv). No Apple SDK: the binaries link only
#       libSystem (whoami's stub, crates/inventory-core/Cargo.toml), whose stubs zig ships;
#       scripts/check-darwin.sh checks them;
#     win32 x64 as x86_64-pc-windows-gnu with Debian's mingw-w64 (installed when missing), napi's
#       dyn-symbols (Cargo.toml), published under Node's MSVC name win32-x64-msvc: Windows'
#       official Node is an MSVC build and its loader looks for that name. The DLL needs only
#       Windows' own DLLs; scripts/wine-test.sh runs it in Windows Node under Wine.
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
      aarch64-unknown-linux-musl aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-gnu) ;;
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

# The oldest macOS the darwin binaries load on (LC_BUILD_VERSION minos; without it the linker
# writes the newest). 11.0: the first with arm64, and what Node 22 requires.
export MACOSX_DEPLOYMENT_TARGET=11.0

# mingw-w64 for x86_64-pc-windows-gnu. napi-build insists on a libnode.dll to link against;
# with dyn-symbols nothing is imported from it, so an empty import library for node.exe stands in.
need_mingw() {
  if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "x86_64-w64-mingw32-gcc missing: apt-get install mingw-w64" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 >/dev/null; }
  fi
  local dir="$PWD/target/napi-win-gnu"
  if [ ! -f "$dir/libnode.dll.a" ]; then
    mkdir -p "$dir"
    printf 'LIBRARY node.exe\nEXPORTS\n' >"$dir/node.def"
    x86_64-w64-mingw32-dlltool -d "$dir/node.def" -l "$dir/libnode.dll.a"
    cp "$dir/libnode.dll.a" "$dir/libnode.dll"
  fi
  export LIBNODE_PATH="$dir"
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
    linux-*:x86_64-pc-windows-gnu)
      need_mingw ;;
  esac
  command -v rustup >/dev/null && rustup target add "$triple" >/dev/null
  echo "== $triple ${flags[*]:-(native)}"
  npx napi build --platform --release --target "$triple" "${flags[@]}" "${build[@]}"
  platform="$(node -p "require('@napi-rs/cli').parseTriple('$triple').platformArchABI")"
  file="medusa-inventory-rs.$platform.node"
  built="$file"
  [ "$kind" = bindings ] || built="target/addon/test/$file"
  dest="$triple"
  if [ "$triple" = x86_64-pc-windows-gnu ]; then
    # What Windows' (MSVC-built) Node looks for; `napi artifacts` puts it in npm/win32-x64-msvc.
    mv "$built" "${built/win32-x64-gnu/win32-x64-msvc}"
    built="${built/win32-x64-gnu/win32-x64-msvc}" file="${file/win32-x64-gnu/win32-x64-msvc}"
    platform=win32-x64-msvc dest=x86_64-pc-windows-msvc
  fi
  mkdir -p "artifacts/$kind-$dest"
  # The host's own binary stays at the root too: tests and the loader use it.
  if [ "$platform" = "$hostkey" ]; then
    cp "$built" "artifacts/$kind-$dest/"
    [ "$built" = "$file" ] || cp "$built" "$file"
  else
    mv "$built" "artifacts/$kind-$dest/"
  fi
  out="artifacts/$kind-$dest/$file"
  floor=""
  if [[ "$triple" == *-linux-gnu ]]; then
    floor="$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    # npm users on glibc 2.17-era systems (CentOS 7, Amazon Linux 2) load this binary.
    if [ "$(printf '%s\nGLIBC_2.17\n' "$floor" | sort -V | tail -1)" != "GLIBC_2.17" ]; then
      echo "$out needs $floor, newer than GLIBC_2.17" >&2; exit 1
    fi
  fi
  if [ "$triple" = x86_64-pc-windows-gnu ]; then
    # Only Windows' own DLLs: no mingw runtime (libgcc_s, libwinpthread) to ship beside it.
    floor="$(x86_64-w64-mingw32-objdump -p "$out" | sed -n 's/^\tDLL Name: //p' | sort -u | tr '\n' ' ')"
    if grep -qiE 'libgcc|libwinpthread|libstdc|node' <<<"$floor"; then
      echo "$out imports $floor: a DLL Windows does not have" >&2; exit 1
    fi
  fi
  summary+=("$(printf '%-28s %10s bytes  %s' "$triple" "$(wc -c <"$out")" "$floor")")
done

echo "== built into artifacts/"
printf '%s\n' "${summary[@]}"
