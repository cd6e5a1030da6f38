'use strict'
// `npm test`: the Rust core's tests, then the Jest suite through the package
// entry, both against the Postgres in DATABASE_URL (set by with-db.mjs).
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
function step(name, cmd, args) {
  console.log(`\n[test] ${name}: ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env })
  if (r.status !== 0) {
    console.error(`[test] ${name} failed`)
    process.exit(r.status ?? 1)
  }
}

step('rust', 'cargo', ['test', '--workspace', '--release'])
step('jest', 'npx', ['jest', '--ci'])
