'use strict'
// Issue "One source of truth at the JS↔Rust boundary": values round-trip exactly and
// errors cross as data.
//   1. metadata keys named like timestamp columns stay as sent; only the schema's
//      timestamp columns (top level and in relations) come back as Dates
//   2. the addon rejects with the Medusa type in `type` and the bare message; the
//      SQLSTATE and raw text ride on their own fields (`sqlState`, `cause`), and `code`
//      is only ever Medusa's code, never an SQLSTATE, at every layer
//   3. NaN / Infinity anywhere in the input is invalid_data naming the field, and
//      nothing is written
// Each through the standalone API and through the Medusa module loaded by Medusa's loader.
const path = require('path')
const { isNativeError } = require('util').types
const native = require('../index.js')
const { InventoryService, InventoryError } = require('..')
const { DATABASE_URL, freshService, uniqueSchema, sql } = require('./helpers')
const { startMedusa } = require('../scripts/lib/medusa')

jest.setTimeout(60000)

const DATE_NAMED = { deleted_at: 'never', created_at: '2020-01-01T00:00:00.000Z', nested: { updated_at: 'x' } }

let t
beforeAll(async () => {
  t = await freshService('boundary')
})
afterAll(() => t.cleanup())

function expectRowDates(row) {
  expect(row.created_at).toBeInstanceOf(Date)
  expect(row.updated_at).toBeInstanceOf(Date)
  expect(Number.isNaN(row.created_at.getTime())).toBe(false)
}

describe('metadata with date-named keys round-trips unchanged (standalone API)', () => {
  test('create, retrieve, list, listAndCount, update: metadata as sent, timestamp columns Dates', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'dn-1', metadata: DATE_NAMED })
    expect(item.metadata).toEqual(DATE_NAMED)
    expectRowDates(item)
    expect(item.deleted_at).toBeNull()

    const [batch] = await t.inventory.createInventoryItems([{ sku: 'dn-2', metadata: DATE_NAMED }])
    expect(batch.metadata).toEqual(DATE_NAMED)

    const got = await t.inventory.retrieveInventoryItem(item.id)
    expect(got.metadata).toEqual(DATE_NAMED)
    expectRowDates(got)

    const [listed] = await t.inventory.listInventoryItems({ id: item.id })
    expect(listed.metadata).toEqual(DATE_NAMED)
    const [[counted], count] = await t.inventory.listAndCountInventoryItems({ id: item.id })
    expect(count).toBe(1)
    expect(counted.metadata).toEqual(DATE_NAMED)
    expectRowDates(counted)

    const changed = { ...DATE_NAMED, updated_at: 'later' }
    const updated = await t.inventory.updateInventoryItems({ id: item.id, metadata: changed })
    expect(updated.metadata).toEqual(changed)
    expectRowDates(updated)
    expect((await t.inventory.retrieveInventoryItem(item.id)).metadata).toEqual(changed)
  })

  test('levels and reservations, and their relations: metadata as sent, relation timestamps Dates', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'dn-rel', metadata: DATE_NAMED })
    const level = await t.inventory.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'dn_loc',
      stocked_quantity: 5,
      metadata: DATE_NAMED,
    })
    expect(level.metadata).toEqual(DATE_NAMED)
    expectRowDates(level)
    const res = await t.inventory.createReservationItems({
      inventory_item_id: item.id,
      location_id: 'dn_loc',
      quantity: 1,
      metadata: DATE_NAMED,
    })
    expect(res.metadata).toEqual(DATE_NAMED)
    expectRowDates(res)

    const [withRelations] = await t.inventory.listInventoryItems(
      { id: item.id },
      { relations: ['location_levels', 'reservation_items'] },
    )
    expect(withRelations.metadata).toEqual(DATE_NAMED)
    expectRowDates(withRelations)
    expect(withRelations.location_levels[0].metadata).toEqual(DATE_NAMED)
    expectRowDates(withRelations.location_levels[0])
    expect(withRelations.reservation_items[0].metadata).toEqual(DATE_NAMED)
    expectRowDates(withRelations.reservation_items[0])

    const [resWithItem] = await t.inventory.listReservationItems({ id: res.id }, { relations: ['inventory_item'] })
    expect(resWithItem.metadata).toEqual(DATE_NAMED)
    expect(resWithItem.inventory_item.metadata).toEqual(DATE_NAMED)
    expectRowDates(resWithItem.inventory_item)

    const levelWithItem = await t.inventory.retrieveInventoryLevel(level.id, { relations: ['inventory_item'] })
    expect(levelWithItem.metadata).toEqual(DATE_NAMED)
    expect(levelWithItem.inventory_item.metadata).toEqual(DATE_NAMED)
    expectRowDates(levelWithItem.inventory_item)

    const adjusted = await t.inventory.adjustInventory(item.id, 'dn_loc', 2)
    expect(adjusted.metadata).toEqual(DATE_NAMED)
    expectRowDates(adjusted)
    const updated = await t.inventory.updateReservationItems({ id: res.id, quantity: 2 })
    expect(updated.metadata).toEqual(DATE_NAMED)
    expectRowDates(updated)

    await t.inventory.deleteReservationItems([res.id])
    // [levels, { InventoryLevel: levels }]: both parts are levels.
    const [gone, cascade] = await t.inventory.deleteInventoryItemLevelByLocationId('dn_loc')
    expect(gone[0].metadata).toEqual(DATE_NAMED)
    expect(gone[0].deleted_at).toBeInstanceOf(Date)
    expect(cascade.InventoryLevel[0].metadata).toEqual(DATE_NAMED)
    expect(cascade.InventoryLevel[0].deleted_at).toBeInstanceOf(Date)

    const [deleted] = await t.inventory.listInventoryLevels({ id: level.id }, { withDeleted: true })
    expect(deleted.deleted_at).toBeInstanceOf(Date)
    expect(deleted.metadata).toEqual(DATE_NAMED)
  })

  test('a metadata value that looks like a timestamp stays a string at any depth', async () => {
    const metadata = { created_at: '2020-01-01T00:00:00.000Z', list: [{ deleted_at: '2021-01-01' }] }
    const item = await t.inventory.createInventoryItems({ sku: 'dn-deep', metadata })
    expect((await t.inventory.retrieveInventoryItem(item.id)).metadata).toEqual(metadata)
  })
})

