'use strict'
// Invariants on the rarer write paths: one reservation engine for lone and
// grouped calls, checked arithmetic, restores, duplicate ids, levels taken away.
const { InventoryService } = require('..')
const { freshService, reservedDrift, sql, waitBlockedBy, DATABASE_URL } = require('./helpers')

const HUGE = '9999999999999999999999999999' // the largest quantity the domain accepts (10^28 - 1)

let t
let grouped // same schema, every call forced into a group of GROUP
const GROUP = 8
beforeAll(async () => {
  t = await freshService('inv', { maxConnections: 8, groupReservations: false })
  grouped = await InventoryService.connect({
    url: DATABASE_URL,
    schema: t.schema,
    groupReservations: { forceGroupOf: GROUP },
  })
})
afterAll(async () => {
  await grouped.close()
  await t.cleanup()
})

let n = 0
async function stocked(stock, loc = 'loc') {
  const item = await t.inventory.createInventoryItems({ sku: `inv-${++n}-${Math.random()}` })
  await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: loc, stocked_quantity: stock })
  return item
}

async function level(itemId, loc = 'loc') {
  const { rows } = await t.db.query(
    `SELECT reserved_quantity::text AS reserved, (stocked_quantity - reserved_quantity)::text AS available
     FROM inventory_level WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL`,
    [itemId, loc],
  )
  return rows[0]
}

const settle = async (p) =>
  p.then(
    (v) => ({ ok: v }),
    (e) => ({ err: { type: e.type, message: e.message } }),
  )
// Results compared without ids and timestamps.
const strip = (r) =>
  r.ok
    ? {
        ok: [].concat(r.ok).map(({ inventory_item_id, location_id, quantity, allow_backorder }) => ({
          inventory_item_id,
          location_id,
          quantity,
          allow_backorder,
        })),
      }
    : r

/** Runs `input` inside a forced group of GROUP calls (the others reserve 1 unit of their own items). */
async function inGroup(input) {
  const fillers = await Promise.all(Array.from({ length: GROUP - 1 }, () => stocked(5)))
  const all = await Promise.all([
    settle(grouped.createReservationItems(input)),
    ...fillers.map((f) =>
      settle(grouped.createReservationItems({ inventory_item_id: f.id, location_id: 'loc', quantity: 1 })),
    ),
  ])
  return { mine: all[0], others: all.slice(1) }
}

