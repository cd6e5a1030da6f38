'use strict'
const { execFile } = require('node:child_process')
const path = require('node:path')
const { freshService, reservedDrift, DATABASE_URL } = require('./helpers')

let t
beforeAll(async () => {
  t = await freshService('conc', { maxConnections: 16 })
})
afterAll(() => t.cleanup())

async function stockedItem(stock, locations = ['loc']) {
  const item = await t.inventory.createInventoryItems({ sku: `c-${Math.random()}` })
  await t.inventory.createInventoryLevels(
    locations.map((location_id) => ({ inventory_item_id: item.id, location_id, stocked_quantity: stock })),
  )
  return item
}

async function liveReserved(itemId, loc) {
  const { rows } = await t.db.query(
    `SELECT l.reserved_quantity::float8 AS reserved,
            (SELECT coalesce(sum(quantity), 0) FROM reservation_item r
              WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                AND r.deleted_at IS NULL)::float8 AS live
     FROM inventory_level l WHERE l.inventory_item_id = $1 AND l.location_id = $2 AND l.deleted_at IS NULL`,
    [itemId, loc],
  )
  return rows[0]
}

describe('concurrency (one process)', () => {
  test('64 concurrent single-unit reservations on stock 10: exactly 10 succeed', async () => {
    const item = await stockedItem(10)
    const results = await Promise.allSettled(
      Array.from({ length: 64 }, (_, i) =>
        t.inventory.createReservationItems({
          inventory_item_id: item.id,
          location_id: 'loc',
          quantity: 1,
          line_item_id: `l${i}`,
        }),
      ),
    )
    const ok = results.filter((r) => r.status === 'fulfilled')
    const failed = results.filter((r) => r.status === 'rejected')
    expect(ok).toHaveLength(10)
    expect(new Set(failed.map((r) => r.reason.type))).toEqual(new Set(['not_allowed']))
    expect(await liveReserved(item.id, 'loc')).toEqual({ reserved: 10, live: 10 })
  })

  test('40 concurrent adjustInventory(+1) all land', async () => {
    const item = await stockedItem(0)
    await Promise.all(Array.from({ length: 40 }, () => t.inventory.adjustInventory(item.id, 'loc', 1)))
    expect((await t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, 'loc')).stocked_quantity).toBe(40)
  })

  test('concurrent batches over the same two levels in opposite orders: no deadlock, no oversell', async () => {
    const item = await stockedItem(20, ['x', 'y'])
    const batch = (first, second, i) =>
      t.inventory.createReservationItems([
        { inventory_item_id: item.id, location_id: first, quantity: 1, line_item_id: `b${i}` },
        { inventory_item_id: item.id, location_id: second, quantity: 1, line_item_id: `b${i}` },
      ])
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? batch('x', 'y', i) : batch('y', 'x', i))),
    )
    const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason.type)
    expect(new Set(errors)).toEqual(new Set(['not_allowed']))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20)
    expect(await liveReserved(item.id, 'x')).toEqual({ reserved: 20, live: 20 })
    expect(await liveReserved(item.id, 'y')).toEqual({ reserved: 20, live: 20 })
  })

  test('mixed concurrent reserve / update / move / delete / adjust keep reserved_quantity equal to live reservations', async () => {
    const item = await stockedItem(30, ['p', 'q'])
    const seed = await t.inventory.createReservationItems(
      Array.from({ length: 10 }, (_, i) => ({
        inventory_item_id: item.id,
        location_id: i % 2 ? 'p' : 'q',
        quantity: 1,
        line_item_id: `seed${i}`,
      })),
    )
    const ops = []
    for (let i = 0; i < 60; i++) {
      const r = seed[i % seed.length]
      switch (i % 6) {
        case 0:
          ops.push(t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'p', quantity: 2 }))
          break
        case 1:
          ops.push(t.inventory.updateReservationItems({ id: r.id, quantity: 1 + (i % 3) }))
          break
        case 2:
          ops.push(t.inventory.updateReservationItems({ id: r.id, location_id: i % 4 ? 'p' : 'q' }))
          break
        case 3:
          ops.push(t.inventory.deleteReservationItemsByLineItem(`seed${i % 10}`))
          break
        case 4:
          ops.push(t.inventory.restoreReservationItemsByLineItem(`seed${(i + 3) % 10}`))
          break
        default:
          ops.push(t.inventory.adjustInventory(item.id, i % 2 ? 'p' : 'q', 1))
      }
    }
    const results = await Promise.allSettled(ops)
    const unexpected = results
      .filter((r) => r.status === 'rejected')
      .map((r) => r.reason)
      .filter((e) => !['not_allowed', 'invalid_data'].includes(e.type))
    expect(unexpected).toEqual([])
    expect(await reservedDrift(t.db)).toEqual([])
  })
})