describe('errors cross as data', () => {
  test('the raw addon rejection carries the Medusa type as `type` and the bare message', async () => {
    const raw = await t.inventory._native.call('retrieveInventoryItem', JSON.stringify(['iitem_nope'])).catch((e) => e)
    // Made by the addon, outside Jest's realm: an Error, though not Jest's `Error`.
    expect(isNativeError(raw)).toBe(true)
    expect(raw.type).toBe('not_found')
    // Not napi's status ("GenericFailure") either: no code at all.
    expect('code' in raw).toBe(false)
    expect(raw.message).toBe('InventoryItem with id: iitem_nope was not found')
    expect(native.errorTypes()).toEqual(
      expect.arrayContaining([
        'not_found',
        'invalid_data',
        'not_allowed',
        'conflict',
        'database_error',
        'unexpected_state',
      ]),
    )

    const invalid = await t.inventory._native
      .call('listInventoryItems', JSON.stringify([{}, { take: -1 }]))
      .catch((e) => e)
    expect(invalid.type).toBe('invalid_data')
    expect(invalid.message).not.toMatch(/^\[/)
    expect(invalid.message).not.toMatch(/invalid_data/)

    const item = await t.inventory.createInventoryItems({ sku: 'err-stock' })
    await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'err_loc', stocked_quantity: 1 })
    const args = JSON.stringify([{ inventory_item_id: item.id, location_id: 'err_loc', quantity: 5 }])
    const notAllowed = await t.inventory._native.call('createReservationItems', args).catch((e) => e)
    expect(notAllowed.type).toBe('not_allowed')
    expect(notAllowed.message).not.toMatch(/not_allowed|\[details\]/)

    // The facade: Medusa's shape, with the same message.
    const e = await t.inventory.createReservationItems(JSON.parse(args)[0]).catch((x) => x)
    expect(e).toBeInstanceOf(InventoryError)
    expect(e).toMatchObject({ type: 'not_allowed', message: notAllowed.message, __isMedusaError: true })
  })

  test('a database error: SQLSTATE and raw text on their own fields, sqlState and cause, at both layers', async () => {
    const sep = DATABASE_URL.includes('?') ? '&' : '?'
    const url = `${DATABASE_URL}${sep}options=-c%20default_transaction_read_only%3Don`
    const inv = await InventoryService.connect({ url, schema: t.schema })
    try {
      const raw = await inv._native.call('createInventoryItems', JSON.stringify([{ sku: 'ro' }])).catch((e) => e)
      expect(raw).toMatchObject({ type: 'database_error', sqlState: '25006' })
      expect('code' in raw).toBe(false)
      expect(raw.cause).toMatch(/read-only transaction/)
      expect(raw.message).not.toMatch(/read-only transaction|\[details\]/)
      const e = await inv.createInventoryItems({ sku: 'ro' }).catch((x) => x)
      expect(e).toMatchObject({ type: 'database_error', sqlState: '25006', message: raw.message })
      expect('code' in e).toBe(false)
      expect(e.cause).toBe(raw.cause)
    } finally {
      await inv.close()
    }
  })

  test("a unique violation: Medusa's type and message, its SQLSTATE as sqlState, no code", async () => {
    await t.inventory.createInventoryItems({ sku: 'err-dup' })
    const args = JSON.stringify([{ sku: 'err-dup' }])
    const raw = await t.inventory._native.call('createInventoryItems', args).catch((e) => e)
    const shape = {
      type: 'invalid_data',
      message: 'Inventory item with sku: err-dup, already exists.',
      sqlState: '23505',
    }
    expect(raw).toMatchObject(shape)
    expect('code' in raw).toBe(false)
    // The raw text is for logs; the message is Medusa's.
    expect(raw.cause).toMatch(/duplicate key/)
    expect(raw.message).not.toMatch(/duplicate key/)
    const e = await t.inventory.createInventoryItems({ sku: 'err-dup' }).catch((x) => x)
    expect(e).toBeInstanceOf(InventoryError)
    expect(e).toMatchObject({ ...shape, cause: raw.cause, __isMedusaError: true })
    expect('code' in e).toBe(false)
  })

  test("`code` is Medusa's code: COMPARE_QUANTITY_STALE, at the addon and the facade", async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'err-stale' })
    await t.inventory.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'stale_loc',
      stocked_quantity: 1,
    })
    const row = {
      inventory_item_id: item.id,
      location_id: 'stale_loc',
      stocked_quantity: 5,
      expected_stocked_quantity: 2,
    }
    const raw = await t.inventory._native.call('setInventoryQuantities', JSON.stringify([[row]])).catch((e) => e)
    expect(raw).toMatchObject({ type: 'conflict', code: 'COMPARE_QUANTITY_STALE' })
    expect(raw.sqlState).toBeUndefined()
    const e = await t.inventory.setInventoryQuantities([row]).catch((x) => x)
    expect(e).toMatchObject({ type: 'conflict', code: 'COMPARE_QUANTITY_STALE', message: raw.message })
    expect(e.sqlState).toBeUndefined()
  })

  test("the Medusa module's MedusaError: sqlState for logs, and Medusa's HTTP error handler answers with it", async () => {
    const { InventoryModuleService } = require('../medusa')
    const { MedusaError } = require('@medusajs/framework/utils')
    // Medusa's own mapping of a thrown error to an HTTP answer (not in the package's exports).
    const { getHttpResponseFromError } = require(
      path.join(path.dirname(require.resolve('@medusajs/framework/utils')), '../http/middlewares/error-handler.js'),
    )
    const service = new InventoryModuleService({ medusaInventoryRsConnection: t.inventory }, {})
    await service.createInventoryItems({ sku: 'err-mod-dup' })
    const e = await service.createInventoryItems({ sku: 'err-mod-dup' }).catch((x) => x)
    expect(e).toBeInstanceOf(MedusaError)
    expect(e).toMatchObject({ type: 'invalid_data', sqlState: '23505', cause: expect.stringMatching(/duplicate key/) })
    expect(e.code).toBeUndefined()
    // An SQLSTATE in `code` would make Medusa's exceptionFormatter read it as a Postgres
    // error's and fail on the fields such an error has (table, detail).
    expect(getHttpResponseFromError(e)).toEqual({
      statusCode: 400,
      body: { code: undefined, type: 'invalid_data', message: 'Inventory item with sku: err-mod-dup, already exists.' },
    })

    const [item] = await service.createInventoryItems([{ sku: 'err-mod-stale' }])
    await service.createInventoryLevels([{ inventory_item_id: item.id, location_id: 'mod_stale', stocked_quantity: 1 }])
    const row = {
      inventory_item_id: item.id,
      location_id: 'mod_stale',
      stocked_quantity: 5,
      expected_stocked_quantity: 2,
    }
    const stale = await service.setInventoryQuantities([row]).catch((x) => x)
    expect(stale).toBeInstanceOf(MedusaError)
    expect(stale).toMatchObject({ type: 'conflict', code: 'COMPARE_QUANTITY_STALE' })
    expect(stale.sqlState).toBeUndefined()
    expect(getHttpResponseFromError(stale).statusCode).toBe(409)
  })

  test("errors that are not the addon's pass through untouched", async () => {
    // A wrong argument type is napi's own error, not a Medusa type.
    const e = await Promise.resolve()
      .then(() => t.inventory._native.call(42, '[]'))
      .catch((x) => x)
    expect(isNativeError(e)).toBe(true)
    expect(e).not.toBeInstanceOf(InventoryError)
    expect(e.type).toBeUndefined()
  })
})

