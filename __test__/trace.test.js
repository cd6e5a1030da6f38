'use strict'
// Tracing data from the core (crates/inventory-core/src/wire.rs): a call's trace (call
// option `trace`), stats() and takeEvents(), on real Postgres, through the native handle
// the JS side builds on.
const net = require('node:net')
const { InventoryService } = require('..')
const { DATABASE_URL, freshService, sql } = require('./helpers')
const { Telemetry } = require('../lib/telemetry')

// These tests take the core's events themselves: the facade's own taking after each call
// (lib/telemetry.js, which hands them to the logger; telemetry.test.js) is off in this file.
Telemetry.prototype.drain = function () {}

let t
beforeAll(async () => {
  t = await freshService('trace')
})
afterAll(async () => {
  await t.cleanup()
})

/** The native call, as lib/ makes it: resolves to the parsed JSON text. */
async function call(inv, method, args, options) {
  return JSON.parse(await inv._native.call(method, JSON.stringify(args), options ? JSON.stringify(options) : null))
}

function urlWith(params) {
  const url = new URL(DATABASE_URL)
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  return url.toString()
}

const roundtrips = (trace) => trace.spans.filter((s) => s.name === 'roundtrip')

async function stockedLevel(inv, stocked) {
  const item = await inv.createInventoryItems({ sku: `lvl-${Math.random().toString(36).slice(2)}` })
  const level = await inv.createInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'loc_trace',
    stocked_quantity: stocked,
  })
  return { item, level }
}

test('a traced createInventoryItems shows its pool wait and its round trips: SQL, never values', async () => {
  const sku = `sku-wire-${process.pid}-zq8x`
  const out = await call(t.inventory, 'createInventoryItems', [[{ sku }]], { trace: true })
  expect(out.result[0].sku).toBe(sku)
  const { trace } = out
  expect(Number.isInteger(trace.duration)).toBe(true)
  expect(trace.spans.filter((s) => s.name === 'pool')).toHaveLength(1)
  const rts = roundtrips(trace)
  expect(rts.length).toBeGreaterThanOrEqual(1)
  for (const s of trace.spans) {
    expect(Number.isInteger(s.start) && Number.isInteger(s.end)).toBe(true)
    expect(s.start).toBeLessThanOrEqual(s.end)
    expect(s.end).toBeLessThanOrEqual(trace.duration)
  }
  for (const rt of rts) expect(rt.messages).toBeGreaterThanOrEqual(1)
  const statements = rts.flatMap((s) => s.statements)
  expect(statements.some((s) => s.includes('INSERT INTO inventory_item'))).toBe(true)
  expect(JSON.stringify(trace)).not.toContain(sku)

  // A call that asks for none gets none, and `trace` never reaches the core's options.
  const plain = await call(t.inventory, 'listInventoryItems', [{ sku }], { trace: false })
  expect(plain.trace).toBeUndefined()
  expect(plain.result).toHaveLength(1)
  const bad = await t.inventory._native.call('listInventoryItems', '[{}]', '{"trace":1}').catch((e) => e)
  expect(bad).toMatchObject({ type: 'invalid_data', message: 'call option trace must be a boolean' })
})

test('a rejected traced call carries its trace on the error', async () => {
  const err = await t.inventory._native
    .call('retrieveInventoryItem', JSON.stringify(['iitem_missing_trace']), JSON.stringify({ trace: true }))
    .catch((e) => e)
  expect(err.type).toBe('not_found')
  const trace = JSON.parse(err.trace)
  expect(trace.spans.map((s) => s.name)).toContain('pool')
  expect(
    roundtrips(trace)
      .flatMap((s) => s.statements)
      .join(' '),
  ).toMatch(/FROM inventory_item/)
  expect(JSON.stringify(trace)).not.toContain('iitem_missing_trace')
})

