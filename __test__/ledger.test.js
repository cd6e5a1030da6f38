'use strict'
// The movement ledger: every write path adds its rows in the same transaction as the
// change, so each level's quantities equal the sum of its movements (verifyInventoryLedger).
// Also idempotency keys, compare-and-set and the ledger side of reconcile.
const { freshService, ledgerGaps, ledgerOutOfOrder, sql, waitBlockedBy, DATABASE_URL } = require('./helpers')

let t
let inv
beforeEach(async () => {
  t = await freshService('ledger', { maxConnections: 4 })
  inv = t.inventory
})
afterEach(() => t.cleanup())

/** Movement rows of a level in ledger order (by id), as plain values. */
async function movementsOf(levelId) {
  const { rows } = await t.db.query(
    `SELECT field, delta::text, resulting::text, reason, method, actor, reference, reservation_item_id,
            line_item_id, idempotency_key, metadata
     FROM inventory_movement WHERE inventory_level_id = $1 ORDER BY id`,
    [levelId],
  )
  return rows
}

/** Asserts the whole ledger agrees with the levels (raw SQL and the module's own check). */
async function expectBalanced() {
  expect(await ledgerGaps(t.db)).toEqual([])
  const report = await inv.verifyInventoryLedger()
  expect(report).toMatchObject({ ok: true, levels: [], next: null })
  // Per level and quantity, in ledger order (id), `resulting` is the running sum of `delta`.
  expect(await ledgerOutOfOrder(t.db)).toEqual([])
}

async function level(stocked = 10, location_id = 'loc_1', extra = {}) {
  const item = await inv.createInventoryItems({ sku: `sku-${Math.random()}` })
  const lvl = await inv.createInventoryLevels({
    inventory_item_id: item.id,
    location_id,
    stocked_quantity: stocked,
    ...extra,
  })
  return { item, level: lvl }
}

/** Reads the feed from `after` one movement per call until `n` came (a transaction open elsewhere on the server may hold it back a while). */
async function readFeed(after, n) {
  const got = []
  while (got.length < n) {
    const page = await inv.listInventoryMovementFeed({ after, limit: 1 })
    if (page.length === 0) {
      await new Promise((res) => setTimeout(res, 20))
      continue
    }
    got.push(...page)
    after = page[page.length - 1].cursor
  }
  return { got, after }
}

const pick = (rows, keys) => rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])))