describe('group commit of concurrent reservation calls', () => {
  test('calls batched together still succeed or fail each on its own', async () => {
    const item = await stockedItem(100)
    const good = (i) => ({ inventory_item_id: item.id, location_id: 'loc', quantity: 1, line_item_id: `g${i}` })
    const calls = [
      ...Array.from({ length: 20 }, (_, i) => t.inventory.createReservationItems(good(i))),
      t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'nowhere', quantity: 1 }),
      t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity: 1000 }),
      t.inventory.createReservationItems([good('bundle-a'), { ...good('bundle-b'), quantity: 5 }]),
      // the same id twice: a database error for that call only
      t.inventory.createReservationItems({ ...good('dup1'), id: 'resitem_dup' }),
      t.inventory.createReservationItems({ ...good('dup2'), id: 'resitem_dup' }),
    ]
    const results = await Promise.allSettled(calls)
    expect(results.slice(0, 20).every((r) => r.status === 'fulfilled')).toBe(true)
    expect(results[20]).toMatchObject({
      status: 'rejected',
      reason: { type: 'not_found', message: `Item ${item.id} is not stocked at location nowhere` },
    })
    expect(results[21]).toMatchObject({
      status: 'rejected',
      reason: { type: 'not_allowed', message: `Not enough stock available for item ${item.id} at location loc` },
    })
    expect(results[22].status).toBe('fulfilled')
    expect(results[22].value.map((r) => r.quantity)).toEqual([1, 5])
    const dups = results.slice(23)
    expect(dups.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(dups.filter((r) => r.status === 'rejected')[0].reason.type).toBe('invalid_data')
    // 20 + 6 + 1 reserved, exactly the live reservations
    expect(await liveReserved(item.id, 'loc')).toEqual({ reserved: 27, live: 27 })
  })

  test('with group commit turned off the guarantees are the same', async () => {
    const { InventoryService } = require('..')
    const plain = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, groupReservations: false })
    try {
      const item = await stockedItem(10)
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, () =>
          plain.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity: 1 }),
        ),
      )
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10)
      expect(await liveReserved(item.id, 'loc')).toEqual({ reserved: 10, live: 10 })
    } finally {
      await plain.close()
    }
  })
})

describe('concurrency (several Node processes)', () => {
  test('4 processes × 16 reservations on stock 10: exactly 10 succeed overall', async () => {
    const item = await stockedItem(10)
    const worker = path.join(__dirname, 'support', 'reserve-worker.js')
    const startAt = Date.now() + 1500
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise((resolve, reject) =>
            execFile(
              process.execPath,
              [worker, DATABASE_URL, t.schema, item.id, 'loc', '16', String(startAt)],
              { timeout: 60000 },
              (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))),
            ),
          ),
      ),
    )
    expect(runs.reduce((n, r) => n + r.ok, 0)).toBe(10)
    expect(new Set(runs.flatMap((r) => r.errors))).toEqual(new Set(['not_allowed']))
    expect(await liveReserved(item.id, 'loc')).toEqual({ reserved: 10, live: 10 })
  })
})