test('a grouped reservation shows its queue, its group size and the group transaction', async () => {
  const grouped = await InventoryService.connect({
    url: DATABASE_URL,
    schema: t.schema,
    groupReservations: { forceGroupOf: 2 },
  })
  try {
    const { item } = await stockedLevel(t.inventory, 10)
    const reserve = (q) =>
      call(grouped, 'createReservationItems', [{ inventory_item_id: item.id, location_id: 'loc_trace', quantity: q }], {
        trace: true,
      })
    const [a, b] = await Promise.all([reserve(1), reserve(2)])
    for (const { trace } of [a, b]) {
      const queue = trace.spans.filter((s) => s.name === 'queue')
      expect(queue).toHaveLength(1)
      expect(queue[0].group).toBe(2)
      expect(trace.spans.map((s) => s.name)).toContain('pool')
      const statements = roundtrips(trace).flatMap((s) => s.statements)
      expect(statements).toContain('BEGIN; SET LOCAL plan_cache_mode = force_generic_plan')
    }
    // Both members were given the one transaction's round trips.
    expect(roundtrips(a.trace).map((s) => s.statements)).toEqual(roundtrips(b.trace).map((s) => s.statements))

    // One refused for want of stock (10 - 3 left 7), a keyed repeat answered from the key.
    const refused = await Promise.allSettled([reserve(100), reserve(1)])
    expect(refused.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const keyed = () =>
      call(grouped, 'createReservationItems', [{ inventory_item_id: item.id, location_id: 'loc_trace', quantity: 1 }], {
        idempotencyKey: `k-trace-${process.pid}`,
      })
    await Promise.all([keyed(), reserve(1)])
    await Promise.all([keyed(), reserve(1)])
    const stats = JSON.parse(grouped._native.stats())
    expect(stats).toMatchObject({
      refused: 1,
      replays: 1,
      calls: 8,
      connectionLosses: 0,
      groups: { count: 4, members: 7, largest: 2 },
    })
    expect(stats.pool).toEqual({ max: 10, size: expect.any(Number), idle: expect.any(Number), waiting: 0 })
    expect(stats.pool.size).toBeGreaterThanOrEqual(1)
    expect(typeof stats.hostSwitches).toBe('number')
    expect(typeof stats.slowStatements).toBe('number')
  } finally {
    await grouped.close()
  }
})

test('a reservation is one round trip, alone or in a group that passes; a group with a refusal is decided again', async () => {
  const grouped = await InventoryService.connect({
    url: DATABASE_URL,
    schema: t.schema,
    groupReservations: { forceGroupOf: 3 },
  })
  try {
    const { item } = await stockedLevel(t.inventory, 10)
    const other = await stockedLevel(t.inventory, 10)
    const lines = (q, it = item) => [
      { inventory_item_id: it.id, location_id: 'loc_trace', quantity: q, line_item_id: `li-${q}` },
    ]
    const reserve = (svc, rows) => call(svc, 'createReservationItems', [rows], { trace: true })
    const flights = (r) => roundtrips(r.trace).map((s) => s.statements)
    // The first call on a connection prepares its statement (round trips of its own).
    await reserve(t.inventory, lines(1))
    const lone = await reserve(t.inventory, [...lines(1), ...lines(1, other.item)])
    expect(flights(lone)).toHaveLength(1)
    expect(flights(lone)[0].at(-1)).toBe('COMMIT')

    const three = await Promise.all([1, 2, 3].map(() => reserve(grouped, lines(1))))
    for (const r of three) expect(r.trace.spans.find((s) => s.name === 'queue').group).toBe(3)
    const passed = await Promise.all([1, 2, 3].map(() => reserve(grouped, lines(1))))
    for (const r of passed) expect(flights(r)).toHaveLength(1)
    // 10 - 8 leaves 2: the middle call (6) is refused; the ones before and after it are
    // kept, decided again with the levels locked: BEGIN + statement + COMMIT (nothing
    // written), BEGIN + statement, then the two kept calls' statement + COMMIT.
    const [a, b, c] = await Promise.allSettled([
      reserve(grouped, lines(2)),
      reserve(grouped, lines(6)),
      reserve(grouped, lines(3, other.item)),
    ])
    expect([a.status, b.status, c.status]).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(b.reason).toMatchObject({ type: 'not_allowed' })
    expect(flights(a.value)).toHaveLength(3)
    expect(flights(a.value).map((f) => f.at(-1))).toEqual(['COMMIT', expect.any(String), 'COMMIT'])
    const level = await t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, 'loc_trace')
    expect(Number(level.reserved_quantity)).toBe(10)
    const otherLevel = await t.inventory.retrieveInventoryLevelByItemAndLocation(other.item.id, 'loc_trace')
    expect(Number(otherLevel.reserved_quantity)).toBe(4)
    // The ledger holds one movement per kept call and level, with the reserved quantity after it.
    const { rows } = await t.db.query(
      `SELECT delta::text AS d, resulting::text AS r FROM inventory_movement
       WHERE inventory_level_id = $1 AND field = 'reserved_quantity' ORDER BY resulting`,
      [level.id],
    )
    expect(rows.map((m) => [m.d, m.r])).toEqual([
      ['1', '1'],
      ['1', '2'],
      ['1', '3'],
      ['1', '4'],
      ['1', '5'],
      ['1', '6'],
      ['1', '7'],
      ['1', '8'],
      ['2', '10'],
    ])
  } finally {
    await grouped.close()
  }
})