describe('every write path writes its movements', () => {
  test('createInventoryLevels opens each quantity it sets', async () => {
    const { level: l } = await level(10, 'loc_1', { incoming_quantity: 4 })
    expect(pick(await movementsOf(l.id), ['field', 'delta', 'resulting', 'reason', 'method'])).toEqual([
      {
        field: 'stocked_quantity',
        delta: '10',
        resulting: '10',
        reason: 'level_created',
        method: 'createInventoryLevels',
      },
      {
        field: 'incoming_quantity',
        delta: '4',
        resulting: '4',
        reason: 'level_created',
        method: 'createInventoryLevels',
      },
    ])
    await expectBalanced()
  })

  test('updateInventoryLevels, adjustInventory (both forms) with reason, actor, reference, metadata', async () => {
    const { item, level: l } = await level(10)
    await inv.updateInventoryLevels(
      { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 7, incoming_quantity: 2 },
      { reason: 'damaged', actor: 'user_1', reference: 'count-9', metadata: { bin: 'A3' } },
    )
    await inv.adjustInventory(item.id, 'loc_1', 5)
    await inv.adjustInventory([{ inventoryItemId: item.id, locationId: 'loc_1', adjustment: -2 }], {
      reason: 'shrinkage',
    })
    const rows = await movementsOf(l.id)
    expect(
      pick(rows.slice(1), ['field', 'delta', 'resulting', 'reason', 'method', 'actor', 'reference', 'metadata']),
    ).toEqual([
      {
        field: 'stocked_quantity',
        delta: '-3',
        resulting: '7',
        reason: 'damaged',
        method: 'updateInventoryLevels',
        actor: 'user_1',
        reference: 'count-9',
        metadata: { bin: 'A3' },
      },
      {
        field: 'incoming_quantity',
        delta: '2',
        resulting: '2',
        reason: 'damaged',
        method: 'updateInventoryLevels',
        actor: 'user_1',
        reference: 'count-9',
        metadata: { bin: 'A3' },
      },
      {
        field: 'stocked_quantity',
        delta: '5',
        resulting: '12',
        reason: 'adjustment',
        method: 'adjustInventory',
        actor: null,
        reference: null,
        metadata: null,
      },
      {
        field: 'stocked_quantity',
        delta: '-2',
        resulting: '10',
        reason: 'shrinkage',
        method: 'adjustInventory',
        actor: null,
        reference: null,
        metadata: null,
      },
    ])
    await expectBalanced()
  })

  test('reservations created (alone and grouped), updated, moved, deleted, restored name the reservation and line item', async () => {
    const { item, level: a } = await level(20, 'loc_a')
    const b = await inv.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'loc_b',
      stocked_quantity: 20,
    })
    const r1 = await inv.createReservationItems(
      { inventory_item_id: item.id, location_id: 'loc_a', quantity: 3, line_item_id: 'li_1' },
      { reference: 'order_1' },
    )
    const [r2, r3] = await inv.createReservationItems([
      { inventory_item_id: item.id, location_id: 'loc_a', quantity: 2, line_item_id: 'li_2' },
      { inventory_item_id: item.id, location_id: 'loc_b', quantity: 1, line_item_id: 'li_3' },
    ])
    await inv.updateReservationItems({ id: r1.id, quantity: 4 })
    await inv.updateReservationItems({ id: r2.id, location_id: 'loc_b' })
    await inv.softDeleteReservationItems([r3.id])
    await inv.restoreReservationItems([r3.id])
    await inv.deleteReservationItemsByLineItem(['li_1'])
    await inv.restoreReservationItemsByLineItem(['li_1'])
    await inv.deleteReservationItems([r1.id])
    const ra = pick(await movementsOf(a.id), [
      'delta',
      'resulting',
      'reason',
      'reservation_item_id',
      'line_item_id',
      'reference',
    ])
    expect(ra.slice(1)).toEqual([
      {
        delta: '3',
        resulting: '3',
        reason: 'reservation_created',
        reservation_item_id: r1.id,
        line_item_id: 'li_1',
        reference: 'order_1',
      },
      {
        delta: '2',
        resulting: '5',
        reason: 'reservation_created',
        reservation_item_id: r2.id,
        line_item_id: 'li_2',
        reference: null,
      },
      {
        delta: '1',
        resulting: '6',
        reason: 'reservation_updated',
        reservation_item_id: r1.id,
        line_item_id: 'li_1',
        reference: null,
      },
      {
        delta: '-2',
        resulting: '4',
        reason: 'reservation_updated',
        reservation_item_id: r2.id,
        line_item_id: 'li_2',
        reference: null,
      },
      {
        delta: '-4',
        resulting: '0',
        reason: 'reservation_deleted',
        reservation_item_id: r1.id,
        line_item_id: 'li_1',
        reference: null,
      },
      {
        delta: '4',
        resulting: '4',
        reason: 'reservation_restored',
        reservation_item_id: r1.id,
        line_item_id: 'li_1',
        reference: null,
      },
      {
        delta: '-4',
        resulting: '0',
        reason: 'reservation_deleted',
        reservation_item_id: r1.id,
        line_item_id: 'li_1',
        reference: null,
      },
    ])
    const rb = pick(await movementsOf(b.id), ['delta', 'resulting', 'reason', 'reservation_item_id'])
    expect(rb.slice(1)).toEqual([
      { delta: '1', resulting: '1', reason: 'reservation_created', reservation_item_id: r3.id },
      { delta: '2', resulting: '3', reason: 'reservation_updated', reservation_item_id: r2.id },
      { delta: '-1', resulting: '2', reason: 'reservation_deleted', reservation_item_id: r3.id },
      { delta: '1', resulting: '3', reason: 'reservation_restored', reservation_item_id: r3.id },
    ])
    await expectBalanced()
  })

  test('a group of concurrent reservation calls writes one running row per call', async () => {
    const grouped = await require('..').InventoryService.connect({
      url: DATABASE_URL,
      schema: t.schema,
      groupReservations: { forceGroupOf: 3 },
    })
    try {
      const { item, level: l } = await level(10)
      const out = await Promise.allSettled(
        [1, 2, 30].map((q, i) =>
          grouped.createReservationItems(
            { inventory_item_id: item.id, location_id: 'loc_1', quantity: q, line_item_id: `li_${i}` },
            { reference: `ref_${i}` },
          ),
        ),
      )
      expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
      // The group applies its calls in the order they reached the queue (not always the
      // order they were made in): each row's resulting is the running sum in that order.
      const rows = pick((await movementsOf(l.id)).slice(1), ['delta', 'resulting', 'reference', 'line_item_id'])
      expect([...rows].sort((a, b) => a.reference.localeCompare(b.reference))).toEqual([
        { delta: '1', resulting: rows[0].reference === 'ref_0' ? '1' : '3', reference: 'ref_0', line_item_id: 'li_0' },
        { delta: '2', resulting: rows[0].reference === 'ref_1' ? '2' : '3', reference: 'ref_1', line_item_id: 'li_1' },
      ])
      await expectBalanced()
    } finally {
      await grouped.close()
    }
  })

  test('levels deleted close, soft-deleted and restored keep the sums, items deleted close their levels', async () => {
    const { item, level: l } = await level(10, 'loc_1', { incoming_quantity: 3 })
    const l2 = await inv.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'loc_2',
      stocked_quantity: 6,
    })
    const l3 = await inv.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'loc_3',
      stocked_quantity: 5,
    })
    await inv.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_2', quantity: 2 })
    await inv.softDeleteInventoryLevels([l2.id])
    // Drift made behind the module's back, then restored: restore sets reserved to the live sum.
    await t.db.query(`UPDATE inventory_level SET reserved_quantity = 9 WHERE id = $1`, [l2.id])
    await t.db.query(
      `INSERT INTO inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason) VALUES ($1, $2, 'loc_2', 'reserved_quantity', 7, 9, 'test')`,
      [l2.id, item.id],
    )
    await inv.restoreInventoryLevels([l2.id])
    expect(pick((await movementsOf(l2.id)).slice(-1), ['delta', 'resulting', 'reason'])).toEqual([
      { delta: '-7', resulting: '2', reason: 'level_restored' },
    ])
    await inv.deleteInventoryLevel(item.id, 'loc_1')
    expect(pick((await movementsOf(l.id)).slice(-2), ['field', 'delta', 'resulting', 'reason'])).toEqual([
      { field: 'stocked_quantity', delta: '-10', resulting: '0', reason: 'level_deleted' },
      { field: 'incoming_quantity', delta: '-3', resulting: '0', reason: 'level_deleted' },
    ])
    await inv.softDeleteInventoryItems([item.id])
    await inv.restoreInventoryItems([item.id])
    await expectBalanced()
    await inv.deleteInventoryLevels([l3.id])
    await inv.deleteInventoryItems([item.id])
    expect(pick((await movementsOf(l2.id)).slice(-2), ['field', 'delta', 'reason', 'method'])).toEqual([
      { field: 'stocked_quantity', delta: '-6', reason: 'level_deleted', method: 'deleteInventoryItems' },
      { field: 'reserved_quantity', delta: '-2', reason: 'level_deleted', method: 'deleteInventoryItems' },
    ])
    await expectBalanced()
  })

  test('a refused write writes no movement', async () => {
    const { item, level: l } = await level(2)
    const before = await movementsOf(l.id)
    await expect(
      inv.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_1', quantity: 3 }),
    ).rejects.toMatchObject({ type: 'not_allowed' })
    await expect(inv.adjustInventory(item.id, 'loc_1', '9999999999999999999999999999')).rejects.toMatchObject({
      type: 'invalid_data',
    })
    await expect(
      inv.updateInventoryLevels([
        { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 1 },
        { inventory_item_id: item.id, location_id: 'nowhere', stocked_quantity: 1 },
      ]),
    ).rejects.toMatchObject({ type: 'not_found' })
    expect(await movementsOf(l.id)).toEqual(before)
  })
})

