#!/usr/bin/env bash
# Checks the darwin binaries `npm run build:all` made on Linux, as Mach-O files: nothing here can
# run one, so this is what can be known of them without a Mac. For each one:
#   - a Mach-O dynamic library for its architecture (arm64, x86_64);
#   - minimum macOS = MACOSX_DEPLOYMENT_TARGET of build-all.sh (LC_BUILD_VERSION), platform macos;
#   - Node's entry point `_napi_register_module_v1` exported;
#   - only libSystem and the other /usr/lib system libraries linked: no framework (the whoami
#     stub in crates/inventory-core/Cargo.toml keeps SystemConfiguration/CoreFoundation out);
#   - every `napi_*` function left to the host process (flat namespace, the dynamic lookup
#     napi-build asks the linker for), none bound to a library.
# Tools: llvm-objdump / llvm-readobj from Debian's llvm (installed when missing, as root).
#
# Usage: scripts/check-darwin.sh [file.node...]   (default: both in artifacts/bindings-*-apple-darwin/)
set -euo pipefail
cd "$(dirname "$0")/.."

MIN_MACOS="$(sed -n 's/^export MACOSX_DEPLOYMENT_TARGET=\([0-9.]*\).*/\1/p' scripts/build-all.sh)"
[ -n "$MIN_MACOS" ] || { echo "no MACOSX_DEPLOYMENT_TARGET in scripts/build-all.sh" >&2; exit 1; }

if ! command -v llvm-objdump >/dev/null || ! command -v llvm-readobj >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "llvm-objdump/llvm-readobj missing: apt-get install llvm" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends llvm >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends llvm >/dev/null; }
fi

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(artifacts/bindings-aarch64-apple-darwin/medusa-inventory-rs.darwin-arm64.node
  artifacts/bindings-x86_64-apple-darwin/medusa-inventory-rs.darwin-x64.node)

failed=0
for f in "${files[@]}"; do
  problems=()
  case "$f" in
    *darwin-arm64*) want_arch=aarch64 want_cpu=Arm64 ;;
    *darwin-x64*) want_arch=x86_64 want_cpu=X86-64 ;;
    *) echo "$f: not a darwin-arm64/darwin-x64 binary name" >&2; exit 1 ;;
  esac
  [ -f "$f" ] || { echo "FAIL $f: missing (run npm run build:all)"; failed=1; continue; }

  headers="$(llvm-readobj --file-headers "$f" 2>&1 || true)"
  grep -q '^Format: Mach-O' <<<"$headers" || { echo "FAIL $f: not a Mach-O file ($(grep -m1 -i 'format\|error' <<<"$headers"))"; failed=1; continue; }
  grep -q "^Arch: $want_arch\$" <<<"$headers" || problems+=("not $want_arch: $(grep -m1 '^Arch:' <<<"$headers")")
  grep -q "FileType: DynamicLibrary" <<<"$headers" || problems+=("not a dynamic library")
  grep -q "CpuType: $want_cpu " <<<"$headers" || problems+=("CPU type is not $want_cpu")

  private="$(llvm-objdump --macho --private-headers "$f")"
  build="$(grep -A4 'cmd LC_BUILD_VERSION' <<<"$private" || true)"
  platform="$(awk '$1 == "platform" { print $2 }' <<<"$build")"
  minos="$(awk '$1 == "minos" { print $2 }' <<<"$build")"
  [ "$platform" = macos ] || problems+=("LC_BUILD_VERSION platform '$platform', not macos")
  [ "$minos" = "$MIN_MACOS" ] || problems+=("minimum macOS '$minos', not $MIN_MACOS")

  dylibs="$(awk '/cmd LC_LOAD_DYLIB|cmd LC_LOAD_WEAK_DYLIB|cmd LC_REEXPORT_DYLIB/ { getline; getline; print $2 }' <<<"$private")"
  grep -qx /usr/lib/libSystem.B.dylib <<<"$dylibs" || problems+=("libSystem not linked")
  while read -r d; do
    [ -n "$d" ] || continue
    [[ "$d" == /usr/lib/*.dylib && "$d" != *.framework* ]] || problems+=("links $d")
  done <<<"$dylibs"

  llvm-objdump --macho --exports-trie "$f" | grep -q ' _napi_register_module_v1$' \
    || problems+=("_napi_register_module_v1 not exported")

  # Columns: segment section address type [addend] dylib symbol. napi_* must be flat-namespace.
  binds="$(llvm-objdump --macho --bind --lazy-bind --weak-bind "$f" | awk '$NF ~ /^_napi_/')"
  napi_total="$(grep -c . <<<"$binds" || true)"
  napi_bound="$(awk 'NF > 1 && $(NF-1) != "flat-namespace"' <<<"$binds")"
  [ "$napi_total" -gt 0 ] || problems+=("no napi_* symbol imported (not a Node-API addon?)")
  [ -z "$napi_bound" ] || problems+=("napi_* bound to a library, not left to the host: $(head -1 <<<"$napi_bound")")

  if [ ${#problems[@]} -eq 0 ]; then
    echo "ok   $f: Mach-O $want_arch dylib, macOS >= $minos, exports _napi_register_module_v1," \
      "links $(tr '\n' ' ' <<<"$dylibs")(no framework), $napi_total napi_* symbols left to the host"
  else
    failed=1
    for p in "${problems[@]}"; do echo "FAIL $f: $p"; done
  fi
done
exit $failed
