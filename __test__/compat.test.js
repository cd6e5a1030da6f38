'use strict'
// Compatibility with the real @medusajs/inventory 2.21.2, both ways, on one
// Postgres: the same schema comes out of Medusa's migrations and ours, and
// each module reads and writes the other's rows.
//
// Medusa's module runs in a child Node process (scripts/lib/medusa-inventory-child.js),
// booted through Medusa's own loader: MedusaAppMigrateUp / MedusaApp from
// @medusajs/framework/modules-sdk with `resolve: '@medusajs/inventory'`.
const { InventoryService } = require('..')
const { DATABASE_URL, uniqueSchema, sql, reservedDrift } = require('./helpers')
const { startMedusa } = require('../scripts/lib/medusa')
const { catalogOf, OWN_INDEX_PREFIX } = require('../scripts/lib/catalog')

jest.setTimeout(60000)

// Our own additive tables (bookkeeping, the movement ledger, idempotency keys) and MikroORM's
// migration log are not part of the module's schema: Medusa's tables are what must match.
const IGNORED_TABLES = [
  'medusa_inventory_rs_schema',
  'medusa_inventory_rs_item_count',
  'inventory_movement',
  'inventory_idempotency_key',
  'mikro_orm_migrations',
]

let admin // raw pg client, no search_path: every query names its schema
const schemas = []
const children = []
const services = []

beforeAll(async () => {
  admin = await sql()
})

afterAll(async () => {
  for (const m of children) await m.stop().catch(() => {})
  for (const s of services) await s.close().catch(() => {})
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await admin.end()
})

async function newSchema(tag) {
  const s = uniqueSchema(`compat_${tag}`)
  schemas.push(s)
  await admin.query(`CREATE SCHEMA "${s}"`)
  return s
}

async function medusaOn(schema) {
  const m = await startMedusa(DATABASE_URL, schema)
  children.push(m)
  return m
}

async function oursOn(schema) {
  const s = await InventoryService.connect({ url: DATABASE_URL, schema })
  services.push(s)
  return s
}

/** Tables, columns, indexes, constraints, sequences and triggers of one schema, schema name normalised. */
const catalog = (schema) => catalogOf(admin, schema, (table) => !IGNORED_TABLES.includes(table))

async function migrationLog(schema) {
  const { rows } = await admin.query(`SELECT name FROM "${schema}".mikro_orm_migrations ORDER BY name`)
  return rows.map((r) => r.name)
}

// ---- comparing what the two modules return -------------------------------

// The DTO fields both modules return, compared field by field.
const { ITEM_FIELDS, LEVEL_FIELDS, RESERVATION_FIELDS } = require('../scripts/lib/medusa-fields')

/** Field by field, dates as ISO strings, raw_* values as numbers (Medusa may pad them with zeros). */
function view(row, fields) {
  const out = {}
  for (const f of fields) {
    if (!(f in row)) {
      out[f] = '<missing>'
      continue
    }
    let v = row[f]
    if (v instanceof Date) v = v.toISOString()
    if (f.startsWith('raw_') && v && typeof v === 'object') v = { ...v, value: Number(v.value) }
    out[f] = v
  }
  return out
}
const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const views = (rows, fields) => rows.map((r) => view(r, fields)).sort(byId)

/** Every raw_x twin holds the same number as x, in the rows themselves. */
async function rawMismatches(schema) {
  const { rows } = await admin.query(`
    SELECT 'inventory_level' AS t, id, stocked_quantity::text AS v, raw_stocked_quantity->>'value' AS raw FROM "${schema}".inventory_level
    UNION ALL SELECT 'inventory_level', id, reserved_quantity::text, raw_reserved_quantity->>'value' FROM "${schema}".inventory_level
    UNION ALL SELECT 'inventory_level', id, incoming_quantity::text, raw_incoming_quantity->>'value' FROM "${schema}".inventory_level
    UNION ALL SELECT 'reservation_item', id, quantity::text, raw_quantity->>'value' FROM "${schema}".reservation_item`)
  return rows.filter((r) => r.raw == null || Number(r.raw) !== Number(r.v))
}