describe('listInventoryMovements', () => {
  test('filters, orders and pages; dates are Dates', async () => {
    const { item, level: l } = await level(10)
    for (let i = 1; i <= 4; i++) await inv.adjustInventory(item.id, 'loc_1', i, { reference: i % 2 ? 'odd' : 'even' })
    const [rows, count] = await inv.listAndCountInventoryMovements(
      { inventory_item_id: item.id, reason: 'adjustment' },
      { order: { id: 'DESC' }, take: 2, skip: 1 },
    )
    expect(count).toBe(4)
    expect(rows.map((r) => r.delta)).toEqual([3, 2])
    expect(rows[0].created_at).toBeInstanceOf(Date)
    expect(rows[0]).toMatchObject({
      inventory_level_id: l.id,
      location_id: 'loc_1',
      field: 'stocked_quantity',
      method: 'adjustInventory',
    })
    const odd = await inv.listInventoryMovements({ reference: ['odd'], field: 'stocked_quantity' })
    expect(odd.map((r) => r.delta)).toEqual([1, 3])
    const later = await inv.listInventoryMovements({
      created_at: { $gte: new Date(Date.now() - 60000).toISOString() },
      inventory_level_id: l.id,
    })
    expect(later).toHaveLength(5)
  })

  test('unknown filters and options are refused by name', async () => {
    await expect(inv.listInventoryMovements({ delta: 1 })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining("'delta'"),
    })
    await expect(inv.listInventoryMovements({}, { order: { reason: 'ASC' } })).rejects.toMatchObject({
      type: 'invalid_data',
    })
    await expect(inv.listInventoryMovements({ created_at: { $gte: 'yesterday' } })).rejects.toMatchObject({
      type: 'invalid_data',
    })
    await expect(inv.adjustInventory('i', 'l', 1, { reasn: 'x' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('reasn'),
    })
  })
})

