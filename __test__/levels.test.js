'use strict'
const { freshService } = require('./helpers')

let t
let item
beforeAll(async () => {
  t = await freshService('levels')
})
afterAll(() => t.cleanup())
beforeEach(async () => {
  item = await t.inventory.createInventoryItems({ sku: `lv-${Math.random()}` })
})

const raw = (v) => ({ value: String(v), precision: 20 })

describe('inventory levels', () => {
  test('create: defaults, raw twins, available_quantity, reserved_quantity input ignored', async () => {
    const lvl = await t.inventory.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'loc',
      stocked_quantity: 10,
      reserved_quantity: 7,
    })
    expect(lvl).toMatchObject({
      inventory_item_id: item.id,
      location_id: 'loc',
      stocked_quantity: 10,
      reserved_quantity: 0,
      incoming_quantity: 0,
      available_quantity: 10,
      raw_stocked_quantity: raw(10),
      raw_reserved_quantity: raw(0),
      raw_incoming_quantity: raw(0),
    })
    expect(lvl.id).toMatch(/^ilev_/)
    const [arr] = await t.inventory.createInventoryLevels([{ inventory_item_id: item.id, location_id: 'loc2' }])
    expect(arr.stocked_quantity).toBe(0)
  })

  test('unique (item, location) and unknown item give Medusa’s messages', async () => {
    await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'u' })
    await expect(
      t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'u' }),
    ).rejects.toMatchObject({
      type: 'invalid_data',
      message: `Inventory level with inventory_item_id: ${item.id}, location_id: u, already exists.`,
    })
    await expect(
      t.inventory.createInventoryLevels({ inventory_item_id: 'iitem_ghost', location_id: 'u' }),
    ).rejects.toMatchObject({
      type: 'not_found',
      message: 'You tried to set relationship inventory_item_id: iitem_ghost, but such entity does not exist',
    })
  })

  test('2000 levels in one call: DTOs, changes and opening movements as expected from the input; a bad row or a duplicate anywhere writes nothing', async () => {
    const items = await t.inventory.createInventoryItems(
      Array.from({ length: 2000 }, (_, i) => ({ sku: `lvbig-${i}` })),
    )
    const input = items.map((it, i) => ({
      inventory_item_id: it.id,
      location_id: 'big_loc',
      stocked_quantity: i % 7,
      ...(i % 3 ? { incoming_quantity: i % 3 } : {}),
    }))
    const text = await t.inventory._native.call('createInventoryLevels', JSON.stringify([input]), null)
    const { result, changes } = JSON.parse(text)
    expect(result).toHaveLength(2000)
    const ids = result.map((l) => l.id)
    expect(ids).toEqual([...ids].sort())
    expect(changes).toEqual([['inventory_level', 'created', ids]])
    result.forEach((l, i) => {
      const incoming = i % 3
      expect(l).toMatchObject({
        inventory_item_id: items[i].id,
        location_id: 'big_loc',
        stocked_quantity: i % 7,
        reserved_quantity: 0,
        incoming_quantity: incoming,
        available_quantity: i % 7,
        raw_stocked_quantity: { value: String(i % 7), precision: 20 },
        metadata: null,
        deleted_at: null,
      })
      expect(l.updated_at).toBe(l.created_at)
    })
    // One opening movement per quantity that is not zero, each of the whole quantity.
    const [movements, count] = await t.inventory.listAndCountInventoryMovements(
      { location_id: 'big_loc' },
      { order: { id: 'ASC' }, take: 10 },
    )
    const nonzero = input.reduce((n, r) => n + (r.stocked_quantity ? 1 : 0) + (r.incoming_quantity ? 1 : 0), 0)
    expect(count).toBe(nonzero)
    expect(movements[0]).toMatchObject({
      inventory_level_id: ids[1],
      field: 'stocked_quantity',
      delta: 1,
      resulting: 1,
    })

    const before = await t.inventory.listAndCountInventoryLevels({ location_id: 'big_loc' })
    const bad = input.map((r) => ({ ...r, location_id: 'big_loc2' }))
    bad[1700] = { ...bad[1700], stocked_quantity: 'many' }
    await expect(t.inventory.createInventoryLevels(bad)).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringMatching(/^stocked_quantity .*\(at index 1700\)$/),
    })
    bad[1700] = { inventory_item_id: items[5].id, location_id: 'big_loc' }
    await expect(t.inventory.createInventoryLevels(bad)).rejects.toMatchObject({
      type: 'invalid_data',
      message: `Inventory level with inventory_item_id: ${items[5].id}, location_id: big_loc, already exists.`,
    })
    expect((await t.inventory.listAndCountInventoryLevels({ location_id: 'big_loc2' }))[1]).toBe(0)
    expect((await t.inventory.listAndCountInventoryLevels({ location_id: 'big_loc' }))[1]).toBe(before[1])
    expect((await t.inventory.listAndCountInventoryMovements({ location_id: 'big_loc2' }))[1]).toBe(0)
  })

  test('create: the DTO text written from the input is the text of the DTOs Postgres builds for the rows', async () => {
    const quantities = [
      0,
      1,
      10,
      1.5,
      '2.50',
      0.1,
      '0.0000000000000000000000000001',
      '9999999999999999999999999999',
      1e20,
      12345.678,
    ]
    const items = await t.inventory.createInventoryItems(
      quantities.map((_, i) => ({ sku: `lvtext-${i}-${Math.random()}` })),
    )
    const input = items.map((it, i) => ({
      inventory_item_id: it.id,
      location_id: 'text_loc',
      stocked_quantity: quantities[i],
      ...(i % 2 ? { incoming_quantity: quantities[quantities.length - 1 - i] } : {}),
      ...(i % 3 === 0 ? { metadata: { a: [1, 'é"\n'], n: 1.5, z: null } } : {}),
    }))
    for (const [args, ids] of [
      [[input], null],
      [[{ ...input[0], location_id: 'text_loc_one' }], 'one'],
    ]) {
      const created = await t.inventory._native.call('createInventoryLevels', JSON.stringify(args), null)
      const result = JSON.parse(created).result
      const rows = Array.isArray(result) ? result : [result]
      const listed = await t.inventory._native.call(
        'listInventoryLevels',
        JSON.stringify([{ id: rows.map((r) => r.id) }, { take: rows.length, order: { id: 'ASC' } }]),
        null,
      )
      const fromSql = JSON.parse(listed).result
      // The same values as the DTOs Postgres builds for the rows (numbers, raw twins,
      // available_quantity, metadata, timestamps), keys in sorted order.
      expect(rows).toEqual(fromSql)
      for (const r of rows) expect(Object.keys(r)).toEqual(Object.keys(r).sort())
      if (ids === 'one') expect(Array.isArray(result)).toBe(false)
    }
  })

  // A create's movements cover only the quantities some row gives (the others are 0).
  test('create: opening movements when the rows give only incoming, or no quantity at all', async () => {
    const items = await t.inventory.createInventoryItems([0, 1, 2].map((i) => ({ sku: `lvmv-${i}-${Math.random()}` })))
    await t.inventory.createInventoryLevels([
      { inventory_item_id: items[0].id, location_id: 'mv_in', incoming_quantity: 4 },
      { inventory_item_id: items[1].id, location_id: 'mv_in', incoming_quantity: 0 },
    ])
    await t.inventory.createInventoryLevels([{ inventory_item_id: items[2].id, location_id: 'mv_none' }])
    const moves = await t.inventory.listInventoryMovements({ location_id: ['mv_in', 'mv_none'] }, { take: 10 })
    expect(moves.map((m) => [m.inventory_item_id, m.field, m.delta, m.resulting])).toEqual([
      [items[0].id, 'incoming_quantity', 4, 4],
    ])
    const levels = await t.inventory.listInventoryLevels({ location_id: ['mv_in', 'mv_none'] })
    expect(levels.map((l) => [l.stocked_quantity, l.incoming_quantity]).sort()).toEqual([
      [0, 0],
      [0, 0],
      [0, 4],
    ])
  })

  // The facade asks the addon for a bulk create's DTOs as columns and rows (call option
  // `columns`) and builds the objects itself: they must be the objects the addon would
  // have sent, key order and raw twins included, and what a read returns.
  test('create: DTOs answered as columns become the objects a read returns', async () => {
    const quantities = [0, 3, '2.50', '9999999999999999999999999999', 1e20]
    const items = await t.inventory.createInventoryItems(
      quantities.map((_, i) => ({ sku: `lvcol-${i}-${Math.random()}` })),
    )
    const input = items.map((it, i) => ({
      inventory_item_id: it.id,
      location_id: 'col_loc',
      stocked_quantity: quantities[i],
      ...(i % 2 ? { incoming_quantity: 7, metadata: { a: [1, 'é"'], z: null } } : {}),
    }))
    const answer = JSON.parse(
      await t.inventory._native.call('createInventoryLevels', JSON.stringify([input.slice(0, 2)]), '{"columns":true}'),
    )
    expect(Object.keys(answer)).toEqual(['changes', 'columns', 'rows'])
    const names = answer.columns.map((c) => (Array.isArray(c) ? c[0] : (c.name ?? c)))
    expect(names).toEqual([...names].sort())
    expect(answer.columns).toContainEqual(['raw_stocked_quantity', 20])
    expect(answer.columns).toContain('stocked_quantity')
    // What no row gives is one value for all: reserved is 0, and so its raw twin.
    expect(answer.columns).toContainEqual({ name: 'raw_reserved_quantity', precision: 20, value: '0' })
    expect(answer.columns).toContainEqual({ name: 'reserved_quantity', value: 0 })
    expect(answer.columns).toContainEqual({ name: 'deleted_at', value: null })
    const cellNames = answer.columns
      .filter((c) => typeof c === 'string' || Array.isArray(c))
      .map((c) => (Array.isArray(c) ? c[0] : c))
    const at = (name) => cellNames.indexOf(name)
    expect(
      answer.rows.map((r) => [r[at('stocked_quantity')], r[at('raw_stocked_quantity')], r[at('incoming_quantity')]]),
    ).toEqual([
      [0, '0', 0],
      [3, '3', 7],
    ])
    expect(answer.changes).toEqual([['inventory_level', 'created', answer.rows.map((r) => r[at('id')])]])

    const created = await t.inventory.createInventoryLevels(input.slice(2))
    const listed = await t.inventory.listInventoryLevels(
      { id: created.map((l) => l.id) },
      { take: created.length, order: { id: 'ASC' } },
    )
    expect(created).toEqual(listed)
    // Keys in the order of the objects the addon writes (sorted), raw twins included.
    for (const l of created) {
      expect(Object.keys(l)).toEqual(Object.keys(l).sort())
      expect(Object.keys(l.raw_stocked_quantity)).toEqual(['precision', 'value'])
    }
    expect(created[0].created_at).toBeInstanceOf(Date)
    expect(created[1].raw_stocked_quantity).toEqual({ precision: 20, value: '9999999999999999999999999999' })
    // One level in, one object out: the addon answers a single create as its object.
    const one = await t.inventory.createInventoryLevels({ ...input[0], location_id: 'col_loc_one' })
    expect(Array.isArray(one)).toBe(false)
    expect(one).toMatchObject({ location_id: 'col_loc_one', raw_stocked_quantity: { precision: 20, value: '0' } })
    const bad = await t.inventory._native.call('listInventoryLevels', '[{}]', '{"columns":"yes"}').catch((e) => e)
    expect(bad).toMatchObject({ type: 'invalid_data', message: 'call option columns must be a boolean' })
  })

  test('update by item+location; reserved_quantity cannot be set; missing level is not_found', async () => {
    await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'a', stocked_quantity: 5 })
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 2 })
    const u = await t.inventory.updateInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'a',
      stocked_quantity: 20,
      incoming_quantity: 4,
      reserved_quantity: 0,
    })
    expect(u).toMatchObject({
      stocked_quantity: 20,
      incoming_quantity: 4,
      reserved_quantity: 2,
      available_quantity: 18,
    })
    expect(u.raw_stocked_quantity).toEqual(raw(20))
    const arr = await t.inventory.updateInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 21 },
    ])
    expect(arr[0].stocked_quantity).toBe(21)
    await expect(
      t.inventory.updateInventoryLevels([
        { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 1 },
        { inventory_item_id: item.id, location_id: 'zz', stocked_quantity: 1 },
      ]),
    ).rejects.toMatchObject({ type: 'not_found', message: `Item ${item.id} is not stocked at location zz` })
    // the batch failed whole: the first update did not land
    expect((await t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, 'a')).stocked_quantity).toBe(21)
  })

  test('adjustInventory: single and batch, fractional, not found message', async () => {
    await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 10 },
      { inventory_item_id: item.id, location_id: 'b', stocked_quantity: 1 },
    ])
    const one = await t.inventory.adjustInventory(item.id, 'a', -3)
    expect(one).toMatchObject({ location_id: 'a', stocked_quantity: 7, raw_stocked_quantity: raw(7) })
    const many = await t.inventory.adjustInventory([
      { inventoryItemId: item.id, locationId: 'b', adjustment: 0.25 },
      { inventoryItemId: item.id, locationId: 'a', adjustment: '2' },
      { inventoryItemId: item.id, locationId: 'a', adjustment: 1 },
    ])
    expect(many.map((l) => [l.location_id, l.stocked_quantity])).toEqual([
      ['b', 1.25],
      ['a', 9],
      ['a', 10],
    ])
    await expect(t.inventory.adjustInventory(item.id, 'nowhere', 1)).rejects.toMatchObject({
      type: 'not_found',
      message: `Inventory level for item ${item.id} and location nowhere not found`,
    })
    await expect(
      t.inventory.adjustInventory([
        { inventoryItemId: item.id, locationId: 'a', adjustment: 5 },
        { inventoryItemId: item.id, locationId: 'nowhere', adjustment: 1 },
      ]),
    ).rejects.toMatchObject({ type: 'not_found' })
    expect((await t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, 'a')).stocked_quantity).toBe(10)
  })

  test('quantities over a sales channel’s locations and confirmInventory', async () => {
    await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 49.5 },
      { inventory_item_id: item.id, location_id: 'b', stocked_quantity: 3 },
      { inventory_item_id: item.id, location_id: 'c', stocked_quantity: 100 },
    ])
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 0.5 })
    expect(await t.inventory.retrieveStockedQuantity(item.id, ['a', 'b'])).toBe(52.5)
    expect(await t.inventory.retrieveReservedQuantity(item.id, ['a', 'b'])).toBe(0.5)
    expect(await t.inventory.retrieveAvailableQuantity(item.id, ['a', 'b'])).toBe(52)
    expect(await t.inventory.retrieveAvailableQuantity(item.id, [])).toBe(0)
    expect(await t.inventory.confirmInventory(item.id, ['a', 'b'], 52)).toBe(true)
    expect(await t.inventory.confirmInventory(item.id, ['a', 'b'], 52.01)).toBe(false)
    expect(await t.inventory.confirmInventory(item.id, ['c'], 100)).toBe(true)
    await expect(t.inventory.retrieveAvailableQuantity('iitem_nope', ['a'])).rejects.toMatchObject({
      type: 'not_found',
      message: 'InventoryItem with id: iitem_nope was not found',
    })
    await expect(t.inventory.retrieveReservedQuantity('iitem_nope', [])).rejects.toMatchObject({ type: 'not_found' })
    await expect(t.inventory.confirmInventory(item.id, ['a'], -1)).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('quantity'),
    })
  })

  test('retrieve, list with filters, listAndCount, select', async () => {
    const [a, b] = await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 1 },
      { inventory_item_id: item.id, location_id: 'b', stocked_quantity: 8 },
    ])
    expect(await t.inventory.retrieveInventoryLevel(a.id)).toEqual(a)
    await expect(t.inventory.retrieveInventoryLevel('ilev_x')).rejects.toMatchObject({
      type: 'not_found',
      message: 'InventoryLevel with id: ilev_x was not found',
    })
    await expect(t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, 'q')).rejects.toMatchObject({
      type: 'not_found',
      message: `Inventory level for item ${item.id} and location q not found`,
    })
    const [list, count] = await t.inventory.listAndCountInventoryLevels(
      { inventory_item_id: item.id, stocked_quantity: { $gt: 2 } },
      { select: ['location_id', 'available_quantity'] },
    )
    expect(count).toBe(1)
    expect(list).toEqual([{ id: b.id, location_id: 'b', available_quantity: 8 }])
    const withItem = await t.inventory.listInventoryLevels({ id: a.id }, { relations: ['inventory_item'] })
    expect(withItem[0].inventory_item.sku).toBe(item.sku)
  })

  test('delete one level, many levels, soft delete/restore, and by location', async () => {
    const [, b, c] = await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a' },
      { inventory_item_id: item.id, location_id: 'b' },
      { inventory_item_id: item.id, location_id: 'gone' },
    ])
    expect(await t.inventory.deleteInventoryLevel(item.id, 'a')).toBeUndefined()
    await t.inventory.softDeleteInventoryLevels([b.id])
    expect((await t.inventory.listInventoryLevels({ inventory_item_id: item.id })).map((l) => l.id)).toEqual([c.id])
    await t.inventory.restoreInventoryLevels([b.id])
    const [deleted, cascaded] = await t.inventory.deleteInventoryItemLevelByLocationId('gone')
    expect(deleted.map((l) => l.id)).toEqual([c.id])
    expect(cascaded.InventoryLevel.map((l) => l.id)).toEqual([c.id])
    expect((await t.inventory.listInventoryLevels({ inventory_item_id: item.id })).map((l) => l.id)).toEqual([b.id])
    await t.inventory.deleteInventoryLevels([b.id])
    const { rows } = await t.db.query('SELECT id FROM inventory_level WHERE inventory_item_id = $1', [item.id])
    expect(rows.map((r) => r.id)).toEqual([c.id]) // only the soft-deleted one remains
  })
})
