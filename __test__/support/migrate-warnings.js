'use strict'
// Migrates in a process of its own and prints one JSON line: the version and the process
// warnings it emitted. Jest's sandbox has its own `process` object, whose 'warning'
// listeners never hear process.emitWarning, so the drift warning is observed here.
// Usage: node migrate-warnings.js <url> <schema> [standalone|medusa] [JSON of more connect options]
const [url, schema, mode = 'standalone', more = '{}'] = process.argv.slice(2)
const warnings = []
process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }))

async function main() {
  let version = null
  const logged = []
  if (mode === 'medusa') {
    const logger = { info: () => {}, warn: (m) => logged.push(m) }
    await require('../../medusa').runMigrations({ options: { database: { clientUrl: url, schema } }, logger })
  } else {
    const { InventoryService } = require('../..')
    const inventory = await InventoryService.connect({ url, schema, maxConnections: 1, ...JSON.parse(more) })
    try {
      version = await inventory.migrate()
    } finally {
      await inventory.close()
    }
  }
  // emitWarning emits on the next tick.
  await new Promise((res) => setImmediate(res))
  process.stdout.write(`${JSON.stringify({ version, warnings, logged })}\n`)
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`)
  process.exitCode = 1
})
