'use strict'
// Builds the native addon the tests load when it is missing, older than any Rust
// source, or not a test build, so `npm test` and `npm run demo` work straight
// from a fresh clone.
//
// The test build has the `test-hooks` Cargo feature: entry points only tests call
// (a forced panic, the statement-cache gauge). Published binaries lack them:
// scripts/pack.js and scripts/build-all.sh build without it. The loader and types
// at the root (index.js, index.d.ts) are the published API's, so this build is made
// in target/addon/test and only its binary is copied to the root.
//
// Default: a native `napi build` with the machine's own C toolchain. With
// `--glibc217` (what CI uses) a Linux glibc host builds with napi-rs's gcc
// cross toolchain against glibc 2.17 instead: the toolchain of the binary npm
// users get, so the published build (pack.js --glibc217) reuses its dependencies.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
const { platform, arch } = process
let abi = ''
if (platform === 'linux') abi = process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'
else if (platform === 'win32') abi = 'msvc'
const key = [platform, arch, abi].filter(Boolean).join('-')
const binaryName = `medusa-inventory-rs.${key}.node`
const binary = path.join(root, binaryName)

function newest(p) {
  const st = fs.statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  return fs.readdirSync(p).reduce((m, f) => (f === 'target' ? m : Math.max(m, newest(path.join(p, f)))), 0)
}

/** True when `file` is missing or older than any Rust source. */
function outdated(file) {
  if (!fs.existsSync(file)) return true
  const sources = ['src', 'crates', 'Cargo.toml', 'Cargo.lock', 'build.rs']
    .map((p) => path.join(root, p))
    .filter((p) => fs.existsSync(p))
  return Math.max(...sources.map(newest)) > fs.statSync(file).mtimeMs
}

/** Whether the binary at `file` loads and has the test hooks (in a child: a .node stays loaded). */
function hasTestHooks(file) {
  const probe = `process.exit(typeof require(${JSON.stringify(file)}).debugPanic === 'function' ? 0 : 1)`
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status === 0
}

/** `napi build --release` into `outDir`; returns the built binary's path. */
function napiBuild({ outDir, features = [], glibc217 = false }) {
  const args = ['napi', 'build', '--platform', '--release', '--output-dir', outDir]
  if (features.length > 0) args.push('--features', features.join(','))
  if (glibc217) {
    const triple = { 'linux-x64-gnu': 'x86_64-unknown-linux-gnu', 'linux-arm64-gnu': 'aarch64-unknown-linux-gnu' }[key]
    if (!triple) throw new Error(`--glibc217 needs a Linux x64 or arm64 glibc host, not ${key}`)
    require('./napi-cross-toolchain.js').ensure(triple)
    // Its gcc 4.8.5 does not predefine __ARM_ARCH on aarch64; ring's assembly needs it (briansmith/ring#1728).
    process.env.CFLAGS_aarch64_unknown_linux_gnu ??= '-D__ARM_ARCH=8'
    args.push('--target', triple, '--use-napi-cross')
  }
  fs.mkdirSync(outDir, { recursive: true })
  console.log(`[build] compiling the native addon (release): ${args.slice(1).join(' ')}`)
  const npx = platform === 'win32' ? 'npx.cmd' : 'npx'
  execFileSync(npx, args, { cwd: root, stdio: 'inherit', shell: platform === 'win32' })
  return path.join(outDir, binaryName)
}

module.exports = { root, binaryName, outdated, napiBuild }

if (require.main === module) {
  const argv = process.argv.slice(2)
  if (outdated(binary) || !hasTestHooks(binary) || argv.includes('--force')) {
    const built = napiBuild({
      outDir: path.join(root, 'target', 'addon', 'test'),
      features: ['test-hooks'],
      glibc217: argv.includes('--glibc217'),
    })
    // A new file renamed over the old one: a process that has the old one loaded keeps
    // its mapping (copying over it in place rewrites mapped pages and crashes it).
    const fresh = `${binary}.${process.pid}.tmp.node`
    fs.copyFileSync(built, fresh)
    fs.renameSync(fresh, binary)
    if (!hasTestHooks(binary)) throw new Error(`${binaryName} was built with test-hooks but has no debugPanic`)
  } else {
    console.log(`[build] native addon is up to date (${binaryName}, test build)`)
  }
}
