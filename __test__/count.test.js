'use strict'
// The live item count Postgres keeps for an unfiltered listAndCountInventoryItems
// (migrate.rs: a table of deltas written by triggers on inventory_item). Whoever
// writes (this module, Medusa's, plain SQL), the count must be count(*) of the live
// items in the reader's snapshot.
const { InventoryService } = require('..')
const { freshService, sql, DATABASE_URL } = require('./helpers')

let t
beforeAll(async () => {
  t = await freshService('count', { maxConnections: 6 })
})
afterAll(async () => {
  await t.cleanup()
})

const live = async (db = t.db) =>
  (await db.query('SELECT count(*)::int AS n FROM inventory_item WHERE deleted_at IS NULL')).rows[0].n
const parts = async () => (await t.db.query('SELECT count(*)::int AS n FROM medusa_inventory_rs_item_count')).rows[0].n
const counted = async (svc = t.inventory, config = { take: 1 }) => (await svc.listAndCountInventoryItems({}, config))[1]

/** The unfiltered count, in all three of its paths, against count(*). */
async function expectExact() {
  const n = await live()
  expect(await counted()).toBe(n)
  expect(await counted(t.inventory, { take: 0 })).toBe(n)
  expect(await counted(t.inventory, { take: 5, skip: n + 10 })).toBe(n)
  return n
}

let k = 0
const sku = () => `count-${++k}`

test('the kept count is the count after every kind of write, ours and plain SQL', async () => {
  expect(await expectExact()).toBe(0)
  const five = await t.inventory.createInventoryItems(Array.from({ length: 5 }, () => ({ sku: sku() })))
  const one = await t.inventory.createInventoryItems({ sku: sku() })
  expect(await expectExact()).toBe(6)
  await t.inventory.softDeleteInventoryItems([five[0].id, five[1].id])
  expect(await expectExact()).toBe(4)
  await t.inventory.restoreInventoryItems([five[0].id])
  expect(await expectExact()).toBe(5)
  await t.inventory.deleteInventoryItems([one.id, five[1].id]) // one live, one soft-deleted
  expect(await expectExact()).toBe(4)
  await t.inventory.updateInventoryItems({ id: five[2].id, title: 'renamed' })
  expect(await expectExact()).toBe(4)
  // Another writer (Medusa's module, a script): plain SQL on the same table.
  await t.db.query(
    `INSERT INTO inventory_item (id, sku, deleted_at) VALUES ('sql_1', $1, NULL), ('sql_2', $2, NULL), ('sql_3', $3, now())`,
    [sku(), sku(), sku()],
  )
  expect(await expectExact()).toBe(6)
  await t.db.query(`UPDATE inventory_item SET deleted_at = now() WHERE id IN ('sql_1', $1)`, [five[3].id])
  expect(await expectExact()).toBe(4)
  await t.db.query(`UPDATE inventory_item SET deleted_at = now(), title = 'again' WHERE id = 'sql_1'`) // already deleted
  await t.db.query(`UPDATE inventory_item SET deleted_at = NULL WHERE id IN ('sql_3', 'sql_1')`)
  expect(await expectExact()).toBe(6)
  await t.db.query(`DELETE FROM inventory_item WHERE id IN ('sql_1', 'sql_2', 'sql_3')`)
  expect(await expectExact()).toBe(3)
  // A rolled-back write leaves no delta behind.
  await t.db.query('BEGIN')
  await t.db.query(`INSERT INTO inventory_item (id, sku) VALUES ('sql_4', $1)`, [sku()])
  await t.db.query('ROLLBACK')
  expect(await expectExact()).toBe(3)
  // The unfiltered count is the kept one (not a scan that happens to agree).
  await t.db.query('INSERT INTO medusa_inventory_rs_item_count (delta) VALUES (1000)')
  expect(await counted()).toBe(1003)
  expect((await t.inventory.listAndCountInventoryItems({ sku: { $ne: null } }, { take: 1 }))[1]).toBe(3)
  await t.db.query('INSERT INTO medusa_inventory_rs_item_count (delta) VALUES (-1000)')
  expect(await expectExact()).toBe(3)
})

test('filters, withDeleted and q still count the rows they match', async () => {
  const [a] = await t.inventory.createInventoryItems([{ sku: sku(), title: 'filtered-count' }, { sku: sku() }])
  await t.inventory.softDeleteInventoryItems([a.id])
  const all = (await t.db.query('SELECT count(*)::int AS n FROM inventory_item')).rows[0].n
  expect((await t.inventory.listAndCountInventoryItems({}, { take: 1, withDeleted: true }))[1]).toBe(all)
  expect((await t.inventory.listAndCountInventoryItems({ id: a.id }, { take: 1, withDeleted: true }))[1]).toBe(1)
  expect((await t.inventory.listAndCountInventoryItems({ q: 'filtered-count' }, { take: 1 }))[1]).toBe(0)
  expect((await t.inventory.listAndCountInventoryItems({ deleted_at: { $ne: null } }, { take: 1 }))[1]).toBe(
    all - (await live()),
  )
  await expectExact()
})