describe('one reservation engine', () => {
  const cases = [
    ['succeeds', (i) => ({ inventory_item_id: i.id, location_id: 'loc', quantity: 3 })],
    ['short', (i) => ({ inventory_item_id: i.id, location_id: 'loc', quantity: 11 })],
    ['not stocked', (i) => ({ inventory_item_id: i.id, location_id: 'nowhere', quantity: 1 })],
    [
      'two lines, one short',
      (i) => [
        { inventory_item_id: i.id, location_id: 'loc', quantity: 6 },
        { inventory_item_id: i.id, location_id: 'loc', quantity: 5 },
      ],
    ],
    [
      'backorder beyond stock',
      (i) => ({ inventory_item_id: i.id, location_id: 'loc', quantity: 50, allow_backorder: true }),
    ],
    [
      'overflowing lines',
      (i) => [
        { inventory_item_id: i.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
        { inventory_item_id: i.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
      ],
    ],
    [
      'beyond what a level holds',
      (i) => [
        { inventory_item_id: i.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
        { inventory_item_id: i.id, location_id: 'loc', quantity: 1, allow_backorder: true },
      ],
    ],
  ]
  test.each(cases)('a lone call and the same call in a group give the same result: %s', async (_, make) => {
    const a = await stocked(10)
    const b = await stocked(10)
    const alone = await settle(t.inventory.createReservationItems(make(a)))
    const { mine, others } = await inGroup(make(b))
    const swap = (r) => JSON.parse(JSON.stringify(strip(r)).split(a.id).join('ITEM'))
    expect(JSON.parse(JSON.stringify(strip(mine)).split(b.id).join('ITEM'))).toEqual(swap(alone))
    expect(others.every((o) => o.ok)).toBe(true)
    expect(await level(a.id)).toEqual(await level(b.id))
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test("the messages are Medusa's", async () => {
    const i = await stocked(10)
    const short = await inGroup({ inventory_item_id: i.id, location_id: 'loc', quantity: 11 })
    expect(short.mine.err).toEqual({
      type: 'not_allowed',
      message: `Not enough stock available for item ${i.id} at location loc`,
    })
    const missing = await inGroup({ inventory_item_id: i.id, location_id: 'L2', quantity: 1 })
    expect(missing.mine.err).toEqual({ type: 'not_found', message: `Item ${i.id} is not stocked at location L2` })
    const overflow = await inGroup([
      { inventory_item_id: i.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
      { inventory_item_id: i.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
    ])
    expect(overflow.mine.err.type).toBe('invalid_data')
    expect(overflow.mine.err.message).toMatch(/^quantity /)
    expect(overflow.mine.err.message).not.toMatch(/overflow|panic/i)
  })

  test('a poisoned call fails alone: the innocent calls of its group succeed', async () => {
    const hot = await stocked(100)
    const poisoned = await stocked(10)
    const results = await Promise.all([
      settle(
        grouped.createReservationItems([
          { inventory_item_id: poisoned.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
          { inventory_item_id: poisoned.id, location_id: 'loc', quantity: HUGE, allow_backorder: true },
        ]),
      ),
      ...Array.from({ length: GROUP - 1 }, () =>
        settle(grouped.createReservationItems({ inventory_item_id: hot.id, location_id: 'loc', quantity: 1 })),
      ),
    ])
    expect(results[0].err.type).toBe('invalid_data')
    expect(results.slice(1).filter((r) => r.ok)).toHaveLength(GROUP - 1)
    expect(await level(hot.id)).toEqual({ reserved: String(GROUP - 1), available: String(100 - GROUP + 1) })
    expect(await level(poisoned.id)).toEqual({ reserved: '0', available: '10' })
  })

  test('a duplicate id fails its own call only', async () => {
    const hot = await stocked(100)
    const first = await t.inventory.createReservationItems({
      inventory_item_id: hot.id,
      location_id: 'loc',
      quantity: 1,
    })
    const results = await Promise.all([
      settle(
        grouped.createReservationItems({ id: first.id, inventory_item_id: hot.id, location_id: 'loc', quantity: 1 }),
      ),
      ...Array.from({ length: GROUP - 1 }, () =>
        settle(grouped.createReservationItems({ inventory_item_id: hot.id, location_id: 'loc', quantity: 1 })),
      ),
    ])
    expect(results[0].err).toBeDefined()
    expect(results.slice(1).every((r) => r.ok)).toBe(true)
    expect((await level(hot.id)).reserved).toBe(String(GROUP))
    expect(await reservedDrift(t.db)).toEqual([])
  })
})

describe('checked arithmetic', () => {
  test('updateReservationItems whose quantities overflow is invalid_data naming quantity', async () => {
    const i = await stocked(10)
    const [a, b] = await t.inventory.createReservationItems([
      { inventory_item_id: i.id, location_id: 'loc', quantity: 1 },
      { inventory_item_id: i.id, location_id: 'loc', quantity: 1 },
    ])
    const err = await t.inventory
      .updateReservationItems([
        { id: a.id, quantity: HUGE, allow_backorder: true },
        { id: b.id, quantity: HUGE, allow_backorder: true },
      ])
      .catch((e) => e)
    expect(err.type).toBe('invalid_data')
    expect(err.message).toMatch(/^quantity /)
    expect(err.message).not.toMatch(/overflow|panic/i)
    expect(await level(i.id)).toEqual({ reserved: '2', available: '8' })
  })

  test('adjustInventory cannot push a level out of what later calls can read', async () => {
    const i = await stocked('9000000000000000000000000000')
    const err = await t.inventory.adjustInventory(i.id, 'loc', 9e27).catch((e) => e)
    expect(err.type).toBe('invalid_data')
    expect(err.message).toMatch(/^adjustment /)
    const arrayErr = await t.inventory
      .adjustInventory([
        { inventoryItemId: i.id, locationId: 'loc', adjustment: 9e27 },
        { inventoryItemId: i.id, locationId: 'loc', adjustment: 1 },
      ])
      .catch((e) => e)
    expect(arrayErr.type).toBe('invalid_data')
    // The level still works for every call.
    await t.inventory.adjustInventory([{ inventoryItemId: i.id, locationId: 'loc', adjustment: 1 }])
    await t.inventory.updateInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: 5 })
    expect(await t.inventory.confirmInventory(i.id, ['loc'], 5)).toBe(true)
  })

  // A level must keep reading back as valid quantities: stocked, reserved and
  // available each at most 28 significant digits. HUGE - 0.25 has 30.
  describe('no write leaves a level past 28 significant digits', () => {
    const refused = async (p) => {
      const err = await p.then(
        () => null,
        (e) => e,
      )
      expect(err && { type: err.type, field: err.message.split(' ')[0] }).toEqual({
        type: 'invalid_data',
        field: expect.any(String),
      })
      expect(err.message).toMatch(/28 significant digits/)
      return err
    }
    const readable = async (i, loc = 'loc') => {
      await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, loc)
      await t.inventory.confirmInventory(i.id, [loc], 1)
      await t.inventory.retrieveAvailableQuantity(i.id, [loc])
      expect(await reservedDrift(t.db)).toEqual([])
    }

    test('adjustInventory, single and array form', async () => {
      const i = await stocked(HUGE)
      await refused(t.inventory.adjustInventory(i.id, 'loc', -0.25))
      await refused(t.inventory.adjustInventory([{ inventoryItemId: i.id, locationId: 'loc', adjustment: '-0.25' }]))
      expect(await level(i.id)).toEqual({ reserved: '0', available: HUGE })
      await readable(i)
    })

    test('updateInventoryLevels: available = stocked - reserved counts too', async () => {
      const i = await stocked(1)
      await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 0.25 })
      await refused(
        t.inventory.updateInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: HUGE }),
      )
      expect(await level(i.id)).toEqual({ reserved: '0.25', available: '0.75' })
      await readable(i)
    })

    test('createReservationItems, alone and in a group; updateReservationItems', async () => {
      const a = await stocked(HUGE)
      const b = await stocked(HUGE)
      const alone = await refused(
        t.inventory.createReservationItems({ inventory_item_id: a.id, location_id: 'loc', quantity: 0.25 }),
      )
      const { mine } = await inGroup({ inventory_item_id: b.id, location_id: 'loc', quantity: 0.25 })
      expect(mine.err).toEqual({ type: alone.type, message: alone.message.split(a.id).join(b.id) })
      const r = await t.inventory.createReservationItems({ inventory_item_id: a.id, location_id: 'loc', quantity: 1 })
      await refused(t.inventory.updateReservationItems({ id: r.id, quantity: 0.75 }))
      expect(await level(a.id)).toEqual({ reserved: '1', available: '9999999999999999999999999998' })
      expect(await level(b.id)).toEqual({ reserved: '0', available: HUGE })
      await readable(a)
    })

    test('releases and restores of reservations', async () => {
      // Backorder at stock 0: reserved climbs to HUGE through in-domain steps.
      const i = await stocked(0)
      const bo = (quantity, line_item_id) => ({
        inventory_item_id: i.id,
        location_id: 'loc',
        quantity,
        allow_backorder: true,
        line_item_id,
      })
      const [small] = await t.inventory.createReservationItems([
        bo(0.25, 'li-small'),
        bo(0.75),
        bo('9999999999999999999999999998'),
      ])
      await refused(t.inventory.deleteReservationItems([small.id]))
      await refused(t.inventory.softDeleteReservationItems([small.id]))
      await refused(t.inventory.deleteReservationItemsByLineItem('li-small'))
      const { rows } = await t.db.query('SELECT deleted_at FROM reservation_item WHERE id = $1', [small.id])
      expect(rows).toEqual([{ deleted_at: null }])
      expect(await level(i.id)).toEqual({ reserved: HUGE, available: '-' + HUGE })
      await readable(i)

      const j = await stocked(0)
      const q = await t.inventory.createReservationItems({
        inventory_item_id: j.id,
        location_id: 'loc',
        quantity: 0.25,
        allow_backorder: true,
      })
      await t.inventory.softDeleteReservationItems([q.id])
      await t.inventory.createReservationItems({
        inventory_item_id: j.id,
        location_id: 'loc',
        quantity: '1000000000000000000000000000',
        allow_backorder: true,
      })
      await refused(t.inventory.restoreReservationItems([q.id]))
      expect(await level(j.id)).toEqual({
        reserved: '1000000000000000000000000000',
        available: '-1000000000000000000000000000',
      })
      await readable(j)
    })
  })

  test('confirmInventory compares sums beyond one level exactly', async () => {
    const i = await stocked('9000000000000000000000000000', 'a')
    await t.inventory.createInventoryLevels({
      inventory_item_id: i.id,
      location_id: 'b',
      stocked_quantity: '9000000000000000000000000000',
    })
    expect(await t.inventory.confirmInventory(i.id, ['a', 'b'], HUGE)).toBe(true)
  })
})

describe('restores re-check availability', () => {
  test('restoreReservationItems refuses to over-reserve and writes nothing', async () => {
    const i = await stocked(10)
    const first = await t.inventory.createReservationItems({
      inventory_item_id: i.id,
      location_id: 'loc',
      quantity: 10,
    })
    await t.inventory.softDeleteReservationItems([first.id])
    await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 10 })
    const err = await t.inventory.restoreReservationItems([first.id]).catch((e) => e)
    expect({ type: err.type, message: err.message }).toEqual({
      type: 'not_allowed',
      message: `Not enough stock available for item ${i.id} at location loc`,
    })
    expect(await level(i.id)).toEqual({ reserved: '10', available: '0' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('restoreReservationItemsByLineItem refuses too; with room it restores', async () => {
    const i = await stocked(10)
    await t.inventory.createReservationItems({
      inventory_item_id: i.id,
      location_id: 'loc',
      quantity: 10,
      line_item_id: 'li-r',
    })
    await t.inventory.deleteReservationItemsByLineItem('li-r')
    const other = await t.inventory.createReservationItems({
      inventory_item_id: i.id,
      location_id: 'loc',
      quantity: 10,
    })
    const err = await t.inventory.restoreReservationItemsByLineItem('li-r').catch((e) => e)
    expect(err.type).toBe('not_allowed')
    expect(await level(i.id)).toEqual({ reserved: '10', available: '0' })
    await t.inventory.deleteReservationItems([other.id])
    await t.inventory.restoreReservationItemsByLineItem('li-r')
    expect(await level(i.id)).toEqual({ reserved: '10', available: '0' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('a backorder reservation restores beyond stock', async () => {
    const i = await stocked(1)
    const r = await t.inventory.createReservationItems({
      inventory_item_id: i.id,
      location_id: 'loc',
      quantity: 5,
      allow_backorder: true,
    })
    await t.inventory.softDeleteReservationItems([r.id])
    await t.inventory.restoreReservationItems([r.id])
    expect(await level(i.id)).toEqual({ reserved: '5', available: '-4' })
  })
})

describe('duplicate ids', () => {
  test('updateReservationItems rejects an id given twice, naming it', async () => {
    const i = await stocked(10)
    const r = await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 5 })
    const err = await t.inventory
      .updateReservationItems([
        { id: r.id, quantity: 3 },
        { id: r.id, quantity: 3 },
      ])
      .catch((e) => e)
    expect(err.type).toBe('invalid_data')
    expect(err.message).toContain(r.id)
    expect(await level(i.id)).toEqual({ reserved: '5', available: '5' })
  })

  test('delete, softDelete and restore with an id twice release it once', async () => {
    const i = await stocked(10)
    const [a, b] = await t.inventory.createReservationItems([
      { inventory_item_id: i.id, location_id: 'loc', quantity: 2 },
      { inventory_item_id: i.id, location_id: 'loc', quantity: 3 },
    ])
    await t.inventory.softDeleteReservationItems([a.id, a.id])
    expect((await level(i.id)).reserved).toBe('3')
    await t.inventory.restoreReservationItems([a.id, a.id])
    expect((await level(i.id)).reserved).toBe('5')
    await t.inventory.deleteReservationItems([b.id, b.id])
    expect((await level(i.id)).reserved).toBe('2')
    expect(await reservedDrift(t.db)).toEqual([])
  })
})

describe('levels taken away release their reservations', () => {
  test('soft-deleted level, re-created: deleting the old reservation leaves the new level at 0', async () => {
    const i = await stocked(10)
    const r = await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 5 })
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    await t.inventory.createInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: 10 })
    await t.inventory.deleteReservationItems([r.id])
    expect(await level(i.id)).toEqual({ reserved: '0', available: '10' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('hard-deleted level and location removal release too; the old reservation cannot be restored onto a new level beyond stock', async () => {
    const i = await stocked(10)
    const r = await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 5 })
    await t.inventory.deleteInventoryLevel(i.id, 'loc')
    const { rows } = await t.db.query('SELECT deleted_at IS NOT NULL AS gone FROM reservation_item WHERE id = $1', [
      r.id,
    ])
    expect(rows[0].gone).toBe(true)
    await t.inventory.createInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: 4 })
    await t.inventory.softDeleteReservationItems([r.id])
    expect(await level(i.id)).toEqual({ reserved: '0', available: '4' })
    expect((await t.inventory.restoreReservationItems([r.id]).catch((e) => e)).type).toBe('not_allowed')

    const j = await stocked(10, 'gone-loc')
    await t.inventory.createReservationItems({ inventory_item_id: j.id, location_id: 'gone-loc', quantity: 5 })
    await t.inventory.deleteInventoryItemLevelByLocationId('gone-loc')
    await t.inventory.createInventoryLevels({ inventory_item_id: j.id, location_id: 'gone-loc', stocked_quantity: 10 })
    await t.inventory.deleteReservationItemByLocationId('gone-loc')
    expect(await level(j.id, 'gone-loc')).toEqual({ reserved: '0', available: '10' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('a release waiting on a reservation that a level restore brings back releases it from the restored level', async () => {
    // restoreInventoryLevels and deleteReservationItems both need reservation r; a third
    // session holds it, so both queue, and the restore commits first. The delete then
    // sees r live and must take it off the level the restore brought back.
    const i = await stocked(10)
    const r = await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 1 })
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    const holder = await sql(t.schema)
    const waiting = (n) => waitBlockedBy(t.db, holder, n)
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1 FROM reservation_item WHERE id = $1 FOR UPDATE', [r.id])
      const restore = t.inventory.restoreInventoryLevels([lvl.id])
      await waiting(1)
      const del = t.inventory.deleteReservationItems([r.id])
      await waiting(2)
      await holder.query('COMMIT')
      await Promise.all([restore, del])
    } finally {
      await holder.end()
    }
    expect(await level(i.id)).toEqual({ reserved: '0', available: '10' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('restoring a soft-deleted level brings back the reservations released with it', async () => {
    const i = await stocked(10)
    await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 4 })
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    await t.inventory.restoreInventoryLevels([lvl.id])
    expect(await level(i.id)).toEqual({ reserved: '4', available: '6' })
    expect(await reservedDrift(t.db)).toEqual([])
  })
})

describe('a release by line item acts on the line reservations that arrive while it runs', () => {
  // The release's statement sees the rows of its snapshot. A reservation of the
  // same line committed after that snapshot must not stay live: the release
  // looks again before it commits, and starts over when something arrived. The
  // holder orders it: the release waits on a level the holder locked, a new
  // reservation of the line commits meanwhile, then the holder lets go.
  // Without a key the release is one statement that looks through migrate's
  // function; on a schema that lacks it (not migrated since it came), BEGIN,
  // release, look and COMMIT go in one round trip.
  const ARRIVED = 'medusa_inventory_rs_arrived'
  test.each([
    ['without a key (one statement, which looks again itself)', null, true],
    ['without a key, on a schema without the look function', null, false],
    ['with an idempotency key', 'arrive-key', true],
  ])('%s', async (_, key, hasFunction) => {
    const a = await stocked(10)
    const b = await stocked(10)
    const line = `li-arrive-${++n}`
    await t.inventory.createReservationItems({
      inventory_item_id: a.id,
      location_id: 'loc',
      quantity: 2,
      line_item_id: line,
    })
    if (!hasFunction) await t.db.query(`DROP FUNCTION ${ARRIVED}(boolean, text[], boolean, text[])`)
    const holder = await sql(t.schema)
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1 FROM inventory_level WHERE inventory_item_id = $1 FOR UPDATE', [a.id])
      const del = settle(t.inventory.deleteReservationItemsByLineItem(line, key && { idempotencyKey: `${key}-${n}` }))
      await waitBlockedBy(t.db, holder, 1)
      const { rows: waiting } = await t.db.query(
        'SELECT query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
        [holder.processID],
      )
      // The one statement names each line item as a parameter of its own (the
      // look is further on, past what pg_stat_activity keeps of a query).
      expect(waiting.map((w) => w.query.includes('line_item_id = ANY(ARRAY[$1::text])'))).toEqual([hasFunction && !key])
      await t.inventory.createReservationItems({
        inventory_item_id: b.id,
        location_id: 'loc',
        quantity: 3,
        line_item_id: line,
      })
      await holder.query('ROLLBACK')
      expect(await del).toEqual({ ok: undefined })
    } finally {
      await holder.end()
      // Puts the function back (and has the service look for it again).
      if (!hasFunction) await t.inventory.migrate()
    }
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM reservation_item WHERE line_item_id = $1 AND deleted_at IS NULL',
      [line],
    )
    expect(rows[0].n).toBe(0)
    expect(await level(a.id)).toEqual({ reserved: '0', available: '10' })
    expect(await level(b.id)).toEqual({ reserved: '0', available: '10' })
    expect(await reservedDrift(t.db)).toEqual([])
  })

  test('restoring by line item also looks again, and a location release as well', async () => {
    // Restore: a reservation of the line made and soft-deleted while the
    // restore waits is restored too. Location: one reserved there while the
    // release waits is released too.
    const a = await stocked(10, 'loc-arr')
    const b = await stocked(10, 'loc-arr')
    const line = `li-arrive-r-${++n}`
    const ra = await t.inventory.createReservationItems({
      inventory_item_id: a.id,
      location_id: 'loc-arr',
      quantity: 2,
      line_item_id: line,
    })
    await t.inventory.createReservationItems({
      inventory_item_id: b.id,
      location_id: 'loc-arr',
      quantity: 3,
      line_item_id: line,
    })
    await t.inventory.softDeleteReservationItems([ra.id])
    const run = async (call, meanwhile) => {
      const holder = await sql(t.schema)
      try {
        await holder.query('BEGIN')
        await holder.query('SELECT 1 FROM inventory_level WHERE inventory_item_id = $1 FOR UPDATE', [a.id])
        const p = settle(call())
        await waitBlockedBy(t.db, holder, 1)
        await meanwhile()
        await holder.query('ROLLBACK')
        return await p
      } finally {
        await holder.end()
      }
    }
    const late = async () => {
      const rc = await t.inventory.createReservationItems({
        inventory_item_id: b.id,
        location_id: 'loc-arr',
        quantity: 1,
        line_item_id: line,
      })
      await t.inventory.softDeleteReservationItems([rc.id])
    }
    expect(await run(() => t.inventory.restoreReservationItemsByLineItem(line), late)).toEqual({ ok: undefined })
    expect(await level(a.id, 'loc-arr')).toEqual({ reserved: '2', available: '8' })
    expect(await level(b.id, 'loc-arr')).toEqual({ reserved: '4', available: '6' })
    const c = await stocked(10, 'loc-arr')
    expect(
      await run(
        () => t.inventory.deleteReservationItemByLocationId('loc-arr'),
        () => t.inventory.createReservationItems({ inventory_item_id: c.id, location_id: 'loc-arr', quantity: 4 }),
      ),
    ).toEqual({ ok: undefined })
    for (const i of [a, b, c]) expect(await level(i.id, 'loc-arr')).toEqual({ reserved: '0', available: '10' })
    expect(await reservedDrift(t.db)).toEqual([])
  })
})

describe('updateReservationItems with many reservations', () => {
  // Up to 32 reservations are updated inside the levels' statement; more go as
  // statements of their own after it. Both must give the same result.
  test.each([[3], [40]])('%i reservations: all in input order, or none when one falls short', async (count) => {
    const items = await Promise.all(Array.from({ length: count }, () => stocked(10)))
    const made = []
    for (const i of items)
      made.push(await t.inventory.createReservationItems({ inventory_item_id: i.id, location_id: 'loc', quantity: 2 }))
    const short = made.map((r, k) => ({ id: r.id, quantity: k === count - 1 ? 11 : 5 }))
    const err = await t.inventory.updateReservationItems(short).catch((e) => e)
    expect(err.type).toBe('not_allowed')
    expect(err.message).toBe(`Not enough stock available for item ${items[count - 1].id} at location loc`)
    for (const i of items) expect(await level(i.id)).toEqual({ reserved: '2', available: '8' })
    const order = [...made].reverse().map((r, k) => ({ id: r.id, quantity: 3 + (k % 2), description: `d${k}` }))
    const out = await t.inventory.updateReservationItems(order)
    expect(out.map((r) => [r.id, r.quantity, r.description])).toEqual(
      order.map((o) => [o.id, o.quantity, o.description]),
    )
    for (const [k, r] of [...made].reverse().entries())
      expect(await level(r.inventory_item_id)).toEqual({ reserved: `${3 + (k % 2)}`, available: `${7 - (k % 2)}` })
    expect(await reservedDrift(t.db)).toEqual([])
  })
})