describe('NaN and Infinity in input are invalid_data naming the field', () => {
  async function itemCount() {
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM inventory_item')
    return rows[0].n
  }

  test('in metadata, fields, filters, config and positional arguments; nothing is written', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'nf-base' })
    await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'nf_loc', stocked_quantity: 3 })
    const before = await itemCount()
    const cases = [
      [() => t.inventory.createInventoryItems({ sku: 'nf', metadata: { score: NaN } }), 'metadata.score', 'NaN'],
      [
        () => t.inventory.createInventoryItems({ sku: 'nf', metadata: { a: { b: [1, Infinity] } } }),
        'metadata.a.b[1]',
        'Infinity',
      ],
      [
        () => t.inventory.createInventoryItems([{ sku: 'nf-ok' }, { sku: 'nf', weight: -Infinity }]),
        '[1].weight',
        '-Infinity',
      ],
      [() => t.inventory.updateInventoryItems({ id: item.id, metadata: { n: NaN } }), 'metadata.n', 'NaN'],
      [() => t.inventory.listInventoryItems({ weight: NaN }), 'weight', 'NaN'],
      [() => t.inventory.listInventoryItems({ weight: { $gt: Infinity } }), 'weight.$gt', 'Infinity'],
      [() => t.inventory.listInventoryItems({}, { take: NaN }), 'take', 'NaN'],
      [() => t.inventory.adjustInventory(item.id, 'nf_loc', NaN), 'adjustment', 'NaN'],
      [() => t.inventory.confirmInventory(item.id, ['nf_loc'], Infinity), 'quantity', 'Infinity'],
      [
        () => t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'nf_loc', quantity: NaN }),
        'quantity',
        'NaN',
      ],
      [
        () =>
          t.inventory.createReservationItems({
            inventory_item_id: item.id,
            location_id: 'nf_loc',
            quantity: 1,
            metadata: { x: [NaN] },
          }),
        'metadata.x[0]',
        'NaN',
      ],
    ]
    for (const [call, field, shown] of cases) {
      const e = await call().catch((x) => x)
      expect([field, e]).toEqual([field, expect.any(InventoryError)])
      expect([field, e.type, e.message]).toEqual([
        field,
        'invalid_data',
        `${field} must be a finite number, received ${shown}`,
      ])
    }
    expect(await itemCount()).toBe(before)
    expect(await t.inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
    const [level] = await t.inventory.listInventoryLevels({ inventory_item_id: item.id })
    expect(level.stocked_quantity).toBe(3)
  })

  test('in connect options', async () => {
    const e = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, maxConnections: NaN }).catch(
      (x) => x,
    )
    expect(e).toMatchObject({ type: 'invalid_data', message: 'maxConnections must be a finite number, received NaN' })
  })
})

