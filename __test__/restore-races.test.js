'use strict'
// No exceptions to the guarantees: restores re-derive reserved_quantity from
// what is live after them and are checked as creates, and a write that waited
// for a row lock decides on what is true after the wait. Races are ordered by
// locks held in a separate pg transaction (waitBlockedBy), never by sleeps.
const { freshService, reservedDrift, ledgerGaps, sql, waitBlockedBy } = require('./helpers')

let t
beforeAll(async () => {
  t = await freshService('rr', { maxConnections: 8 })
})
afterAll(async () => {
  await t.cleanup()
})

let n = 0
async function stocked(stock, loc = 'loc') {
  const item = await t.inventory.createInventoryItems({ sku: `rr-${++n}-${Math.random()}` })
  await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: loc, stocked_quantity: stock })
  return item
}

async function level(itemId, loc = 'loc') {
  const { rows } = await t.db.query(
    `SELECT reserved_quantity::text AS reserved, stocked_quantity::text AS stocked
     FROM inventory_level WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL`,
    [itemId, loc],
  )
  return rows[0]
}

const reserve = (item, quantity, extra = {}) =>
  t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'loc', quantity, ...extra })
const failure = (p) =>
  p.then(
    () => ({ resolved: true }),
    (e) => ({ type: e.type, message: e.message }),
  )

/** The invariants every test ends with: no drift, no non-backorder oversell, the ledger adds up. */
async function invariantsHold() {
  expect(await reservedDrift(t.db)).toEqual([])
  const { rows } = await t.db.query(
    `SELECT l.id FROM inventory_level l
     WHERE l.deleted_at IS NULL AND l.reserved_quantity > l.stocked_quantity
       AND NOT EXISTS (SELECT 1 FROM reservation_item r WHERE r.inventory_item_id = l.inventory_item_id
                         AND r.location_id = l.location_id AND r.deleted_at IS NULL AND r.allow_backorder)`,
  )
  expect(rows).toEqual([])
  expect(await ledgerGaps(t.db)).toEqual([])
}

afterEach(invariantsHold)

/**
 * In the holder's open transaction, a level at (item, loc) with `stock` and its opening
 * movement, as createInventoryLevels writes them: other sessions do not see it until
 * the holder commits.
 */
async function levelUncommitted(holder, id, itemId, loc, stock) {
  const raw = (v) => JSON.stringify({ value: String(v), precision: 20 })
  await holder.query(
    `INSERT INTO inventory_level (id, inventory_item_id, location_id, stocked_quantity, raw_stocked_quantity,
                                  raw_reserved_quantity, raw_incoming_quantity)
     VALUES ($1, $2, $3, $4, $5, $6, $6)`,
    [id, itemId, loc, stock, raw(stock), raw(0)],
  )
  await holder.query(
    `INSERT INTO inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason)
     VALUES ($1, $2, $3, 'stocked_quantity', $4, $4, 'level_created')`,
    [id, itemId, loc, stock],
  )
}

