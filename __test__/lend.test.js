'use strict'
// Call option `client`: a call on the caller's own connection, inside its transaction
// (lib/lend.js, crates/inventory-core/src/relay.rs). Its writes commit and roll back with
// the caller's, a failed call writes nothing and leaves the transaction usable, the
// caller's concurrent queries are never undone, and the connection is handed back clean.
const { freshService, reservedDrift, ledgerGaps, sql, waitBlockedBy } = require('./helpers')

let t
beforeAll(async () => {
  t = await freshService('lend', { maxConnections: 4 })
})
// Every client a test opens: a test that fails half-way must not leave a transaction
// holding locks that the cleanup's DROP SCHEMA would wait on.
const opened = []
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => {})))
  await t.cleanup()
})

/** A pg client on the suite's schema (or search_path's default), ended after the suite. */
async function connect(schema) {
  const c = await sql(schema)
  c.on('error', () => {})
  opened.push(c)
  return c
}

/** A client on the suite's schema with an open transaction. */
async function transaction() {
  const c = await connect(t.schema)
  await c.query('BEGIN')
  return c
}

let n = 0
async function stocked(stock, opts) {
  const item = await t.inventory.createInventoryItems({ sku: `lend-${++n}-${Math.random()}` }, opts)
  await t.inventory.createInventoryLevels(
    { inventory_item_id: item.id, location_id: 'loc', stocked_quantity: stock },
    opts,
  )
  return item
}

async function level(itemId) {
  const { rows } = await t.db.query(
    `SELECT stocked_quantity::int AS stocked, reserved_quantity::int AS reserved
     FROM inventory_level WHERE inventory_item_id = $1 AND deleted_at IS NULL`,
    [itemId],
  )
  return rows[0]
}

async function counts(itemId) {
  const { rows } = await t.db.query(
    `SELECT (SELECT count(*) FROM inventory_item WHERE id = $1)::int AS items,
            (SELECT count(*) FROM inventory_level WHERE inventory_item_id = $1)::int AS levels,
            (SELECT count(*) FROM reservation_item WHERE inventory_item_id = $1)::int AS reservations,
            (SELECT count(*) FROM inventory_movement WHERE inventory_item_id = $1)::int AS movements`,
    [itemId],
  )
  return rows[0]
}

const failure = (p) =>
  p.then(
    () => ({ resolved: true }),
    (e) => ({ type: e.type, message: e.message, code: e.code }),
  )

afterEach(async () => {
  expect(await reservedDrift(t.db)).toEqual([])
  expect(await ledgerGaps(t.db)).toEqual([])
})

test('writes commit with the caller and vanish with its rollback: rows, ledger and idempotency keys', async () => {
  const c = await transaction()
  const item = await stocked(10, { client: c })
  await t.inventory.createReservationItems(
    { inventory_item_id: item.id, location_id: 'loc', quantity: 3, line_item_id: 'li-1' },
    { client: c },
  )
  await t.inventory.adjustInventory(item.id, 'loc', -2, { client: c, idempotencyKey: `k-${item.id}` })
  // Visible inside the caller's transaction, nowhere else.
  const inside = await c.query(
    'SELECT stocked_quantity::int AS s, reserved_quantity::int AS r FROM inventory_level WHERE inventory_item_id = $1',
    [item.id],
  )
  expect(inside.rows).toEqual([{ s: 8, r: 3 }])
  expect(await counts(item.id)).toEqual({ items: 0, levels: 0, reservations: 0, movements: 0 })
  await c.query('ROLLBACK')
  expect(await counts(item.id)).toEqual({ items: 0, levels: 0, reservations: 0, movements: 0 })
  const keys = await t.db.query('SELECT count(*)::int AS n FROM inventory_idempotency_key WHERE key = $1', [
    `k-${item.id}`,
  ])
  expect(keys.rows[0].n).toBe(0)

  // The same calls committed are kept, and the key now replays.
  await c.query('BEGIN')
  const kept = await stocked(10, { client: c })
  await t.inventory.adjustInventory(kept.id, 'loc', -2, { client: c, idempotencyKey: `k-${kept.id}` })
  await c.query('COMMIT')
  await t.inventory.adjustInventory(kept.id, 'loc', -2, { idempotencyKey: `k-${kept.id}` })
  expect(await level(kept.id)).toEqual({ stocked: 8, reserved: 0 })
  await c.end()
})