describe("through the Medusa module (loaded by Medusa's loader)", () => {
  let admin
  let schema
  let ours
  beforeAll(async () => {
    admin = await sql()
    schema = uniqueSchema('bd_mod')
    await admin.query(`CREATE SCHEMA "${schema}"`)
    ours = await startMedusa(DATABASE_URL, schema, { resolve: path.resolve(__dirname, '../medusa') })
    await ours.migrate()
    await ours.load()
  })
  afterAll(async () => {
    await ours?.stop().catch(() => {})
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  })

  test('metadata with date-named keys round-trips; timestamp columns are Dates', async () => {
    const item = await ours.service.createInventoryItems({ sku: 'mod-dn', metadata: DATE_NAMED })
    expect(item.metadata).toEqual(DATE_NAMED)
    await ours.service.createInventoryLevels({
      inventory_item_id: item.id,
      location_id: 'mod_loc',
      stocked_quantity: 2,
      metadata: DATE_NAMED,
    })
    expect((await ours.service.retrieveInventoryItem(item.id)).metadata).toEqual(DATE_NAMED)
    const [listed] = await ours.service.listInventoryItems({ id: item.id }, { relations: ['location_levels'] })
    expect(listed.metadata).toEqual(DATE_NAMED)
    expect(listed.location_levels[0].metadata).toEqual(DATE_NAMED)
    const changed = { ...DATE_NAMED, deleted_at: 'still never' }
    expect((await ours.service.updateInventoryItems({ id: item.id, metadata: changed })).metadata).toEqual(changed)

    const type = (method, args, p) => ours.resultType(method, args, p)
    expect(await type('retrieveInventoryItem', [item.id], ['created_at'])).toMatchObject({ constructorName: 'Date' })
    expect(await type('retrieveInventoryItem', [item.id], ['metadata', 'created_at'])).toMatchObject({
      constructorName: 'String',
    })
    expect(await type('retrieveInventoryItem', [item.id], ['metadata', 'deleted_at'])).toMatchObject({
      constructorName: 'String',
    })
    expect(
      await type(
        'listInventoryItems',
        [{ id: item.id }, { relations: ['location_levels'] }],
        ['0', 'location_levels', '0', 'updated_at'],
      ),
    ).toMatchObject({ constructorName: 'Date' })
    expect(
      await type(
        'listInventoryItems',
        [{ id: item.id }, { relations: ['location_levels'] }],
        ['0', 'location_levels', '0', 'metadata', 'nested', 'updated_at'],
      ),
    ).toMatchObject({ constructorName: 'String' })
  })

  test('NaN in metadata or a quantity is a MedusaError invalid_data naming the field', async () => {
    const bad = await ours.callError('createInventoryItems', { sku: 'mod-nf', metadata: { score: { $number: 'NaN' } } })
    expect(bad).toMatchObject({
      threw: true,
      isMedusaError: true,
      type: 'invalid_data',
      message: 'metadata.score must be a finite number, received NaN',
    })
    const item = await ours.service.createInventoryItems({ sku: 'mod-nf-ok' })
    const adj = await ours.callError('adjustInventory', item.id, 'mod_loc', { $number: 'Infinity' })
    expect(adj).toMatchObject({
      threw: true,
      type: 'invalid_data',
      message: 'adjustment must be a finite number, received Infinity',
    })
    expect(await ours.service.listInventoryItems({ sku: 'mod-nf' })).toEqual([])
  })

  test("a database error through Medusa's loader: a MedusaError with sqlState, no SQLSTATE as code", async () => {
    await ours.service.createInventoryItems({ sku: 'mod-dup' })
    const e = await ours.callError('createInventoryItems', { sku: 'mod-dup' })
    expect(e).toMatchObject({
      threw: true,
      isMedusaError: true,
      instanceOfMedusaError: true,
      type: 'invalid_data',
      message: 'Inventory item with sku: mod-dup, already exists.',
      sqlState: '23505',
    })
    expect(e.code).toBeUndefined()
  })

  test('a core error keeps its Medusa type and bare message', async () => {
    const e = await ours.callError('retrieveInventoryItem', 'iitem_missing')
    expect(e).toMatchObject({
      threw: true,
      isMedusaError: true,
      type: 'not_found',
      message: 'InventoryItem with id: iitem_missing was not found',
    })
  })
})