describe('restoreInventoryItems re-derives reserved_quantity', () => {
  test('(a) a reservation hard-deleted while its item was soft-deleted is not counted after the restore', async () => {
    const i = await stocked(10)
    await reserve(i, 3)
    const gone = await reserve(i, 2)
    await t.inventory.softDeleteInventoryItems([i.id])
    await t.inventory.deleteReservationItems([gone.id])
    await t.inventory.restoreInventoryItems([i.id])
    expect(await level(i.id)).toEqual({ reserved: '3', stocked: '10' })
    // The re-derivation is in the ledger: exactly the delta, with the restore's reason.
    const { rows } = await t.db.query(
      `SELECT delta::text, resulting::text, reason, method FROM inventory_movement
       WHERE inventory_item_id = $1 AND field = 'reserved_quantity' ORDER BY id DESC LIMIT 1`,
      [i.id],
    )
    expect(rows).toEqual([{ delta: '-2', resulting: '3', reason: 'level_restored', method: 'restoreInventoryItems' }])
  })

  test('(b) level hard-deleted and re-created while the item was soft-deleted: the restored reservations count on the new level', async () => {
    const i = await stocked(10)
    await reserve(i, 4)
    const old = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryItems([i.id])
    await t.inventory.deleteInventoryLevels([old.id])
    await t.inventory.createInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: 10 })
    await t.inventory.restoreInventoryItems([i.id])
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '10' })
    expect(await failure(reserve(i, 10))).toEqual({
      type: 'not_allowed',
      message: `Not enough stock available for item ${i.id} at location loc`,
    })
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '10' })
  })

  test('level soft-deleted with the item and re-created: the old level stays soft-deleted, the reservations count on the live one', async () => {
    const i = await stocked(10)
    const r = await reserve(i, 4)
    const old = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryItems([i.id])
    const fresh = await t.inventory.createInventoryLevels({
      inventory_item_id: i.id,
      location_id: 'loc',
      stocked_quantity: 6,
    })
    const out = await t.inventory.restoreInventoryItems([i.id])
    expect(out).toEqual({ inventory_item_id: [i.id], reservation_item_id: [r.id] })
    const { rows } = await t.db.query(
      'SELECT id, deleted_at IS NOT NULL AS gone FROM inventory_level WHERE inventory_item_id = $1 ORDER BY gone',
      [i.id],
    )
    expect(rows).toEqual([
      { id: fresh.id, gone: false },
      { id: old.id, gone: true },
    ])
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '6' })
  })

  test('a level created at the item and location while the restore runs: the restore starts over and counts on it', async () => {
    const i = await stocked(10)
    const r = await reserve(i, 4)
    const old = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryItems([i.id])
    // Another session creates the new level and has not committed: the restore's snapshot
    // does not see it, the unique index does, so bringing the old level back waits for it.
    const holder = await sql(t.schema)
    const fresh = `ilev_rr_fresh_${n}`
    try {
      await holder.query('BEGIN')
      await levelUncommitted(holder, fresh, i.id, 'loc', 10)
      const restore = failure(t.inventory.restoreInventoryItems([i.id]))
      await waitBlockedBy(t.db, holder, 1)
      await holder.query('COMMIT')
      expect(await restore).toEqual({ resolved: true })
    } finally {
      await holder.end()
    }
    const { rows } = await t.db.query(
      'SELECT id, deleted_at IS NOT NULL AS gone FROM inventory_level WHERE inventory_item_id = $1 ORDER BY gone',
      [i.id],
    )
    expect(rows).toEqual([
      { id: fresh, gone: false },
      { id: old.id, gone: true },
    ])
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '10' })
    const live = await t.db.query('SELECT deleted_at IS NULL AS live FROM reservation_item WHERE id = $1', [r.id])
    expect(live.rows).toEqual([{ live: true }])
  })

  test('a restore whose reservations do not fit is refused as a create would be, and writes nothing', async () => {
    const i = await stocked(10)
    await reserve(i, 4)
    const old = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryItems([i.id])
    await t.inventory.deleteInventoryLevels([old.id])
    // No level at all: not stocked.
    expect(await failure(t.inventory.restoreInventoryItems([i.id]))).toEqual({
      type: 'not_found',
      message: `Item ${i.id} is not stocked at location loc`,
    })
    // A level too small: not enough stock.
    await t.inventory.createInventoryLevels({ inventory_item_id: i.id, location_id: 'loc', stocked_quantity: 3 })
    const movements = (await t.db.query('SELECT count(*)::int AS n FROM inventory_movement')).rows[0].n
    expect(await failure(t.inventory.restoreInventoryItems([i.id]))).toEqual({
      type: 'not_allowed',
      message: `Not enough stock available for item ${i.id} at location loc`,
    })
    const { rows } = await t.db.query(
      `SELECT (SELECT deleted_at IS NOT NULL FROM inventory_item WHERE id = $1) AS item_gone,
              (SELECT count(*)::int FROM reservation_item WHERE inventory_item_id = $1 AND deleted_at IS NULL) AS live,
              (SELECT count(*)::int FROM inventory_movement) AS movements`,
      [i.id],
    )
    expect(rows[0]).toEqual({ item_gone: true, live: 0, movements })
    expect(await level(i.id)).toEqual({ reserved: '0', stocked: '3' })
    // With backorder the same reservation comes back beyond stock.
    await t.db.query('UPDATE reservation_item SET allow_backorder = true WHERE inventory_item_id = $1', [i.id])
    await t.inventory.restoreInventoryItems([i.id])
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '3' })
  })
})