describe('idempotency keys', () => {
  test('a repeat returns the first result and applies nothing; other arguments are refused', async () => {
    const { item, level: l } = await level(10)
    const first = await inv.adjustInventory(item.id, 'loc_1', 3, { idempotencyKey: 'k-adj' })
    const again = await inv.adjustInventory(item.id, 'loc_1', 3, { idempotencyKey: 'k-adj' })
    expect(again).toEqual(first)
    expect((await inv.retrieveInventoryLevel(l.id)).stocked_quantity).toBe(13)
    await expect(inv.adjustInventory(item.id, 'loc_1', 4, { idempotencyKey: 'k-adj' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('k-adj'),
    })
    const r = await inv.createReservationItems(
      { id: undefined, inventory_item_id: item.id, location_id: 'loc_1', quantity: 2 },
      { idempotencyKey: 'k-res' },
    )
    const r2 = await inv.createReservationItems(
      { id: undefined, inventory_item_id: item.id, location_id: 'loc_1', quantity: 2 },
      { idempotencyKey: 'k-res' },
    )
    expect(r2.id).toBe(r.id)
    expect((await inv.listReservationItems({ inventory_item_id: item.id })).length).toBe(1)
    expect((await movementsOf(l.id)).filter((m) => m.idempotency_key)).toHaveLength(2)
    await expectBalanced()
  })

  test('concurrent twins, alone or in one reservation group, apply once and both get the result', async () => {
    const { item, level: l } = await level(10)
    const twins = await Promise.all(
      [1, 2, 3].map(() => inv.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-twin' })),
    )
    expect(new Set(twins.map((x) => x.stocked_quantity))).toEqual(new Set([11]))
    const grouped = await require('..').InventoryService.connect({
      url: DATABASE_URL,
      schema: t.schema,
      groupReservations: { forceGroupOf: 3 },
    })
    try {
      const call = () =>
        grouped.createReservationItems(
          { inventory_item_id: item.id, location_id: 'loc_1', quantity: 1 },
          { idempotencyKey: 'k-group' },
        )
      const [a, b, c] = await Promise.all([call(), call(), call()])
      expect(b.id).toBe(a.id)
      expect(c.id).toBe(a.id)
    } finally {
      await grouped.close()
    }
    expect((await inv.retrieveInventoryLevel(l.id)).reserved_quantity).toBe(1)
    await expectBalanced()
  })

  test('every write method takes a key (its repeat changes nothing)', async () => {
    const { item, level: l } = await level(10)
    const snapshot = async () =>
      (
        await t.db.query(
          `SELECT (SELECT count(*) FROM inventory_movement)::int AS m, (SELECT count(*) FROM inventory_idempotency_key)::int AS k`,
        )
      ).rows[0]
    const calls = [
      ['updateInventoryItems', [{ id: item.id, title: 'x' }]],
      ['updateInventoryLevels', [{ inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 12 }]],
      [
        'setInventoryQuantities',
        [{ inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 15, expected_stocked_quantity: 12 }],
      ],
      ['softDeleteInventoryLevels', [[l.id], {}]],
      ['restoreInventoryLevels', [[l.id], {}]],
    ]
    for (const [name, args] of calls) {
      const first = await inv[name](...args, { idempotencyKey: `k-${name}` })
      const before = await snapshot()
      expect(await inv[name](...args, { idempotencyKey: `k-${name}` })).toEqual(first)
      expect(await snapshot()).toEqual(before)
    }
    expect((await inv.retrieveInventoryLevel(l.id)).stocked_quantity).toBe(15)
  })

  test('an expired key is free again', async () => {
    const short = await require('..').InventoryService.connect({
      url: DATABASE_URL,
      schema: t.schema,
      idempotencyKeyTtl: 1,
    })
    try {
      const { item, level: l } = await level(10)
      await short.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-exp' })
      await t.db.query(`UPDATE inventory_idempotency_key SET expires_at = now() - interval '1 second'`)
      await short.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-exp' })
      expect((await inv.retrieveInventoryLevel(l.id)).stocked_quantity).toBe(12)
    } finally {
      await short.close()
    }
  })
})

describe('compare-and-set', () => {
  test('a stale expectation is refused with COMPARE_QUANTITY_STALE and writes nothing', async () => {
    const { item, level: l } = await level(10)
    const before = await movementsOf(l.id)
    const stale = {
      type: 'conflict',
      code: 'COMPARE_QUANTITY_STALE',
      message: expect.stringContaining('is 10, not the expected 9'),
    }
    await expect(
      inv.setInventoryQuantities([
        { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 42, expected_stocked_quantity: 9 },
      ]),
    ).rejects.toMatchObject(stale)
    await expect(
      inv.updateInventoryLevels({
        inventory_item_id: item.id,
        location_id: 'loc_1',
        stocked_quantity: 42,
        expected_stocked_quantity: 9,
      }),
    ).rejects.toMatchObject(stale)
    await expect(inv.adjustInventory(item.id, 'loc_1', 1, { expectedStockedQuantity: 9 })).rejects.toMatchObject(stale)
    await expect(
      inv.adjustInventory([
        { inventoryItemId: item.id, locationId: 'loc_1', adjustment: 1, expectedStockedQuantity: 9 },
      ]),
    ).rejects.toMatchObject(stale)
    expect(await movementsOf(l.id)).toEqual(before)
    await expect(
      inv.setInventoryQuantities([{ inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 42 }]),
    ).rejects.toMatchObject({ type: 'invalid_data', message: expect.stringContaining('expected_stocked_quantity') })
    const counted = await inv.setInventoryQuantities(
      [{ inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 42, expected_stocked_quantity: 10 }],
      { reference: 'count-1' },
    )
    expect(counted[0].stocked_quantity).toBe(42)
    await inv.adjustInventory(item.id, 'loc_1', -2, { expectedStockedQuantity: 42 })
    expect(pick((await movementsOf(l.id)).slice(-2), ['delta', 'reason', 'reference'])).toEqual([
      { delta: '32', reason: 'cycle_count', reference: 'count-1' },
      { delta: '-2', reason: 'adjustment', reference: null },
    ])
    await expectBalanced()
  })
})

describe('ledger drift', () => {
  test('opening balances on migrate, verify reports a gap, reconcile closes it with reason reconcile', async () => {
    const { item, level: l } = await level(10)
    // Written behind the module's back (as Medusa's own module would): no movement.
    await t.db.query(`UPDATE inventory_level SET stocked_quantity = 13 WHERE id = $1`, [l.id])
    await t.db.query(
      `INSERT INTO inventory_level (id, inventory_item_id, location_id, stocked_quantity, incoming_quantity) VALUES ('ilev_raw', $1, 'loc_raw', 4, 1)`,
      [item.id],
    )
    const report = await inv.verifyInventoryLedger()
    expect(report.ok).toBe(false)
    expect(report.levels).toEqual(
      expect.arrayContaining([{ id: l.id, field: 'stocked_quantity', quantity: 13, ledger_sum: 10 }]),
    )
    const dry = await inv.reconcile({ dryRun: true })
    expect(dry.ledger).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: l.id, field: 'stocked_quantity', fixed: false })]),
    )
    expect((await inv.verifyInventoryLedger()).ok).toBe(false)
    const fixed = await inv.reconcile({})
    expect(fixed.ledger).toHaveLength(3)
    expect(pick((await movementsOf(l.id)).slice(-1), ['delta', 'resulting', 'reason'])).toEqual([
      { delta: '3', resulting: '13', reason: 'reconcile' },
    ])
    await expectBalanced()
    // A database from before the ledger: migrate opens every level it finds.
    await t.db.query(`DELETE FROM inventory_movement; DELETE FROM medusa_inventory_rs_schema`)
    await inv.migrate()
    expect(pick(await movementsOf('ilev_raw'), ['field', 'delta', 'reason'])).toEqual([
      { field: 'stocked_quantity', delta: '4', reason: 'opening_balance' },
      { field: 'incoming_quantity', delta: '1', reason: 'opening_balance' },
    ])
    await expectBalanced()
  })

  test('connect option ledger: false writes no movements', async () => {
    const off = await require('..').InventoryService.connect({ url: DATABASE_URL, schema: t.schema, ledger: false })
    try {
      const item = await off.createInventoryItems({})
      const l = await off.createInventoryLevels({
        inventory_item_id: item.id,
        location_id: 'loc_1',
        stocked_quantity: 3,
      })
      await off.adjustInventory(item.id, 'loc_1', 1)
      await off.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_1', quantity: 1 })
      expect(await movementsOf(l.id)).toEqual([])
    } finally {
      await off.close()
    }
  })
})