async function drift(schema) {
  const db = await sql(schema)
  try {
    return await reservedDrift(db)
  } finally {
    await db.end()
  }
}

// ---------------------------------------------------------------------------

describe('schema identity with @medusajs/inventory 2.21.2 migrations', () => {
  let medusaSchema
  let oursSchema
  let medusaCatalog

  beforeAll(async () => {
    medusaSchema = await newSchema('mig_medusa')
    oursSchema = await newSchema('mig_ours')
    const m = await medusaOn(medusaSchema)
    await m.migrate()
    await m.stop()
    const ours = await oursOn(oursSchema)
    await ours.migrate()
    medusaCatalog = await catalog(medusaSchema)
  })

  test("Medusa's migrator ran all of its migrations, into the requested schema", async () => {
    expect(await migrationLog(medusaSchema)).toEqual([
      'Migration20240307132720',
      'Migration20240719123015',
      'Migration20241213063611',
      'Migration20251010131115',
      'Migration20260815185216',
    ])
    expect(medusaCatalog.tables.map((t) => t.table_name)).toEqual([
      'inventory_item',
      'inventory_level',
      'reservation_item',
    ])
    // The catalog query sees the whole module: 19 + 13 + 14 columns, 10 IDX_ indexes + 3 primary
    // keys, 3 primary keys + 2 foreign keys.
    expect(medusaCatalog.columns).toHaveLength(46)
    expect(medusaCatalog.indexes).toHaveLength(13)
    // PostgreSQL 18 also lists NOT NULL as constraints (contype 'n'); nullability is compared per column.
    expect(
      medusaCatalog.constraints
        .filter((c) => c.contype !== 'n')
        .map((c) => c.conname)
        .sort(),
    ).toEqual([
      'inventory_item_pkey',
      'inventory_level_inventory_item_id_foreign',
      'inventory_level_pkey',
      'reservation_item_inventory_item_id_foreign',
      'reservation_item_pkey',
    ])
  })

  test('tables, columns, indexes and constraints are identical', async () => {
    const oursCatalog = await catalog(oursSchema)
    expect(oursCatalog.tables).toEqual(medusaCatalog.tables)
    expect(oursCatalog.columns).toEqual(medusaCatalog.columns)
    expect(oursCatalog.indexes).toEqual(medusaCatalog.indexes)
    expect(oursCatalog.constraints).toEqual(medusaCatalog.constraints)
    expect(oursCatalog.sequences).toEqual(medusaCatalog.sequences)
    expect(oursCatalog.triggers).toEqual(medusaCatalog.triggers)
  })

  test("our migrate() on Medusa's schema changes nothing but adds our bookkeeping", async () => {
    const ours = await oursOn(medusaSchema)
    const v = await ours.migrate()
    expect(Number.isInteger(v) && v > 0).toBe(true)
    expect(await ours.migrate()).toBe(v) // idempotent
    expect(await catalog(medusaSchema)).toEqual(medusaCatalog)
    // Medusa's migration log is left as Medusa wrote it (no duplicates).
    expect(await migrationLog(medusaSchema)).toHaveLength(5)
    // Additive: the trigram index for q over the searchable fields, partial on live
    // items, its operator class named with pg_trgm's schema (not the tenant's).
    const { rows } = await admin.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'inventory_item' AND starts_with(indexname, $2) ORDER BY 1`,
      [medusaSchema, OWN_INDEX_PREFIX],
    )
    // And the digit-gram index for q with a long number, over the same text.
    expect(rows.map((r) => r.indexname)).toEqual([
      `${OWN_INDEX_PREFIX}item_search_digits`,
      `${OWN_INDEX_PREFIX}item_search_trgm`,
    ])
    for (const { indexdef } of rows)
      for (const col of ['sku', 'hs_code', 'mid_code', 'description', 'title'])
        expect(indexdef).toContain(`COALESCE(${col}, ''::text)`)
    expect(rows[1].indexdef).toMatch(/ gin_trgm_ops\) WHERE \(deleted_at IS NULL\)$/)
    expect(rows[0].indexdef).toContain(`USING gin (${medusaSchema}.medusa_inventory_rs_digit_grams(`)
    expect(rows[0].indexdef).toMatch(/ WHERE \(deleted_at IS NULL\)$/)
    const ext = await admin.query(
      `SELECT extnamespace::regnamespace::text AS ns FROM pg_extension WHERE extname = 'pg_trgm'`,
    )
    expect(ext.rows).toHaveLength(1)
    expect(ext.rows[0].ns).not.toBe(`"${medusaSchema}"`)
    expect(ext.rows[0].ns).not.toBe(medusaSchema)
    // Additive: soft-deleted levels by item and location (Medusa's level indexes cover live rows only).
    const levelIndexes = await admin.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'inventory_level' AND starts_with(indexname, $2)`,
      [medusaSchema, OWN_INDEX_PREFIX],
    )
    expect(levelIndexes.rows.map((r) => r.indexname)).toEqual([`${OWN_INDEX_PREFIX}level_deleted_item`])
    expect(levelIndexes.rows[0].indexdef).toMatch(
      /\(inventory_item_id, location_id\) WHERE \(deleted_at IS NOT NULL\)$/,
    )
    // Additive: the triggers that keep the live item count, seeded with what Medusa wrote.
    const triggers = await admin.query(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = format('%I.inventory_item', $1::text)::regclass AND starts_with(tgname, $2) ORDER BY 1`,
      [medusaSchema, OWN_INDEX_PREFIX],
    )
    expect(triggers.rows.map((r) => r.tgname)).toEqual(
      ['del', 'ins', 'trunc', 'upd'].map((k) => `${OWN_INDEX_PREFIX}item_count_${k}`),
    )
    const kept = await admin.query(`SELECT sum(delta)::int AS n FROM "${medusaSchema}".medusa_inventory_rs_item_count`)
    const live = await admin.query(
      `SELECT count(*)::int AS n FROM "${medusaSchema}".inventory_item WHERE deleted_at IS NULL`,
    )
    expect(kept.rows[0].n).toBe(live.rows[0].n)
  })

  test("Medusa's migrator finds nothing to do on a schema we created", async () => {
    const before = await catalog(oursSchema)
    const log = await migrationLog(oursSchema)
    expect(log).toEqual(expect.arrayContaining(['Migration20240307132720', 'Migration20260815185216']))
    const m = await medusaOn(oursSchema)
    await m.migrate()
    await m.stop()
    expect(await migrationLog(oursSchema)).toEqual(log)
    expect(await catalog(oursSchema)).toEqual(before)
  })
})

describe('Medusa writes, ours reads and updates', () => {
  let schema
  let medusa
  let ours
  let item1
  let item2
  let medusaSeen // what Medusa itself reads back after writing

  beforeAll(async () => {
    schema = await newSchema('m2o')
    medusa = await medusaOn(schema)
    await medusa.migrate()
    await medusa.load()
    const s = medusa.service
    ;[item1, item2] = await s.createInventoryItems([
      {
        sku: `m2o-1-${schema}`,
        title: 'Shirt',
        description: 'cotton',
        origin_country: 'DK',
        hs_code: '6109',
        material: 'cotton',
        weight: 250,
        requires_shipping: false,
        metadata: { color: 'blue', nested: { sizes: ['S', 'M'], n: 1.5 }, flag: true },
      },
      { sku: `m2o-2-${schema}` },
    ])
    await s.createInventoryLevels([
      { inventory_item_id: item1.id, location_id: 'sloc_a', stocked_quantity: 49.5, incoming_quantity: 3 },
      { inventory_item_id: item1.id, location_id: 'sloc_b', stocked_quantity: 7, metadata: { bin: 'B7' } },
      { inventory_item_id: item2.id, location_id: 'sloc_a', stocked_quantity: 100 },
    ])
    await s.createReservationItems([
      { inventory_item_id: item1.id, location_id: 'sloc_a', quantity: 2.5, line_item_id: 'li_1', metadata: { k: 'v' } },
      { inventory_item_id: item1.id, location_id: 'sloc_a', quantity: 1, line_item_id: 'li_2', external_id: 'ext_2' },
      {
        inventory_item_id: item1.id,
        location_id: 'sloc_b',
        quantity: 3,
        line_item_id: 'li_3',
        description: 'order 3',
        created_by: 'user_1',
      },
      { inventory_item_id: item2.id, location_id: 'sloc_a', quantity: 10, line_item_id: 'li_1' },
    ])
    const ids = [item1.id, item2.id]
    medusaSeen = {
      items: await s.listInventoryItems({ id: ids }),
      levels: await s.listInventoryLevels({ inventory_item_id: ids }),
      reservations: await s.listReservationItems({ inventory_item_id: ids }),
      availableA: await s.retrieveAvailableQuantity(item1.id, ['sloc_a']),
      availableAB: await s.retrieveAvailableQuantity(item1.id, ['sloc_a', 'sloc_b']),
      stockedAB: await s.retrieveStockedQuantity(item1.id, ['sloc_a', 'sloc_b']),
      reservedAB: await s.retrieveReservedQuantity(item1.id, ['sloc_a', 'sloc_b']),
    }
    ours = await oursOn(schema)
  })

  test('Medusa wrote what we expect (sanity of the fixture)', () => {
    expect(medusaSeen.items).toHaveLength(2)
    expect(medusaSeen.levels).toHaveLength(3)
    expect(medusaSeen.reservations).toHaveLength(4)
    expect(medusaSeen.availableA).toBe(46) // 49.5 - (2.5 + 1)
    expect(medusaSeen.availableAB).toBe(50) // 46 + (7 - 3)
  })

  test("migrate() recognises Medusa's tables and keeps the data", async () => {
    const v = await ours.migrate()
    expect(Number.isInteger(v)).toBe(true)
    const { rows } = await admin.query(
      `SELECT (SELECT count(*) FROM "${schema}".inventory_item)::int AS items,
              (SELECT count(*) FROM "${schema}".inventory_level)::int AS levels,
              (SELECT count(*) FROM "${schema}".reservation_item)::int AS reservations`,
    )
    expect(rows[0]).toEqual({ items: 2, levels: 3, reservations: 4 })
  })

  test('ours reads the same items, levels and reservations as Medusa', async () => {
    const ids = [item1.id, item2.id]
    const items = await ours.listInventoryItems({ id: ids })
    expect(views(items, ITEM_FIELDS)).toEqual(views(medusaSeen.items, ITEM_FIELDS))
    expect(items.find((i) => i.id === item1.id).metadata).toEqual({
      color: 'blue',
      nested: { sizes: ['S', 'M'], n: 1.5 },
      flag: true,
    })

    const levels = await ours.listInventoryLevels({ inventory_item_id: ids })
    expect(views(levels, LEVEL_FIELDS)).toEqual(views(medusaSeen.levels, LEVEL_FIELDS))
    const a1 = levels.find((l) => l.inventory_item_id === item1.id && l.location_id === 'sloc_a')
    expect(a1).toMatchObject({
      stocked_quantity: 49.5,
      reserved_quantity: 3.5,
      incoming_quantity: 3,
      available_quantity: 46,
    })

    const reservations = await ours.listReservationItems({ inventory_item_id: ids })
    expect(views(reservations, RESERVATION_FIELDS)).toEqual(views(medusaSeen.reservations, RESERVATION_FIELDS))

    const one = await ours.retrieveInventoryItem(item1.id)
    expect(view(one, ITEM_FIELDS)).toEqual(
      view(
        medusaSeen.items.find((i) => i.id === item1.id),
        ITEM_FIELDS,
      ),
    )
    const lvl = await ours.retrieveInventoryLevelByItemAndLocation(item1.id, 'sloc_b')
    expect(lvl).toMatchObject({
      stocked_quantity: 7,
      reserved_quantity: 3,
      available_quantity: 4,
      metadata: { bin: 'B7' },
    })
  })

  test('ours computes the same quantities as Medusa', async () => {
    expect(await ours.retrieveAvailableQuantity(item1.id, ['sloc_a'])).toBe(medusaSeen.availableA)
    expect(await ours.retrieveAvailableQuantity(item1.id, ['sloc_a', 'sloc_b'])).toBe(medusaSeen.availableAB)
    expect(await ours.retrieveStockedQuantity(item1.id, ['sloc_a', 'sloc_b'])).toBe(medusaSeen.stockedAB)
    expect(await ours.retrieveReservedQuantity(item1.id, ['sloc_a', 'sloc_b'])).toBe(medusaSeen.reservedAB)
    expect(medusaSeen.stockedAB).toBe(56.5)
    expect(medusaSeen.reservedAB).toBe(6.5)
  })

  test('ours updates the Medusa-written rows consistently', async () => {
    const adjusted = await ours.adjustInventory(item1.id, 'sloc_a', -0.5)
    expect(adjusted).toMatchObject({ stocked_quantity: 49, reserved_quantity: 3.5, available_quantity: 45.5 })

    const [r] = await ours.createReservationItems([
      { inventory_item_id: item1.id, location_id: 'sloc_b', quantity: 1.5, line_item_id: 'li_4' },
    ])
    expect(r).toMatchObject({ quantity: 1.5, raw_quantity: { value: '1.5', precision: 20 } })

    await ours.deleteReservationItemsByLineItem('li_1') // item1@sloc_a 2.5 and item2@sloc_a 10

    const levels = await ours.listInventoryLevels({ inventory_item_id: [item1.id, item2.id] })
    const get = (item, loc) => levels.find((l) => l.inventory_item_id === item.id && l.location_id === loc)
    expect(get(item1, 'sloc_a')).toMatchObject({ stocked_quantity: 49, reserved_quantity: 1, available_quantity: 48 })
    expect(get(item1, 'sloc_b')).toMatchObject({ stocked_quantity: 7, reserved_quantity: 4.5, available_quantity: 2.5 })
    expect(get(item2, 'sloc_a')).toMatchObject({ stocked_quantity: 100, reserved_quantity: 0, available_quantity: 100 })
    expect(await ours.retrieveAvailableQuantity(item1.id, ['sloc_a', 'sloc_b'])).toBe(50.5)

    const live = await ours.listReservationItems({ inventory_item_id: [item1.id, item2.id] })
    expect(live.map((x) => x.line_item_id).sort()).toEqual(['li_2', 'li_3', 'li_4'])

    // In the rows themselves: raw twins agree, reserved_quantity = sum of live reservations.
    expect(await rawMismatches(schema)).toEqual([])
    expect(await drift(schema)).toEqual([])
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n FROM "${schema}".reservation_item WHERE line_item_id = 'li_1' AND deleted_at IS NOT NULL`,
    )
    expect(rows[0].n).toBe(2) // soft-deleted, as Medusa does
  })

  test("Medusa reads ours' updates back", async () => {
    const ids = [item1.id, item2.id]
    const oursLevels = await ours.listInventoryLevels({ inventory_item_id: ids })
    const medusaLevels = await medusa.service.listInventoryLevels({ inventory_item_id: ids })
    expect(views(medusaLevels, LEVEL_FIELDS)).toEqual(views(oursLevels, LEVEL_FIELDS))
    const oursRes = await ours.listReservationItems({ inventory_item_id: ids })
    const medusaRes = await medusa.service.listReservationItems({ inventory_item_id: ids })
    expect(views(medusaRes, RESERVATION_FIELDS)).toEqual(views(oursRes, RESERVATION_FIELDS))
    expect(await medusa.service.retrieveAvailableQuantity(item1.id, ['sloc_a', 'sloc_b'])).toBe(50.5)
  })
})

describe('ours writes, Medusa reads and updates', () => {
  let schema
  let medusa
  let ours
  let item1
  let item2
  let logBefore

  beforeAll(async () => {
    schema = await newSchema('o2m')
    ours = await oursOn(schema)
    await ours.migrate()
    ;[item1, item2] = await ours.createInventoryItems([
      {
        sku: `o2m-1-${schema}`,
        title: 'Mug',
        thumbnail: 'https://example.test/mug.png',
        mid_code: 'MID1',
        unit_of_measure: 'pcs',
        height: 12,
        width: 9,
        length: 9,
        metadata: { glaze: 'matte', dims: { h: 12.5 }, tags: ['a', 'b'] },
      },
      { sku: `o2m-2-${schema}`, requires_shipping: false },
    ])
    await ours.createInventoryLevels([
      { inventory_item_id: item1.id, location_id: 'sloc_x', stocked_quantity: 49.5, incoming_quantity: 0.25 },
      { inventory_item_id: item1.id, location_id: 'sloc_y', stocked_quantity: 10, metadata: { shelf: 2 } },
      { inventory_item_id: item2.id, location_id: 'sloc_x', stocked_quantity: 5 },
    ])
    await ours.adjustInventory(item1.id, 'sloc_y', 2.5) // 12.5
    await ours.createReservationItems([
      {
        inventory_item_id: item1.id,
        location_id: 'sloc_x',
        quantity: 4.5,
        line_item_id: 'li_a',
        metadata: { src: 'ours' },
      },
      { inventory_item_id: item1.id, location_id: 'sloc_y', quantity: 2, line_item_id: 'li_b', allow_backorder: true },
      { inventory_item_id: item2.id, location_id: 'sloc_x', quantity: 1, line_item_id: 'li_c' },
    ])
    await ours.deleteReservationItemsByLineItem('li_c') // soft-deleted row Medusa must not see
    logBefore = await migrationLog(schema)
    medusa = await medusaOn(schema)
    await medusa.migrate()
    await medusa.load()
  })

  test("Medusa's migrator ran nothing on our schema", async () => {
    expect(await migrationLog(schema)).toEqual(logBefore)
  })

  test("Medusa's service reads what ours wrote", async () => {
    const ids = [item1.id, item2.id]
    const m = medusa.service

    const oursItems = await ours.listInventoryItems({ id: ids })
    const medusaItems = await m.listInventoryItems({ id: ids })
    expect(medusaItems).toHaveLength(2)
    expect(views(medusaItems, ITEM_FIELDS)).toEqual(views(oursItems, ITEM_FIELDS))
    expect(medusaItems.find((i) => i.id === item1.id)).toMatchObject({
      unit_of_measure: 'pcs',
      metadata: { glaze: 'matte', dims: { h: 12.5 }, tags: ['a', 'b'] },
    })

    const oursLevels = await ours.listInventoryLevels({ inventory_item_id: ids })
    const medusaLevels = await m.listInventoryLevels({ inventory_item_id: ids })
    expect(medusaLevels).toHaveLength(3)
    expect(views(medusaLevels, LEVEL_FIELDS)).toEqual(views(oursLevels, LEVEL_FIELDS))
    expect(medusaLevels.find((l) => l.location_id === 'sloc_y')).toMatchObject({
      stocked_quantity: 12.5,
      reserved_quantity: 2,
      available_quantity: 10.5,
      metadata: { shelf: 2 },
    })
    expect(medusaLevels.find((l) => l.inventory_item_id === item2.id)).toMatchObject({ reserved_quantity: 0 })

    const oursRes = await ours.listReservationItems({ inventory_item_id: ids })
    const medusaRes = await m.listReservationItems({ inventory_item_id: ids })
    expect(medusaRes.map((r) => r.line_item_id).sort()).toEqual(['li_a', 'li_b'])
    expect(views(medusaRes, RESERVATION_FIELDS)).toEqual(views(oursRes, RESERVATION_FIELDS))

    expect(await m.retrieveAvailableQuantity(item1.id, ['sloc_x'])).toBe(45)
    expect(await m.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(55.5)
    expect(await m.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(
      await ours.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y']),
    )
    expect(await m.retrieveReservedQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(6.5)
    expect(await m.retrieveStockedQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(62)
  })

  test('ours sees what Medusa writes', async () => {
    const m = medusa.service
    const [mres] = await m.createReservationItems([
      {
        inventory_item_id: item1.id,
        location_id: 'sloc_x',
        quantity: 2.25,
        line_item_id: 'li_m',
        description: 'by medusa',
      },
    ])
    await m.updateInventoryLevels([{ inventory_item_id: item1.id, location_id: 'sloc_y', stocked_quantity: 80.75 }])
    await m.adjustInventory(item2.id, 'sloc_x', -1.5)
    const [mitem] = await m.createInventoryItems([{ sku: `o2m-m-${schema}`, metadata: { by: 'medusa' } }])
    await m.createInventoryLevels([{ inventory_item_id: mitem.id, location_id: 'sloc_x', stocked_quantity: 3.5 }])

    const levels = await ours.listInventoryLevels({ inventory_item_id: [item1.id, item2.id, mitem.id] })
    const get = (itemId, loc) => levels.find((l) => l.inventory_item_id === itemId && l.location_id === loc)
    expect(get(item1.id, 'sloc_x')).toMatchObject({
      stocked_quantity: 49.5,
      reserved_quantity: 6.75,
      available_quantity: 42.75,
    })
    expect(get(item1.id, 'sloc_y')).toMatchObject({
      stocked_quantity: 80.75,
      reserved_quantity: 2,
      available_quantity: 78.75,
    })
    expect(get(item2.id, 'sloc_x')).toMatchObject({ stocked_quantity: 3.5, reserved_quantity: 0 })
    expect(get(mitem.id, 'sloc_x')).toMatchObject({ stocked_quantity: 3.5, available_quantity: 3.5 })

    expect(await ours.retrieveInventoryItem(mitem.id)).toMatchObject({ id: mitem.id, metadata: { by: 'medusa' } })
    const r = await ours.retrieveReservationItem(mres.id)
    expect(view(r, RESERVATION_FIELDS)).toEqual(view(mres, RESERVATION_FIELDS))
    expect(await ours.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(121.5)
    expect(await ours.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y'])).toBe(
      await m.retrieveAvailableQuantity(item1.id, ['sloc_x', 'sloc_y']),
    )

    // Ours releases Medusa's reservation; Medusa sees the level go back.
    await ours.deleteReservationItems(mres.id)
    expect((await ours.retrieveInventoryLevelByItemAndLocation(item1.id, 'sloc_x')).reserved_quantity).toBe(4.5)
    const [back] = await m.listInventoryLevels({ inventory_item_id: item1.id, location_id: 'sloc_x' })
    expect(back).toMatchObject({ reserved_quantity: 4.5, available_quantity: 45 })
    expect(await m.listReservationItems({ id: mres.id })).toEqual([])

    expect(await rawMismatches(schema)).toEqual([])
    expect(await drift(schema)).toEqual([])
  })
})

test('revertMigrations takes away every table and function of ours, and keeps the migration log', async () => {
  const schema = await newSchema('revert')
  const s = await oursOn(schema)
  await s.migrate()
  const objects = async () =>
    (
      await admin.query(
        `SELECT relname AS name FROM pg_class WHERE relnamespace = $1::regnamespace
         UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = $1::regnamespace ORDER BY 1`,
        [schema],
      )
    ).rows.map((r) => r.name)
  expect(await objects()).toEqual(
    expect.arrayContaining([
      'inventory_item',
      'medusa_inventory_rs_arrived',
      'medusa_inventory_rs_item_count_rows',
      'medusa_inventory_rs_digit_grams',
      'medusa_inventory_rs_item_search_digits',
    ]),
  )
  await s.revertMigrations()
  expect(await objects()).toEqual(['mikro_orm_migrations', 'mikro_orm_migrations_id_seq', 'mikro_orm_migrations_pkey'])
})