describe('restoreReservationItems holds restored non-backorder reservations to the re-derived reserved', () => {
  test('a backorder reservation restored beside a guarded one does not let the guarded one oversell', async () => {
    const i = await stocked(10)
    const guarded = await reserve(i, 5)
    const bo = await reserve(i, 8, { allow_backorder: true })
    await t.inventory.softDeleteReservationItems([bo.id, guarded.id])
    expect(await failure(t.inventory.restoreReservationItems([bo.id, guarded.id]))).toEqual({
      type: 'not_allowed',
      message: `Not enough stock available for item ${i.id} at location loc`,
    })
    expect(await level(i.id)).toEqual({ reserved: '0', stocked: '10' })
  })
})

/**
 * Starts `second` queued behind `first` on the reservation `resId`: a pg
 * transaction holds the row, `first` waits on it, then `second` (whose
 * statement has taken its snapshot by then) waits too; then the row is let go.
 */
async function queuedBehind(resId, first, second) {
  const holder = await sql(t.schema)
  try {
    await holder.query('BEGIN')
    await holder.query('SELECT 1 FROM reservation_item WHERE id = $1 FOR UPDATE', [resId])
    const a = first()
    await waitBlockedBy(t.db, holder, 1)
    const b = second()
    await waitBlockedBy(t.db, holder, 2)
    await holder.query('COMMIT')
    return await Promise.all([failure(a), failure(b)])
  } finally {
    await holder.end()
  }
}

describe('a write queued behind restoreInventoryLevels decides on the restored rows', () => {
  test.each([
    ['one statement', undefined],
    ['keyed transaction', 'key'],
  ])('updateReservationItems changing the quantity (%s)', async (_, key) => {
    const i = await stocked(30)
    const r = await reserve(i, 25)
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    const results = await queuedBehind(
      r.id,
      () => t.inventory.restoreInventoryLevels([lvl.id]),
      () => t.inventory.updateReservationItems({ id: r.id, quantity: 4 }, key && { idempotencyKey: `upd-q-${n}` }),
    )
    expect(results).toEqual([{ resolved: true }, { resolved: true }])
    expect(await level(i.id)).toEqual({ reserved: '4', stocked: '30' })
  })

  test.each([
    ['one statement', undefined],
    ['keyed transaction', 'key'],
  ])('updateReservationItems moving the reservation to another location (%s)', async (_, key) => {
    const i = await stocked(30)
    await t.inventory.createInventoryLevels({ inventory_item_id: i.id, location_id: 'loc2', stocked_quantity: 30 })
    const r = await reserve(i, 25)
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    const results = await queuedBehind(
      r.id,
      () => t.inventory.restoreInventoryLevels([lvl.id]),
      () =>
        t.inventory.updateReservationItems({ id: r.id, location_id: 'loc2' }, key && { idempotencyKey: `upd-m-${n}` }),
    )
    expect(results).toEqual([{ resolved: true }, { resolved: true }])
    expect(await level(i.id)).toEqual({ reserved: '0', stocked: '30' })
    expect(await level(i.id, 'loc2')).toEqual({ reserved: '25', stocked: '30' })
  })

  test.each([
    ['by id', 'id', undefined],
    ['by id, keyed', 'id', 'key'],
    ['by line item', 'line', undefined],
    ['by line item, keyed', 'line', 'key'],
  ])('restoreReservationItems %s finds the level the level restore brought back', async (_, by, key) => {
    const i = await stocked(30)
    const line = `rr-line-${n}`
    const alone = await reserve(i, 5, { line_item_id: line })
    await t.inventory.softDeleteReservationItems([alone.id])
    const withLevel = await reserve(i, 7)
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    await t.inventory.softDeleteInventoryLevels([lvl.id])
    // The line item's reservation is restored by a call queued behind the
    // level restore (on the row the level restore brings back, by id; on
    // the line item's, which the holder locks too, by line item).
    await t.db.query('UPDATE reservation_item SET line_item_id = $2 WHERE id = $1', [withLevel.id, line])
    const results = await queuedBehind(
      withLevel.id,
      () => t.inventory.restoreInventoryLevels([lvl.id]),
      () =>
        by === 'id'
          ? t.inventory.restoreReservationItems(
              [withLevel.id, alone.id],
              undefined,
              key && { idempotencyKey: `rr-id-${n}` },
            )
          : t.inventory.restoreReservationItemsByLineItem(line, key && { idempotencyKey: `rr-line-${n}` }),
    )
    expect(results).toEqual([{ resolved: true }, { resolved: true }])
    expect(await level(i.id)).toEqual({ reserved: '12', stocked: '30' })
  })
})

