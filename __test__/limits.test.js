'use strict'
// Bounded resources and clean errors: every rejection is typed, names the field or
// option, writes nothing and carries no raw Postgres, serde or panic text.
const fs = require('node:fs')
const { InventoryService } = require('..')
const { freshService, DATABASE_URL } = require('./helpers')

const RAW =
  /invalid byte sequence|out of range for type|syntax for type|index row|parsing response|recursion limit|capacity overflow|panicked|Addition overflowed|Invalid decimal/i

let t
beforeAll(async () => {
  t = await freshService('limits')
})
afterAll(() => t.cleanup())

async function rejectsClean(promise, field) {
  let err
  try {
    await promise
  } catch (e) {
    err = e
  }
  expect(err).toBeDefined()
  expect(err.type).toBe('invalid_data')
  expect(err.message).toContain(field)
  expect(err.message).not.toMatch(RAW)
  return err
}

async function itemCount() {
  const { rows } = await t.db.query('SELECT count(*)::int AS n FROM inventory_item')
  return rows[0].n
}

describe('connect options are bounded', () => {
  test.each([1e10, 1e19, 0, -1, 1.5, 1001])('maxConnections %p is invalid_data naming it', async (n) => {
    await rejectsClean(
      InventoryService.connect({ url: DATABASE_URL, schema: 'x', maxConnections: n }),
      'maxConnections',
    )
  })

  test('a mixed-case schema is created and used as spelled', async () => {
    const schema = `Fz_Mixed_${process.pid}`
    const inv = await InventoryService.connect({ url: DATABASE_URL, schema })
    try {
      await inv.migrate()
      await inv.createInventoryItems({ sku: 'mixed' })
      const { rows } = await t.db.query(`SELECT sku FROM "${schema}".inventory_item`)
      expect(rows.map((r) => r.sku)).toEqual(['mixed'])
    } finally {
      await inv.close()
      await t.db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }
  })

  test("the URL's own options are kept next to the schema", async () => {
    // libpq-style percent-encoding (a `+` would stay a plus).
    const sep = DATABASE_URL.includes('?') ? '&' : '?'
    const url = `${DATABASE_URL}${sep}options=-c%20default_transaction_read_only%3Don`
    const inv = await InventoryService.connect({ url, schema: t.schema })
    try {
      await expect(inv.listInventoryItems({})).resolves.toEqual(expect.any(Array))
      const err = await inv.createInventoryItems({ sku: 'read-only' }).catch((e) => e)
      expect(err).toBeInstanceOf(Error)
      expect(err.type).toBe('database_error')
      expect(err.sqlState).toBe('25006') // read_only_sql_transaction, for logs
      expect(err.code).toBeUndefined()
      expect(err.message).not.toMatch(/read-only transaction/)
      expect(err.cause).toMatch(/read-only transaction/)
    } finally {
      await inv.close()
    }
  })
})

describe('inputs are validated before any SQL', () => {
  test('a NUL character in any string or metadata is refused naming the field', async () => {
    const before = await itemCount()
    await rejectsClean(t.inventory.createInventoryItems({ sku: 'a\u0000b' }), 'sku')
    await rejectsClean(t.inventory.createInventoryItems({ sku: 'ok-nul', metadata: { note: 'x\u0000' } }), 'note')
    await rejectsClean(t.inventory.createInventoryItems({ sku: 'ok-nul', metadata: { ['k\u0000']: 1 } }), 'metadata')
    await rejectsClean(t.inventory.listInventoryItems({ title: 'x\u0000' }), 'title')
    await rejectsClean(t.inventory.deleteInventoryItems(['iitem_\u0000']), 'NUL')
    expect(await itemCount()).toBe(before)
  })

  test('integer columns are checked against the integer range', async () => {
    await rejectsClean(t.inventory.createInventoryItems({ sku: 'heavy', weight: 1e10 }), 'weight')
    await rejectsClean(t.inventory.listInventoryItems({ weight: { $gt: 2 ** 31 } }), 'weight')
    const item = await t.inventory.createInventoryItems({ sku: 'max-int', weight: 2 ** 31 - 1 })
    expect(item.weight).toBe(2 ** 31 - 1)
    await rejectsClean(t.inventory.updateInventoryItems({ id: item.id, length: -(2 ** 31) - 1 }), 'length')
  })

  test('date filters must be dates', async () => {
    await rejectsClean(t.inventory.listInventoryItems({ created_at: 'garbage' }), 'created_at')
    await rejectsClean(t.inventory.listInventoryItems({ created_at: { $gte: '2024-02-30' } }), 'created_at')
    await expect(
      t.inventory.listInventoryItems({ created_at: { $gte: new Date(Date.now() - 86400e3), $lt: '2999-01-01' } }),
    ).resolves.toEqual(expect.any(Array))
  })

  test('strings and metadata have size limits', async () => {
    const before = await itemCount()
    await rejectsClean(t.inventory.createInventoryItems({ sku: 'x'.repeat(1 << 20) }), 'sku')
    await rejectsClean(
      t.inventory.createInventoryItems({ sku: 'long-d', description: 'd'.repeat(70000) }),
      'description',
    )
    await rejectsClean(
      t.inventory.createInventoryItems({ sku: 'long-m', metadata: { blob: 'm'.repeat(300000) } }),
      'metadata',
    )
    expect(await itemCount()).toBe(before)
    const ok = await t.inventory.createInventoryItems({ sku: 's'.repeat(1024), description: 'd'.repeat(65536) })
    expect(ok.sku.length).toBe(1024)
  })

  test('filters are bounded in width and depth', async () => {
    const wide = Array.from({ length: 65536 }, (_, i) => ({ sku: `s${i}` }))
    await rejectsClean(t.inventory.listInventoryItems({ $or: wide }), '$or')
    await rejectsClean(t.inventory.listInventoryItems({ $or: wide.slice(0, 5000) }), '1000 conditions')
    let deep = { sku: 'x' }
    for (let i = 0; i < 70; i++) deep = { $or: [deep] }
    await rejectsClean(t.inventory.listInventoryItems(deep), 'nested')
    let ok = { sku: 'x' }
    for (let i = 0; i < 16; i++) ok = { $or: [ok] }
    await expect(t.inventory.listInventoryItems(ok)).resolves.toEqual([])
    let seventeen = { $or: [ok] }
    await rejectsClean(t.inventory.listInventoryItems(seventeen), '16 levels')
  })

  test('input arrays are bounded', async () => {
    const before = await itemCount()
    const many = Array.from({ length: 10001 }, (_, i) => ({ sku: `bulk-${i}` }))
    await rejectsClean(t.inventory.createInventoryItems(many), '10000')
    await rejectsClean(t.inventory.deleteInventoryItems(many.map((_, i) => `iitem_${i}`)), '10000')
    expect(await itemCount()).toBe(before)
  })
})

