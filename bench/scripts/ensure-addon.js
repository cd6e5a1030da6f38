'use strict'
// The benchmark measures the addon as built in the repository root. Build it
// when it is missing or older than the Rust sources (the root's own script),
// so a benchmark never runs a stale binary.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..', '..')
const script = path.join(root, 'scripts', 'ensure-built.js')
const binary = path.join(root, `medusa-inventory-rs.${process.platform}-${process.arch}-gnu.node`)

if (!fs.existsSync(script)) {
  if (!fs.existsSync(binary)) {
    console.error(
      `[bench] no addon at ${binary} and no build script: build the root first (npm install && npm run build there)`,
    )
    process.exit(1)
  }
} else if (!fs.existsSync(path.join(root, 'node_modules', '@napi-rs', 'cli')) && fs.existsSync(binary)) {
  console.log(
    '[bench] root dependencies not installed: using the addon as built (run npm install in the root to rebuild it)',
  )
} else {
  execFileSync(process.execPath, [script], { cwd: root, stdio: 'inherit' })
}