describe('reconcile on a connection with ledger: false', () => {
  test('reports ledger gaps as not fixed and writes no movement', async () => {
    const { level: l } = await level(10)
    await t.db.query(`UPDATE inventory_level SET stocked_quantity = 13 WHERE id = $1`, [l.id])
    const before = await movementsOf(l.id)
    const off = await require('..').InventoryService.connect({ url: DATABASE_URL, schema: t.schema, ledger: false })
    try {
      const report = await off.reconcile({})
      expect(report.ledger).toEqual([
        { id: l.id, field: 'stocked_quantity', quantity: 13, ledger_sum: 10, fixed: false },
      ])
    } finally {
      await off.close()
    }
    expect(await movementsOf(l.id)).toEqual(before)
    expect((await inv.verifyInventoryLedger()).ok).toBe(false)
    // A connection that writes the ledger closes it.
    expect((await inv.reconcile({})).ledger).toEqual([expect.objectContaining({ id: l.id, fixed: true })])
    await expectBalanced()
  })
})

describe('ledger order', () => {
  test('a batch that waited for a level lock is listed after the adjustment that went ahead of it', async () => {
    const item = await inv.createInventoryItems({ sku: `sku-${Math.random()}` })
    const created = await inv.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'loc_a', stocked_quantity: 10 },
      { inventory_item_id: item.id, location_id: 'loc_b', stocked_quantity: 10 },
    ])
    // The batch locks its levels in id order: hold the first one so that it waits
    // before it has touched the second.
    const { rows: order } = await t.db.query(`SELECT id FROM inventory_level WHERE id = ANY($1) ORDER BY id`, [
      created.map((l) => l.id),
    ])
    const [first, second] = order.map((r) => created.find((l) => l.id === r.id))
    const holder = await sql(t.schema)
    try {
      await holder.query('BEGIN')
      await holder.query('SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE', [first.id])
      const batch = inv.adjustInventory([
        { inventoryItemId: item.id, locationId: first.location_id, adjustment: 2 },
        { inventoryItemId: item.id, locationId: second.location_id, adjustment: 1 },
      ])
      await waitBlockedBy(t.db, holder, 1)
      // Starts after the batch, commits before it.
      await inv.adjustInventory(item.id, second.location_id, 5)
      await holder.query('COMMIT')
      await batch
    } finally {
      await holder.end()
    }
    const listed = await inv.listInventoryMovements({ inventory_level_id: second.id })
    expect(listed.map((m) => [m.delta, m.resulting])).toEqual([
      [10, 10],
      [5, 15],
      [1, 16],
    ])
    // The batch's movement is dated at its transaction's start, before the +5.
    expect(listed[2].created_at.getTime()).toBeLessThanOrEqual(listed[1].created_at.getTime())
    const [desc] = await inv.listAndCountInventoryMovements(
      { inventory_level_id: second.id },
      { order: { id: 'DESC' } },
    )
    expect(desc.map((m) => m.resulting)).toEqual([16, 15, 10])
    await expectBalanced()
  })
})

