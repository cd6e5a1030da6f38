'use strict'
// Builds the native addon when it is missing or older than any Rust source,
// so `npm test` and `npm run demo` work straight from a fresh clone.
//
// Default: a native `napi build` with the machine's own C toolchain. With
// `--glibc217` (what CI uses) a Linux glibc host builds with napi-rs's gcc
// cross toolchain against glibc 2.17 instead: the binary npm users get.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
const { platform, arch } = process
let abi = ''
if (platform === 'linux') abi = process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'
else if (platform === 'win32') abi = 'msvc'
const key = [platform, arch, abi].filter(Boolean).join('-')
const binary = path.join(root, `medusa-inventory-rs.${key}.node`)

function newest(p) {
  const st = fs.statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  return fs.readdirSync(p).reduce((m, f) => (f === 'target' ? m : Math.max(m, newest(path.join(p, f)))), 0)
}

const sources = ['src', 'crates', 'Cargo.toml', 'Cargo.lock', 'build.rs']
  .map((p) => path.join(root, p))
  .filter((p) => fs.existsSync(p))
const stale = !fs.existsSync(binary) || Math.max(...sources.map(newest)) > fs.statSync(binary).mtimeMs

const args = ['napi', 'build', '--platform', '--release']
if (process.argv.includes('--glibc217')) {
  const triple = { 'linux-x64-gnu': 'x86_64-unknown-linux-gnu', 'linux-arm64-gnu': 'aarch64-unknown-linux-gnu' }[key]
  if (!triple) throw new Error(`--glibc217 needs a Linux x64 or arm64 glibc host, not ${key}`)
  require('./napi-cross-toolchain.js').ensure(triple)
  // Its gcc 4.8.5 does not predefine __ARM_ARCH on aarch64; ring's assembly needs it (briansmith/ring#1728).
  process.env.CFLAGS_aarch64_unknown_linux_gnu ??= '-D__ARM_ARCH=8'
  args.push('--target', triple, '--use-napi-cross')
}

if (stale || process.argv.includes('--force')) {
  console.log(`[build] compiling the native addon (release): ${args.slice(1).join(' ')}`)
  const npx = platform === 'win32' ? 'npx.cmd' : 'npx'
  execFileSync(npx, args, { cwd: root, stdio: 'inherit', shell: platform === 'win32' })
} else {
  console.log(`[build] native addon is up to date (${path.basename(binary)})`)
}
