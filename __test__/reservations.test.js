'use strict'
const { freshService, reservedDrift } = require('./helpers')

let t
let item
beforeAll(async () => {
  t = await freshService('res')
})
afterAll(() => t.cleanup())
beforeEach(async () => {
  item = await t.inventory.createInventoryItems({ sku: `res-${Math.random()}` })
  await t.inventory.createInventoryLevels([
    { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 10 },
    { inventory_item_id: item.id, location_id: 'b', stocked_quantity: 2 },
  ])
})
afterEach(async () => {
  expect(await reservedDrift(t.db)).toEqual([])
})

const level = (loc) => t.inventory.retrieveInventoryLevelByItemAndLocation(item.id, loc)

describe('reservations', () => {
  test('create moves reserved_quantity; shapes and fields as Medusa', async () => {
    const r = await t.inventory.createReservationItems({
      inventory_item_id: item.id,
      location_id: 'a',
      quantity: 3,
      line_item_id: 'li_1',
      description: 'order 1',
      external_id: 'ext',
      created_by: 'user_1',
      metadata: { k: 'v' },
    })
    expect(r).toMatchObject({
      inventory_item_id: item.id,
      location_id: 'a',
      quantity: 3,
      raw_quantity: { value: '3', precision: 20 },
      allow_backorder: false,
      line_item_id: 'li_1',
      description: 'order 1',
      metadata: { k: 'v' },
    })
    expect(r.id).toMatch(/^resitem_/)
    expect(await level('a')).toMatchObject({ reserved_quantity: 3, available_quantity: 7 })
    expect(await t.inventory.retrieveReservationItem(r.id)).toEqual(r)
    await expect(t.inventory.retrieveReservationItem('resitem_x')).rejects.toMatchObject({
      type: 'not_found',
      message: 'ReservationItem with id: resitem_x was not found',
    })
  })

  test('not enough stock and not stocked: Medusa’s types and messages, nothing written', async () => {
    await expect(
      t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'b', quantity: 3 }),
    ).rejects.toMatchObject({
      type: 'not_allowed',
      message: `Not enough stock available for item ${item.id} at location b`,
    })
    await expect(
      t.inventory.createReservationItems([
        { inventory_item_id: item.id, location_id: 'a', quantity: 1 },
        { inventory_item_id: item.id, location_id: 'nowhere', quantity: 1 },
      ]),
    ).rejects.toMatchObject({ type: 'not_found', message: `Item ${item.id} is not stocked at location nowhere` })
    expect(await t.inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
    expect((await level('a')).reserved_quantity).toBe(0)
  })

  test('a batch is checked on its summed demand per level (bundles cannot oversell)', async () => {
    await expect(
      t.inventory.createReservationItems([
        { inventory_item_id: item.id, location_id: 'b', quantity: 1, line_item_id: 'x' },
        { inventory_item_id: item.id, location_id: 'b', quantity: 2, line_item_id: 'y' },
      ]),
    ).rejects.toMatchObject({ type: 'not_allowed' })
    expect((await level('b')).reserved_quantity).toBe(0)
    const ok = await t.inventory.createReservationItems([
      { inventory_item_id: item.id, location_id: 'b', quantity: 1, line_item_id: 'y' },
      { inventory_item_id: item.id, location_id: 'a', quantity: 4, line_item_id: 'x' },
      { inventory_item_id: item.id, location_id: 'b', quantity: 1, line_item_id: 'z' },
    ])
    expect(ok.map((r) => r.line_item_id)).toEqual(['y', 'x', 'z'])
    expect((await level('b')).available_quantity).toBe(0)
  })

  test('allow_backorder reserves beyond stock', async () => {
    const r = await t.inventory.createReservationItems({
      inventory_item_id: item.id,
      location_id: 'b',
      quantity: 5,
      allow_backorder: true,
    })
    expect(r.allow_backorder).toBe(true)
    expect(await level('b')).toMatchObject({ reserved_quantity: 5, available_quantity: -3 })
  })

  test('bad quantities are invalid_data naming the field, and write nothing', async () => {
    for (const quantity of [-1, 0, NaN, Infinity, 'abc', null, {}, true]) {
      await expect(
        t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity }),
      ).rejects.toMatchObject({ type: 'invalid_data', message: expect.stringContaining('quantity') })
    }
    await expect(
      t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a' }),
    ).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'quantity is required',
    })
    await expect(
      t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 1, colour: 'red' }),
    ).rejects.toMatchObject({ type: 'invalid_data', message: expect.stringContaining('colour') })
    await expect(
      t.inventory.createReservationItems({ inventory_item_id: 42, location_id: 'a', quantity: 1 }),
    ).rejects.toMatchObject({ type: 'invalid_data', message: expect.stringContaining('inventory_item_id') })
    expect(await t.inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
    expect((await level('a')).reserved_quantity).toBe(0)
  })

  test('update quantity: increase checked, decrease released', async () => {
    const r = await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 4 })
    expect((await t.inventory.updateReservationItems({ id: r.id, quantity: 9 })).quantity).toBe(9)
    expect((await level('a')).reserved_quantity).toBe(9)
    await expect(t.inventory.updateReservationItems({ id: r.id, quantity: 11 })).rejects.toMatchObject({
      type: 'not_allowed',
      message: `Not enough stock available for item ${item.id} at location a`,
    })
    const [down] = await t.inventory.updateReservationItems([{ id: r.id, quantity: 2.5, description: 'less' }])
    expect(down).toMatchObject({ quantity: 2.5, description: 'less', raw_quantity: { value: '2.5', precision: 20 } })
    expect((await level('a')).reserved_quantity).toBe(2.5)
    await expect(t.inventory.updateReservationItems({ id: 'resitem_nope', quantity: 1 })).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'Reservation item with id resitem_nope not found',
    })
    await expect(t.inventory.updateReservationItems({ id: r.id, quantity: -1 })).rejects.toMatchObject({
      type: 'invalid_data',
    })
  })

  test('moving a reservation to another location releases the old level and checks the new one', async () => {
    const r = await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 2 })
    const moved = await t.inventory.updateReservationItems({ id: r.id, location_id: 'b' })
    expect(moved.location_id).toBe('b')
    expect((await level('a')).reserved_quantity).toBe(0)
    expect((await level('b')).reserved_quantity).toBe(2)
    // b is now full: moving a second reservation there must fail and change nothing
    const r2 = await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 1 })
    await expect(t.inventory.updateReservationItems({ id: r2.id, location_id: 'b' })).rejects.toMatchObject({
      type: 'not_allowed',
    })
    expect((await level('a')).reserved_quantity).toBe(1)
    await expect(t.inventory.updateReservationItems({ id: r2.id, location_id: 'nowhere' })).rejects.toMatchObject({
      type: 'not_found',
      message: `Item ${item.id} is not stocked at location nowhere`,
    })
  })

  test('delete, soft delete, restore, by line item and by location keep reserved_quantity exact', async () => {
    const [r1, r2, r3] = await t.inventory.createReservationItems([
      { inventory_item_id: item.id, location_id: 'a', quantity: 1, line_item_id: 'L1' },
      { inventory_item_id: item.id, location_id: 'a', quantity: 2, line_item_id: 'L1' },
      { inventory_item_id: item.id, location_id: 'b', quantity: 1, line_item_id: 'L2' },
    ])
    expect((await level('a')).reserved_quantity).toBe(3)
    await t.inventory.deleteReservationItemsByLineItem('L1')
    expect((await level('a')).reserved_quantity).toBe(0)
    // deleting again is a no-op, not a second release; so are no line items at all
    await t.inventory.deleteReservationItemsByLineItem(['L1'])
    expect(await t.inventory.deleteReservationItemsByLineItem([])).toBeUndefined()
    expect(await t.inventory.restoreReservationItemsByLineItem([])).toBeUndefined()
    expect((await level('a')).reserved_quantity).toBe(0)
    await t.inventory.restoreReservationItemsByLineItem('L1')
    expect((await level('a')).reserved_quantity).toBe(3)

    const keys = await t.inventory.softDeleteReservationItems([r1.id], { returnLinkableKeys: ['reservation_item'] })
    expect(keys).toEqual({ reservation_item_id: [r1.id] })
    expect((await level('a')).reserved_quantity).toBe(2)
    await t.inventory.restoreReservationItems([r1.id])
    expect((await level('a')).reserved_quantity).toBe(3)

    await t.inventory.deleteReservationItems([r2.id])
    expect((await level('a')).reserved_quantity).toBe(1)
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM reservation_item WHERE id = $1', [r2.id])
    expect(rows[0].n).toBe(0)

    await t.inventory.deleteReservationItemByLocationId('b')
    expect((await level('b')).reserved_quantity).toBe(0)
    expect(await t.inventory.listReservationItems({ id: r3.id })).toEqual([])
    expect((await t.inventory.listReservationItems({ id: r3.id }, { withDeleted: true }))[0].deleted_at).toBeInstanceOf(
      Date,
    )
  })

  test('hard-deleting an already soft-deleted reservation releases nothing twice', async () => {
    const r = await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 4 })
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 1 })
    await t.inventory.softDeleteReservationItems([r.id])
    await t.inventory.deleteReservationItems(r.id)
    expect((await level('a')).reserved_quantity).toBe(1)
  })

  test('list reservations with q over description and filters', async () => {
    await t.inventory.createReservationItems([
      { inventory_item_id: item.id, location_id: 'a', quantity: 1, description: 'Gift wrap please' },
      { inventory_item_id: item.id, location_id: 'a', quantity: 2, description: 'plain' },
    ])
    const found = await t.inventory.listReservationItems({ inventory_item_id: item.id, q: 'GIFT' })
    expect(found.map((r) => r.description)).toEqual(['Gift wrap please'])
    const [big, n] = await t.inventory.listAndCountReservationItems({
      inventory_item_id: item.id,
      quantity: { $gte: 2 },
    })
    expect(n).toBe(1)
    expect(big[0].quantity).toBe(2)
  })
})