describe('listInventoryMovementFeed', () => {
  test('a movement whose transaction commits late is delivered once, none missed or repeated', async () => {
    const { item: ia, level: a } = await level(10, 'loc_a')
    const { item: ib, level: b } = await level(10, 'loc_b')
    // A writer that has moved level a and written its movement but not committed yet...
    const writer = await sql(t.schema)
    let late
    try {
      await writer.query('BEGIN')
      await writer.query(`UPDATE inventory_level SET stocked_quantity = 11 WHERE id = $1`, [a.id])
      ;({
        rows: [late],
      } = await writer.query(
        `INSERT INTO inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason)
         VALUES ($1, $2, 'loc_a', 'stocked_quantity', 1, 11, 'adjustment') RETURNING id::text`,
        [a.id, ia.id],
      ))
      // ...while a later one commits first, with a higher movement id.
      await inv.adjustInventory(ib.id, 'loc_b', 2)
      const [early] = await inv.listInventoryMovements({ inventory_level_id: b.id, reason: 'adjustment' })
      expect(BigInt(early.id)).toBeGreaterThan(BigInt(late.id))
      // Read while the writer is open: the feed stops before the open transaction.
      const { got: opening, after } = await readFeed(null, 2)
      expect(opening.map((m) => [m.inventory_level_id, m.reason])).toEqual([
        [a.id, 'level_created'],
        [b.id, 'level_created'],
      ])
      expect(await inv.listInventoryMovementFeed({ after })).toEqual([])
      await writer.query('COMMIT')
      const { got: rest, after: end } = await readFeed(after, 2)
      expect(rest.map((m) => m.id)).toEqual([late.id, early.id])
      expect(rest[1]).toMatchObject({ inventory_level_id: b.id, delta: 2, resulting: 12, cursor: expect.any(String) })
      expect(rest[1].created_at).toBeInstanceOf(Date)
      expect(await inv.listInventoryMovementFeed({ after: end })).toEqual([])
      // Every movement once, and only those.
      const { rows } = await t.db.query('SELECT id::text FROM inventory_movement ORDER BY id')
      expect([...opening, ...rest].map((m) => m.id).sort((x, y) => Number(x) - Number(y))).toEqual(
        rows.map((r) => r.id),
      )
    } finally {
      await writer.end()
    }
  })

  test('migrate adds the feed to a ledger from before it, once; the movements already there are in it', async () => {
    const { item } = await level(10)
    await inv.adjustInventory(item.id, 'loc_1', 3)
    // A ledger as the previous release left it.
    await t.db.query(`DROP INDEX "IDX_inventory_movement_xid"; ALTER TABLE inventory_movement DROP COLUMN xid`)
    await inv.migrate()
    await inv.migrate()
    const { rows: indexes } = await t.db.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = 'IDX_inventory_movement_xid'`,
      [t.schema],
    )
    expect(indexes).toHaveLength(1)
    const { got: page, after } = await readFeed(null, 2)
    expect(page.map((m) => [m.delta, m.resulting])).toEqual([
      [10, 10],
      [3, 13],
    ])
    await inv.adjustInventory(item.id, 'loc_1', 1)
    const { got: next, after: end } = await readFeed(after, 1)
    expect(next.map((m) => m.resulting)).toEqual([14])
    expect(await inv.listInventoryMovementFeed({ after: end })).toEqual([])
    await expectBalanced()
  })

  test('bad options are refused by name', async () => {
    for (const [options, name] of [
      [{ after: 'nope' }, 'after'],
      [{ after: '1:' }, 'after'],
      [{ after: '99999999999999999999999:1' }, 'after'],
      [{ after: 5 }, 'after'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 10001 }, 'limit'],
      [{ limt: 5 }, 'limt'],
    ]) {
      await expect(inv.listInventoryMovementFeed(options)).rejects.toMatchObject({
        type: 'invalid_data',
        message: expect.stringContaining(name),
      })
    }
  })
})

describe('retention', () => {
  test('prune folds old movements into carried_forward ones, sums stay exact, new ones stay', async () => {
    const { item, level: l } = await level(10)
    await inv.adjustInventory(item.id, 'loc_1', 5)
    await inv.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_1', quantity: 2 })
    await t.db.query(`UPDATE inventory_movement SET created_at = now() - interval '40 days'`)
    await inv.adjustInventory(item.id, 'loc_1', -1)
    await t.db.query(
      `INSERT INTO inventory_idempotency_key (key, method, request_hash, response, expires_at) VALUES ('old', 'm', 'h', '{}', now() - interval '1 day')`,
    )
    const { after: seen } = await readFeed(null, 4)
    expect(await inv.prune({ movementRetentionDays: 30 })).toEqual({ folded: 3, carried: 2, keys: 1 })
    // The carried_forward rows stand where the movements they fold stood: a feed
    // reader past them gets nothing new; one from the start gets their sums.
    expect(await inv.listInventoryMovementFeed({ after: seen })).toEqual([])
    const { got: fromStart } = await readFeed(null, 3)
    expect(fromStart.map((m) => [m.field, m.delta, m.reason])).toEqual([
      ['stocked_quantity', 15, 'carried_forward'],
      ['reserved_quantity', 2, 'carried_forward'],
      ['stocked_quantity', -1, 'adjustment'],
    ])
    expect(pick(await movementsOf(l.id), ['field', 'delta', 'resulting', 'reason'])).toEqual([
      { field: 'stocked_quantity', delta: '15', resulting: '15', reason: 'carried_forward' },
      { field: 'reserved_quantity', delta: '2', resulting: '2', reason: 'carried_forward' },
      { field: 'stocked_quantity', delta: '-1', resulting: '14', reason: 'adjustment' },
    ])
    await expectBalanced()
    expect(await inv.prune({ movementRetentionDays: 30 })).toEqual({ folded: 0, carried: 0, keys: 0 })
    await expect(inv.prune({ movementRetentionDays: -1 })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('movementRetentionDays'),
    })
    await expect(inv.prune({ days: 3 })).rejects.toMatchObject({ type: 'invalid_data' })
  })
})
