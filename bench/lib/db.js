'use strict'
// The Postgres the benchmark runs on: DATABASE_URL when set, otherwise an
// embedded PostgreSQL from npm in a temp dir (removed afterwards). Either way
// the run works in a database of its own, created here and dropped at the end.
const { Client } = require('pg')
const { freePort, startEmbeddedPostgres } = require('../../testing/embedded-postgres')

/** Starts an embedded Postgres; resolves to { url, stop(), embedded: true }. */
async function startEmbedded({ log = () => {} } = {}) {
  const pg = await startEmbeddedPostgres({ tag: 'medusa-inventory-bench', flags: ['-c', 'max_connections=200'], log })
  return { ...pg, embedded: true }
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
            current_setting('shared_buffers') AS shared_buffers, current_setting('max_connections') AS max_connections`,
  )
  return rows[0]
}

module.exports = { startEmbedded, freshDatabase, withDatabase, redact, query, serverInfo, freePort }