test('a filtered count is the count and the page is the page, whatever the page shape', async () => {
  // A page that comes back short is counted from itself (sql.rs select_sql); a full or
  // empty one by a scan. Every take and skip around the edges, against count(*) and a
  // slice of the whole ordered list.
  const tag = `shape-${++k}`
  await t.inventory.createInventoryItems(Array.from({ length: 7 }, (_, i) => ({ sku: `${tag}-${i}`, title: tag })))
  const filters = [{ title: tag }, { q: tag }, { sku: { $like: `${tag}-%` } }]
  const all = (await t.db.query('SELECT id FROM inventory_item WHERE title = $1 ORDER BY id', [tag])).rows.map(
    (r) => r.id,
  )
  expect(all).toHaveLength(7)
  let shapes = 0
  for (const filter of filters) {
    for (const take of [undefined, 0, 1, 3, 6, 7, 8, 50]) {
      for (const skip of [undefined, 0, 2, 6, 7, 9]) {
        const [rows, count] = await t.inventory.listAndCountInventoryItems(filter, { take, skip })
        const from = skip ?? 0
        const expected = all.slice(from, take === undefined ? undefined : from + take)
        expect([rows.map((r) => r.id), count, { filter, take, skip }]).toEqual([expected, 7, { filter, take, skip }])
        shapes++
      }
    }
  }
  expect(shapes).toBe(3 * 8 * 6)
})

test('a write still open is not counted, and it holds no other writer up', async () => {
  const before = await expectExact()
  const holder = await sql(t.schema)
  try {
    await holder.query('BEGIN')
    await holder.query(`INSERT INTO inventory_item (id, sku) VALUES ('open_1', $1)`, [sku()])
    // Creates on other connections commit while the holder's delta is uncommitted:
    // deltas are only inserted, so nobody waits.
    await Promise.all(Array.from({ length: 8 }, () => t.inventory.createInventoryItems({ sku: sku() })))
    expect(await expectExact()).toBe(before + 8)
    await holder.query('COMMIT')
  } finally {
    await holder.end()
  }
  expect(await expectExact()).toBe(before + 9)
})

test('the deltas are folded into one once they pile up, and the count stays exact', async () => {
  for (let i = 0; i < 70; i++) await t.inventory.createInventoryItems({ sku: sku() })
  expect(await parts()).toBeGreaterThan(64)
  const n = await expectExact() // sees more than 64 deltas: folds them after answering
  for (let i = 0; (await parts()) > 1; i++) {
    if (i > 500) throw new Error(`the deltas were not folded: ${await parts()} rows`)
    await new Promise((r) => setTimeout(r, 10))
  }
  expect(await expectExact()).toBe(n)
})

test('migrate installs the count on a schema that already holds items, and reinstalls it when its triggers are gone', async () => {
  const n = await expectExact()
  await t.db.query('DROP TRIGGER medusa_inventory_rs_item_count_ins ON inventory_item')
  await t.db.query(`INSERT INTO inventory_item (id, sku) VALUES ('untracked_1', $1)`, [sku()])
  // A process that sees the triggers incomplete counts the rows instead.
  const other = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema })
  try {
    expect(await counted(other)).toBe(n + 1)
  } finally {
    await other.close()
  }
  await t.inventory.migrate()
  expect(await parts()).toBe(1)
  expect(await expectExact()).toBe(n + 1)
  await t.db.query(`INSERT INTO inventory_item (id, sku) VALUES ('tracked_1', $1)`, [sku()])
  expect(await expectExact()).toBe(n + 2)
})

test('migrate counts afresh when rows were written with the triggers off', async () => {
  const n = await expectExact()
  await t.db.query('BEGIN')
  await t.db.query('SET LOCAL session_replication_role = replica')
  await t.db.query(`INSERT INTO inventory_item (id, sku) VALUES ('replica_1', $1), ('replica_2', $2)`, [sku(), sku()])
  await t.db.query('COMMIT')
  expect(await counted()).toBe(n) // the kept count missed them
  await t.inventory.migrate()
  expect(await parts()).toBe(1)
  expect(await expectExact()).toBe(n + 2)
})

test('the count table can be published for logical replication: folds and recounts delete by key', async () => {
  const pub = `count_pub_${process.pid}`
  await t.db.query(`CREATE PUBLICATION ${pub} FOR TABLE medusa_inventory_rs_item_count`)
  try {
    for (let i = 0; i < 70; i++) await t.inventory.createInventoryItems({ sku: sku() })
    const n = await expectExact()
    for (let i = 0; (await parts()) > 1; i++) {
      if (i > 500) throw new Error(`the deltas were not folded: ${await parts()} rows`)
      await new Promise((r) => setTimeout(r, 10))
    }
    await t.db.query('INSERT INTO medusa_inventory_rs_item_count (delta) VALUES (5)')
    await t.inventory.migrate() // recounts: deletes every row
    expect(await expectExact()).toBe(n)
  } finally {
    await t.db.query(`DROP PUBLICATION ${pub}`)
  }
})

test('TRUNCATE empties the count', async () => {
  await t.inventory.createInventoryItems({ sku: sku() })
  await t.db.query('TRUNCATE inventory_item CASCADE')
  expect(await expectExact()).toBe(0)
  await t.inventory.createInventoryItems([{ sku: sku() }, { sku: sku() }])
  expect(await expectExact()).toBe(2)
})
