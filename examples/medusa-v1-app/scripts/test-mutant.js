'use strict'
// Proves the fault tests can fail: runs them against test/mutants/own-pool.js (our v1 entry
// made to ignore Medusa's transaction) and exits 0 only if both of them fail there.
// V1_MODULE, when set, is the entry the mutant wraps (else the installed medusa-inventory-rs).
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const app = path.resolve(__dirname, '..')
const env = { ...process.env, V1_MODULE: path.join(app, 'test', 'mutants', 'own-pool.js') }
delete env.INVENTORY_MODULE
if (process.env.V1_MODULE) env.V1_MUTANT_BASE = process.env.V1_MODULE
const run = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=tap', '--test-name-pattern=module in use|fault after', path.join('test', 'e2e.test.js')],
  { cwd: app, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
)
const lines = run.stdout.split('\n')
const verdict = (name) => {
  const line = lines.find((l) => /^\s*(not )?ok \d+ - /.test(l) && l.includes(name))
  return line ? (line.trim().startsWith('not ok') ? 'failed' : 'passed') : 'not run'
}
const results = {
  setup: verdict('the module in use is the one asked for'),
  fulfilment: verdict('fault after the inventory write in fulfilment'),
  cartCompletion: verdict('fault after the reservations in cart completion'),
}
console.log(`[mutant] own-pool entry: ${JSON.stringify(results)}`)
if (run.status === null || results.setup !== 'passed') console.log(run.stdout.split('\n').slice(-60).join('\n'))
// Failing for the right reason: the setup passed, and both failed on the unchanged-state check.
const unchanged = run.stdout.split('levels, reservations and ledger unchanged').length - 1
if (
  results.setup === 'passed' &&
  results.fulfilment === 'failed' &&
  results.cartCompletion === 'failed' &&
  unchanged >= 2
) {
  console.log('[mutant] both fault tests catch it')
  process.exit(0)
}
console.error("[mutant] a fault test did not catch an entry that ignores Medusa's transaction")
process.exit(1)