test("q with a long number on a lent connection sees the transaction's own items through the digit grams", async () => {
  const c = await transaction()
  const opts = { client: c }
  const made = await t.inventory.createInventoryItems(
    [{ sku: 'LEND-2024061512' }, { sku: 'lend-other', title: 'No 20240615 here' }],
    opts,
  )
  for (let i = 0; i < 3; i++) {
    const found = await t.inventory.listInventoryItems({ q: '4061512' }, {}, opts)
    expect(found.map((x) => x.id)).toEqual([made[0].id])
    const [page, count] = await t.inventory.listAndCountInventoryItems({ q: '20240615' }, {}, opts)
    expect(page.map((x) => x.sku).sort()).toEqual(['LEND-2024061512', 'lend-other'])
    expect(count).toBe(2)
  }
  // Outside the transaction, nothing yet; after its rollback, nothing at all.
  expect(await t.inventory.listInventoryItems({ q: '4061512' })).toEqual([])
  await c.query('ROLLBACK')
  expect(await t.inventory.listInventoryItems({ q: '20240615' })).toEqual([])
})

test('a refused call writes nothing and the transaction goes on; earlier calls in it are kept', async () => {
  const c = await transaction()
  const item = await stocked(5, { client: c })
  const refused = await failure(
    t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity: 6 }, { client: c }),
  )
  expect(refused).toEqual({
    type: 'not_allowed',
    message: `Not enough stock available for item ${item.id} at location loc`,
    code: undefined,
  })
  // A database error inside the call (a second level at the same location) too.
  const duplicate = await failure(
    t.inventory.createInventoryLevels(
      { inventory_item_id: item.id, location_id: 'loc', stocked_quantity: 1 },
      { client: c },
    ),
  )
  // The same answer as on the pool, where the unique index refuses it too.
  expect(duplicate).toEqual({
    type: 'invalid_data',
    message: `Inventory level with inventory_item_id: ${item.id}, location_id: loc, already exists.`,
    code: undefined,
  })
  // The transaction is not aborted: the caller's own statement and a further call work.
  expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  await t.inventory.createReservationItems(
    { inventory_item_id: item.id, location_id: 'loc', quantity: 5 },
    { client: c },
  )
  await c.query('COMMIT')
  expect(await level(item.id)).toEqual({ stocked: 5, reserved: 5 })
  expect((await counts(item.id)).reservations).toBe(1)
  await c.end()
})

test("the caller's queries issued during a call wait for it and are not undone by its rollback", async () => {
  const c = await transaction()
  await c.query('CREATE TEMP TABLE caller_rows (v int) ON COMMIT DROP')
  const item = await stocked(2, { client: c })
  // Promise.all on one transaction, as Medusa v1 does: the refused call's ROLLBACK TO
  // SAVEPOINT must not take the caller's inserts with it.
  const [refused, ...inserts] = await Promise.all([
    failure(
      t.inventory.createReservationItems(
        { inventory_item_id: item.id, location_id: 'loc', quantity: 3 },
        { client: c },
      ),
    ),
    c.query('INSERT INTO caller_rows VALUES (1)'),
    new Promise((resolve, reject) =>
      c.query('INSERT INTO caller_rows VALUES (2)', (err, r) => (err ? reject(err) : resolve(r))),
    ),
  ])
  expect(refused.type).toBe('not_allowed')
  expect(inserts.map((r) => r.rowCount)).toEqual([1, 1])
  expect((await c.query('SELECT v FROM caller_rows ORDER BY v')).rows).toEqual([{ v: 1 }, { v: 2 }])
  await c.query('COMMIT')
  await c.end()
})

