'use strict'
// A multi-host URL whose first host accepts TCP and then never answers (a frozen server, a
// half-dead proxy): each host's whole attempt (TCP, TLS, startup, authentication, the
// target_session_attrs check) is bounded by connect_timeout, then the next host, the server of
// DATABASE_URL, is tried. The bounds asserted are generous liveness limits (the bound plus
// several seconds), never measured times. No pg_auto_failover needed: part of `npm test`.
const net = require('node:net')
const { Client } = require('pg')
const { InventoryService } = require('..')
const { DATABASE_URL, uniqueSchema } = require('./helpers')

jest.setTimeout(60000)

// What the URL's connect_timeout sets, and the default when it sets none (documented in README).
const BOUND_S = 2
const DEFAULT_BOUND_S = 10
// Slack for a loaded 2-core machine: a pool stuck on the frozen host would wait far longer
// (until the pool gives up, then fail).
const SLACK_MS = 8000

/**
 * A TCP server on 127.0.0.1 that accepts every connection and never answers it. With
 * `answerSsl` it answers the SSLRequest with 'S' (TLS on) and then stalls the handshake.
 */
async function frozenServer({ answerSsl = false } = {}) {
  const sockets = new Set()
  let accepted = 0
  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    if (answerSsl) socket.once('data', () => socket.write('S'))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    accepted: () => accepted,
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

/** DATABASE_URL with the frozen server as its first host; `params` replace its query's. */
function multiHostUrl(frozenPort, params = {}) {
  const u = new URL(DATABASE_URL)
  const auth = u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''
  const query = new URLSearchParams(u.search)
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) query.delete(k)
    else query.set(k, v)
  }
  const q = query.toString()
  return `postgres://${auth}127.0.0.1:${frozenPort},${u.hostname}:${u.port || 5432}${u.pathname}${q ? `?${q}` : ''}`
}

let frozen
afterEach(async () => {
  if (frozen) await frozen.close()
  frozen = null
})

/** Connects through `url`, migrates a fresh schema and lists it: resolves to the ms it took. */
async function connectMigrateList(url) {
  const schema = uniqueSchema('frozen')
  const started = Date.now()
  const inventory = await InventoryService.connect({ url, schema, maxConnections: 1 })
  try {
    await inventory.migrate()
    const [items, count] = await inventory.listAndCountInventoryItems({}, {})
    expect(items).toEqual([])
    expect(count).toBe(0)
    return Date.now() - started
  } finally {
    await inventory.close()
    const db = new Client({ connectionString: DATABASE_URL })
    await db.connect()
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await db.end()
  }
}

test('a first host that accepts TCP and never answers costs one connect_timeout, then the second host serves the call', async () => {
  frozen = await frozenServer()
  const took = await connectMigrateList(multiHostUrl(frozen.port, { connect_timeout: String(BOUND_S) }))
  expect(frozen.accepted()).toBeGreaterThanOrEqual(1)
  expect(took).toBeLessThan(BOUND_S * 1000 + SLACK_MS)
})

test('a first host that answers the SSLRequest and stalls the TLS handshake is left after connect_timeout (sslmode=prefer)', async () => {
  frozen = await frozenServer({ answerSsl: true })
  const took = await connectMigrateList(
    multiHostUrl(frozen.port, { connect_timeout: String(BOUND_S), sslmode: 'prefer' }),
  )
  expect(frozen.accepted()).toBeGreaterThanOrEqual(1)
  expect(took).toBeLessThan(BOUND_S * 1000 + SLACK_MS)
})

test('with target_session_attrs=read-write, a frozen first host is skipped and the primary found', async () => {
  frozen = await frozenServer()
  const took = await connectMigrateList(
    multiHostUrl(frozen.port, { connect_timeout: String(BOUND_S), target_session_attrs: 'read-write' }),
  )
  expect(frozen.accepted()).toBeGreaterThanOrEqual(1)
  expect(took).toBeLessThan(BOUND_S * 1000 + SLACK_MS)
})

test('without connect_timeout each host gets the documented default bound, then the next is tried', async () => {
  frozen = await frozenServer()
  const took = await connectMigrateList(multiHostUrl(frozen.port, { connect_timeout: undefined }))
  expect(frozen.accepted()).toBeGreaterThanOrEqual(1)
  expect(took).toBeLessThan(DEFAULT_BOUND_S * 1000 + SLACK_MS)
})

test('a frozen only host fails the connect within its bound, saying so (database_error, names connect_timeout)', async () => {
  frozen = await frozenServer()
  const url = `postgres://postgres@127.0.0.1:${frozen.port}/db?connect_timeout=${BOUND_S}`
  const started = Date.now()
  const err = await InventoryService.connect({ url, maxConnections: 1 }).catch((e) => e)
  expect(Date.now() - started).toBeLessThan(BOUND_S * 1000 + SLACK_MS)
  expect(err.type).toBe('database_error')
  expect(err.message).toMatch(/no database server answered in time/)
  expect(err.message).toMatch(/connect_timeout/)
  expect(err.message).toMatch(/127\.0\.0\.1/)
})

test('a connect_timeout too large to add up over three hosts is taken as it is: the first host that answers serves', async () => {
  const u = new URL(DATABASE_URL)
  const host = `${u.hostname}:${u.port || 5432}`
  const auth = u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''
  const url = `postgres://${auth}${host},${host},${host}${u.pathname}?connect_timeout=9223372036854775807`
  const took = await connectMigrateList(url)
  expect(took).toBeLessThan(SLACK_MS)
})
