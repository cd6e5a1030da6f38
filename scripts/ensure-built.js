'use strict'
// Builds the native addon when it is missing or older than any Rust source,
// so `npm test` and `npm run demo` work straight from a fresh clone.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
const binary = path.join(root, `medusa-inventory-rs.${process.platform}-${process.arch}-gnu.node`)

function newest(p) {
  const st = fs.statSync(p)
  if (!st.isDirectory()) return st.mtimeMs
  return fs.readdirSync(p).reduce((m, f) => (f === 'target' ? m : Math.max(m, newest(path.join(p, f)))), 0)
}

const sources = ['src', 'crates', 'Cargo.toml', 'Cargo.lock', 'build.rs']
  .map((p) => path.join(root, p))
  .filter((p) => fs.existsSync(p))
const stale = !fs.existsSync(binary) || Math.max(...sources.map(newest)) > fs.statSync(binary).mtimeMs

if (stale || process.argv.includes('--force')) {
  console.log('[build] compiling the native addon (release)…')
  execFileSync('npx', ['napi', 'build', '--platform', '--release'], { cwd: root, stdio: 'inherit' })
} else {
  console.log('[build] native addon is up to date')
}