test('concurrent calls on one client run one at a time and all land', async () => {
  const item = await stocked(100)
  const c = await transaction()
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      t.inventory.createReservationItems(
        { inventory_item_id: item.id, location_id: 'loc', quantity: 1, line_item_id: `li-${i}` },
        { client: c },
      ),
    ),
  )
  expect(results).toHaveLength(20)
  await c.query('COMMIT')
  expect(await level(item.id)).toEqual({ stocked: 100, reserved: 20 })
  await c.end()
})

test('the connection is handed back clean: no prepared statements, no session settings', async () => {
  const c = await transaction()
  const before = (await c.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode
  const item = await stocked(3, { client: c })
  await t.inventory.listInventoryItems({ id: item.id }, { take: 1 }, { client: c })
  await t.inventory.retrieveAvailableQuantity(item.id, ['loc'], { client: c })
  expect((await c.query('SELECT name FROM pg_prepared_statements')).rows).toEqual([])
  expect((await c.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode).toBe(before)
  await c.query('COMMIT')
  await c.end()
})

test('two transactions never oversell: the second waits for the first and decides on what it committed', async () => {
  const item = await stocked(5)
  const a = await transaction()
  const b = await transaction()
  await t.inventory.createReservationItems(
    { inventory_item_id: item.id, location_id: 'loc', quantity: 4 },
    { client: a },
  )
  const second = failure(
    t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity: 4 }, { client: b }),
  )
  await waitBlockedBy(t.db, a)
  await a.query('COMMIT')
  expect((await second).type).toBe('not_allowed')
  await b.query('COMMIT')
  expect(await level(item.id)).toEqual({ stocked: 5, reserved: 4 })
  await a.end()
  await b.end()
})

test('a lent connection lost during a call rejects the call and the connection, without hanging', async () => {
  const item = await stocked(5)
  const holder = await transaction()
  await holder.query('SELECT 1 FROM inventory_level WHERE inventory_item_id = $1 FOR UPDATE', [item.id])
  const c = await transaction()
  const call = failure(
    t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity: 1 }, { client: c }),
  )
  await waitBlockedBy(t.db, holder)
  await t.db.query('SELECT pg_terminate_backend($1)', [c.processID])
  const out = await call
  expect(out.resolved).toBeUndefined()
  expect(typeof out.type).toBe('string')
  await holder.query('ROLLBACK')
  expect(await level(item.id)).toEqual({ stocked: 5, reserved: 0 })
  await holder.end()
})

test('what cannot be lent is refused, naming the option, and writes nothing', async () => {
  const item = await stocked(5)
  const outside = await connect(t.schema)
  const notInTx = await failure(t.inventory.adjustInventory(item.id, 'loc', 1, { client: outside }))
  expect(notInTx).toEqual({
    type: 'invalid_data',
    message: 'call option client must hold an open transaction (BEGIN it first)',
    code: undefined,
  })
  const other = await connect()
  await other.query('CREATE SCHEMA IF NOT EXISTS lend_elsewhere')
  await other.query('BEGIN')
  await other.query('SET LOCAL search_path TO lend_elsewhere')
  const wrongSchema = await failure(t.inventory.adjustInventory(item.id, 'loc', 1, { client: other }))
  expect(wrongSchema.type).toBe('invalid_data')
  expect(wrongSchema.message).toBe(
    `call option client's search_path resolves to schema lend_elsewhere, and this service uses ${t.schema}`,
  )
  // The refusal left the caller's transaction usable.
  expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  await other.query('ROLLBACK')
  for (const bad of [{}, { query() {} }, 'postgres://x']) {
    const out = await failure(t.inventory.adjustInventory(item.id, 'loc', 1, { client: bad }))
    expect(out.type).toBe('invalid_data')
    expect(out.message).toMatch(/^call option client must be a node-postgres Client/)
  }
  expect(await level(item.id)).toEqual({ stocked: 5, reserved: 0 })
  await outside.end()
  await other.query('DROP SCHEMA lend_elsewhere')
  await other.end()
})