test('slowStatementMs: each slow round trip is one event with its SQL, never its values', async () => {
  const bad = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: -1 }).catch(
    (e) => e,
  )
  expect(bad).toMatchObject({
    type: 'invalid_data',
    message: expect.stringMatching(/^connect option slowStatementMs /),
  })
  const bad2 = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: '5' }).catch(
    (e) => e,
  )
  expect(bad2.message).toBe('connect option slowStatementMs has the wrong type')

  // A millionth of a millisecond: every round trip is slow.
  const inv = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: 0.000001 })
  try {
    inv._native.takeEvents()
    expect(inv._native.takeEvents()).toBeNull()
    const sku = `sku-slow-${process.pid}-q7w`
    await inv.createInventoryItems({ sku })
    const events = JSON.parse(inv._native.takeEvents())
    expect(inv._native.takeEvents()).toBeNull()
    const slow = events.filter((e) => e.kind === 'slow_statement')
    expect(slow.length).toBeGreaterThanOrEqual(1)
    const insert = slow.filter((e) => e.statement.includes('INSERT INTO inventory_item'))
    expect(insert.length).toBeGreaterThanOrEqual(1)
    for (const e of slow) {
      expect(e).toMatchObject({ at: expect.any(Number), ms: expect.any(Number), host: expect.stringMatching(/:\d+$/) })
      expect(e.message).toMatch(/slowStatementMs/)
    }
    expect(JSON.stringify(events)).not.toContain(sku)
    expect(JSON.parse(inv._native.stats()).slowStatements).toBeGreaterThanOrEqual(slow.length)
  } finally {
    await inv.close()
  }

  // 0 turns them off.
  const off = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: 0 })
  try {
    await off.createInventoryItems({ sku: `sku-off-${process.pid}` })
    expect(off._native.takeEvents()).toBeNull()
    expect(JSON.parse(off._native.stats()).slowStatements).toBe(0)
  } finally {
    await off.close()
  }
})

test('a pooled connection terminated under a call is one connection_lost event', async () => {
  const appName = `trace_lost_${process.pid}`
  const inv = await InventoryService.connect({
    url: urlWith({ application_name: appName }),
    schema: t.schema,
    maxConnections: 1,
  })
  const { item, level } = await stockedLevel(t.inventory, 5)
  try {
    await t.db.query('BEGIN')
    await t.db.query('SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE', [level.id])
    const pending = inv.adjustInventory(item.id, 'loc_trace', 1).catch((e) => e)
    let pid
    for (let i = 0; i < 200 && !pid; i++) {
      const { rows } = await t.db.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [appName],
      )
      pid = rows[0]?.pid
      if (!pid) await new Promise((r) => setTimeout(r, 50))
    }
    expect(pid).toBeDefined()
    await t.db.query('SELECT pg_terminate_backend($1)', [pid])
    await t.db.query('ROLLBACK')
    const err = await pending
    expect(err).toBeInstanceOf(Error)
    const events = JSON.parse(inv._native.takeEvents())
    const lost = events.filter((e) => e.kind === 'connection_lost')
    expect(lost).toHaveLength(1)
    expect(lost[0].message).not.toMatch(/postgres:\/\/|password/)
    expect(JSON.parse(inv._native.stats()).connectionLosses).toBe(1)
    // The pool replaces the connection: the next call works.
    await inv.adjustInventory(item.id, 'loc_trace', 1)
  } finally {
    await t.db.query('ROLLBACK').catch(() => {})
    await inv.close()
  }
})