describe('a hard item delete and a reservation restore at its level do not deadlock', () => {
  test('the delete locks every reservation its cascade removes before the levels', async () => {
    const i = await stocked(10)
    const r = await reserve(i, 4)
    await t.inventory.softDeleteReservationItems([r.id])
    const lvl = await t.inventory.retrieveInventoryLevelByItemAndLocation(i.id, 'loc')
    // The holder has the level; the delete queues for it first, then the restore, which
    // by then holds the soft-deleted reservation the delete's cascade must remove.
    const holder = await sql(t.schema)
    let results
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE', [lvl.id])
      const del = failure(t.inventory.deleteInventoryItems([i.id]))
      await waitBlockedBy(t.db, holder, 1)
      const restore = failure(t.inventory.restoreReservationItems([r.id]))
      await waitBlockedBy(t.db, holder, 2)
      await holder.query('COMMIT')
      results = await Promise.all([del, restore])
    } finally {
      await holder.end()
    }
    // One order explains both: the delete first (the restore finds nothing to restore)
    // or the restore first (then the delete removes what it brought back). Never a
    // deadlock broken by Postgres.
    expect(results[0]).toEqual({ resolved: true })
    expect(results[1].type).not.toBe('conflict')
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM reservation_item WHERE inventory_item_id = $1', [
      i.id,
    ])
    expect(rows).toEqual([{ n: 0 }])
  })
})

describe('a level created for an item while the item is hard-deleted', () => {
  test('is locked and closed in the ledger with the others, never removed unrecorded by the cascade', async () => {
    const i = await stocked(10)
    // Another session creates a second level and has not committed: its foreign key
    // check holds the item, so the delete waits for it and must then see the level.
    const holder = await sql(t.schema)
    const fresh = `ilev_rr_late_${n}`
    let result
    try {
      await holder.query('BEGIN')
      await levelUncommitted(holder, fresh, i.id, 'loc2', 7)
      const del = failure(t.inventory.deleteInventoryItems([i.id]))
      await waitBlockedBy(t.db, holder, 1)
      await holder.query('COMMIT')
      result = await del
    } finally {
      await holder.end()
    }
    expect(result).toEqual({ resolved: true })
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM inventory_level WHERE inventory_item_id = $1', [
      i.id,
    ])
    expect(rows).toEqual([{ n: 0 }])
    // The late level is closed: its movements sum to zero (afterEach checks every level).
    const closed = await t.db.query(
      `SELECT sum(delta)::text AS sum, count(*)::int AS n FROM inventory_movement WHERE inventory_level_id = $1`,
      [fresh],
    )
    expect(closed.rows).toEqual([{ sum: '0', n: 2 }])
  })
})