describe('quantities: one exact domain', () => {
  let item
  beforeAll(async () => {
    item = await t.inventory.createInventoryItems({ sku: 'qty-domain' })
  })

  test('inside the domain values are stored exactly', async () => {
    const level = await t.inventory.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'loc_exact',
      stocked_quantity: '1234567890123456789012345678',
      incoming_quantity: '0.0000000000000000000000000001',
    })
    expect(level.raw_stocked_quantity.value).toBe('1234567890123456789012345678')
    const { rows } = await t.db.query(
      `SELECT stocked_quantity::text AS s, incoming_quantity::text AS i FROM inventory_level WHERE id = $1`,
      [level.id],
    )
    expect(rows[0]).toEqual({ s: '1234567890123456789012345678', i: '0.0000000000000000000000000001' })
  })

  test.each([
    ['12345678901234567890123456789', 'at most 28 significant digits'],
    ['1e-29', 'at most 28 decimal places'],
    ['79228162514264337593543950336', 'at most 28 significant digits'],
    ['1e30', 'less than 10^28'],
    ['1_000', 'must be a number'],
    ['+5', 'must be a number'],
  ])('%s is refused: %s', async (value, why) => {
    const err = await rejectsClean(
      t.inventory.createInventoryLevels({
        inventory_item_id: item.id,
        location_id: `loc_${value}`,
        stocked_quantity: value,
      }),
      'stocked_quantity',
    )
    expect(err.message).toContain(why)
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM inventory_level WHERE location_id = $1`, [
      `loc_${value}`,
    ])
    expect(rows[0].n).toBe(0)
  })
})

test('listAndCount with take 0 returns the total and no rows', async () => {
  const fresh = await freshService('take0')
  try {
    await fresh.inventory.createInventoryItems([{ sku: 'a' }, { sku: 'b' }, { sku: 'c' }])
    const [rows, count] = await fresh.inventory.listAndCountInventoryItems({}, { take: 0 })
    expect(rows).toEqual([])
    expect(count).toBe(3)
  } finally {
    await fresh.cleanup()
  }
})

describe('the prepared-statement cache is bounded', () => {
  // Private anonymous memory of a Postgres backend; the server runs on this machine.
  function rssAnonKb(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/RssAnon:\s+(\d+) kB/.exec(status)[1])
  }

  test('3000 distinct filter shapes on one connection keep the backend flat', async () => {
    const appName = `limits_cache_${process.pid}`
    const url = new URL(DATABASE_URL)
    url.searchParams.set('application_name', appName)
    const inv = await InventoryService.connect({ url: url.toString(), schema: t.schema, maxConnections: 1 })
    // Each shape is a 12-way OR whose branches pick sku or title: 4096 distinct SQL texts.
    const shape = (n) => ({
      $or: Array.from({ length: 12 }, (_, b) => ((n >> b) & 1 ? { sku: `s${b}` } : { title: `t${b}` })),
    })
    try {
      for (let n = 0; n < 50; n++) await inv.listAndCountInventoryItems(shape(n), { take: 5 })
      const { rows } = await t.db.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])
      expect(rows).toHaveLength(1)
      const pid = rows[0].pid
      const before = rssAnonKb(pid)
      for (let n = 50; n < 3000; n++) await inv.listAndCountInventoryItems(shape(n), { take: 5 })
      const after = rssAnonKb(pid)
      // Unbounded, this grows by hundreds of MB (about 50 kB per cached shape).
      expect({ growthKb: after - before, ok: after - before < 64 * 1024 }).toMatchObject({ ok: true })
      expect(inv._native.debugStatementCacheHighWater()).toBeLessThanOrEqual(256 + 4)
    } finally {
      await inv.close()
    }
  }, 120000)
})

test("a panic's text is kept for logs, off the message", async () => {
  const native = require('../index.js')
  const err = await native.debugPanic().catch((e) => e)
  expect(err).toMatchObject({ type: 'unexpected_state', message: 'internal error in medusa-inventory-rs' })
  expect(err.cause).toMatch(/index out of bounds/)
})