test('a pool whose connections are all busy reports it once per episode', async () => {
  const inv = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, maxConnections: 1 })
  const { item, level } = await stockedLevel(t.inventory, 5)
  try {
    await t.db.query('BEGIN')
    await t.db.query('SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE', [level.id])
    const held = inv.adjustInventory(item.id, 'loc_trace', 1)
    // The one connection is busy (waiting on the lock): these two wait for it.
    const waiting = [inv.retrieveInventoryItem(item.id), inv.retrieveInventoryItem(item.id)]
    await new Promise((r) => setTimeout(r, 100))
    await t.db.query('ROLLBACK')
    await Promise.all([held, ...waiting])
    await inv.retrieveInventoryItem(item.id)
    const events = JSON.parse(inv._native.takeEvents() ?? '[]').filter((e) => e.kind === 'pool_exhausted')
    expect(events).toHaveLength(1)
    expect(events[0].message).toMatch(/maxConnections/)
  } finally {
    await t.db.query('ROLLBACK').catch(() => {})
    await inv.close()
  }
})

test('a new connection that reaches another host than the one before is one host_switched event', async () => {
  // The first host of the URL is a TCP proxy to the server; once it is gone, new connections
  // reach the second host, the server itself.
  const db = new URL(DATABASE_URL)
  const dbPort = Number(db.port || 5432)
  const sockets = new Set()
  const proxy = net.createServer((client) => {
    const server = net.connect(dbPort, db.hostname)
    for (const s of [client, server]) {
      sockets.add(s)
      s.on('error', () => {})
    }
    client.pipe(server)
    server.pipe(client)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const proxyPort = proxy.address().port
  const auth = db.username + (db.password ? `:${db.password}` : '')
  const url = `${db.protocol}//${auth}@127.0.0.1:${proxyPort},${db.hostname}:${dbPort}${db.pathname}${db.search}`
  const inv = await InventoryService.connect({ url, schema: t.schema, maxConnections: 1 })
  try {
    const item = await inv.createInventoryItems({ sku: `sku-switch-${process.pid}` })
    expect(inv._native.takeEvents()).toBeNull()
    const closed = new Promise((resolve) => proxy.close(resolve))
    for (const s of sockets) s.destroy()
    await closed
    // The call that finds the connection gone may fail; the one after has a new connection.
    await inv.retrieveInventoryItem(item.id).catch(() => {})
    await inv.retrieveInventoryItem(item.id)
    const switched = JSON.parse(inv._native.takeEvents()).filter((e) => e.kind === 'host_switched')
    expect(switched).toHaveLength(1)
    expect(switched[0]).toMatchObject({ host: `${db.hostname}:${dbPort}`, previous: `127.0.0.1:${proxyPort}` })
    expect(switched[0].message).not.toMatch(/@|password/)
    expect(JSON.parse(inv._native.stats()).hostSwitches).toBe(1)
  } finally {
    if (proxy.listening) proxy.close()
    await inv.close()
  }
})

test("a traced call on a lent connection (call option client) has its pool span and the lent socket's round trips", async () => {
  // lib/lend.js keeps the native result to itself: it is watched on its way.
  const { NativeLent } = require('../index.js')
  const original = NativeLent.prototype.call
  const traces = []
  NativeLent.prototype.call = async function (...args) {
    const out = await original.apply(this, args)
    traces.push(JSON.parse(out).trace)
    return out
  }
  const client = await sql(t.schema)
  try {
    await client.query('BEGIN')
    const sku = `sku-lent-${process.pid}-v9`
    await t.inventory.createInventoryItems({ sku }, { client, trace: true })
    await client.query('ROLLBACK')
    expect(traces).toHaveLength(1)
    const [trace] = traces
    expect(trace.spans.map((s) => s.name)).toContain('pool')
    const statements = roundtrips(trace).flatMap((s) => s.statements)
    expect(statements.some((s) => s.includes('INSERT INTO inventory_item'))).toBe(true)
    expect(JSON.stringify(trace)).not.toContain(sku)
  } finally {
    NativeLent.prototype.call = original
    await client.end()
  }
})
