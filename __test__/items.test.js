'use strict'
const { freshService, DATABASE_URL } = require('./helpers')
const { InventoryService } = require('..')

let t
beforeAll(async () => {
  t = await freshService('items')
})
afterAll(() => t.cleanup())

describe('inventory items', () => {
  test('object in → object out, array in → array out in input order, ids prefixed', async () => {
    const one = await t.inventory.createInventoryItems({ sku: 'one', title: 'One', weight: 10, metadata: { a: 1 } })
    expect(one).toMatchObject({ sku: 'one', title: 'One', weight: 10, requires_shipping: true, metadata: { a: 1 } })
    expect(one.id).toMatch(/^iitem_[0-9A-HJKMNP-TV-Z]{26}$/)
    expect(one.created_at).toBeInstanceOf(Date)
    expect(one.deleted_at).toBeNull()

    const many = await t.inventory.createInventoryItems(
      Array.from({ length: 5 }, (_, i) => ({ sku: `many-${4 - i}`, requires_shipping: i % 2 === 0 })),
    )
    expect(Array.isArray(many)).toBe(true)
    expect(many.map((i) => i.sku)).toEqual(['many-4', 'many-3', 'many-2', 'many-1', 'many-0'])
    expect(many.map((i) => i.requires_shipping)).toEqual([true, false, true, false, true])
  })

  test('bulk create of 1000 items is one call and keeps order', async () => {
    const input = Array.from({ length: 1000 }, (_, i) => ({ sku: `bulk-${i}`, hs_code: 'HS' + (i % 7) }))
    const out = await t.inventory.createInventoryItems(input)
    expect(out).toHaveLength(1000)
    expect(out[999].sku).toBe('bulk-999')
    const [, count] = await t.inventory.listAndCountInventoryItems({ sku: { $like: 'bulk-%' } }, { take: 10 })
    expect(count).toBe(1000)
  })

  // Create builds its DTOs from the input (write.rs), reads pass on the text SQL
  // built: what the caller parses must be the same for every kind of field (the
  // texts differ only in key order, spacing and how a number is spelled).
  test('created DTOs parse the same as a read returns them (all fields, metadata, time zone)', async () => {
    const input = (tag) => [
      {
        sku: `dto-all${tag}`,
        origin_country: 'DE',
        hs_code: 'h"s\\c',
        mid_code: 'm',
        material: 'wööl ✓ 😀',
        unit_of_measure: 'kg',
        weight: 0,
        length: -5,
        height: ' 12 ',
        width: 2147483647,
        requires_shipping: false,
        description: '',
        title: 'T\n\tx',
        thumbnail: 'http://x/y.png',
        metadata: {
          z: 1,
          a: [1.5, -2, 1e21, 0.1, 2 ** 70, null, true, 'é\u0001'],
          n: { b: {}, a: [] },
          '': 'empty key',
          big: 1e300,
          tiny: 5e-324,
        },
      },
      { sku: `dto-min${tag}` },
      { sku: null, title: null, metadata: {} },
      // A given id last: it sorts after the generated ones, so a read by id keeps input order.
      { id: `iitem_zz_given${tag}`, requires_shipping: true, weight: null },
    ]
    const check = async (inventory, tag) => {
      const created = await inventory._native.call('createInventoryItems', JSON.stringify([input(tag)]), null)
      const ids = JSON.parse(created).result.map((i) => i.id)
      expect(ids).toEqual([...ids].sort())
      const listed = await inventory._native.call(
        'listInventoryItems',
        JSON.stringify([{ id: ids }, { order: { id: 'ASC' } }]),
        null,
      )
      expect(JSON.parse(listed).result).toHaveLength(4)
      expect(JSON.parse(created).result).toStrictEqual(JSON.parse(listed).result)
      return ids
    }
    await check(t.inventory, '')
    // Timestamps are rendered by Postgres in the session's time zone, as a read renders them.
    const { InventoryService } = require('..')
    const url = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres')
    // Percent-encoded by hand: searchParams would write the space as '+'.
    url.search += `${url.search ? '&' : '?'}options=${encodeURIComponent('-c TimeZone=Asia/Kolkata')}`
    const other = await InventoryService.connect({ url: url.toString(), schema: t.schema })
    try {
      const [id] = await check(other, '-tz')
      const text = await other._native.call('retrieveInventoryItem', JSON.stringify([id]), null)
      expect(JSON.parse(text).result.created_at).toMatch(/\+05:30$/)
    } finally {
      await other.close()
    }
  })

  test('duplicate sku is invalid_data with Medusa’s message; nothing from the batch is written', async () => {
    await expect(t.inventory.createInventoryItems([{ sku: 'dup-new' }, { sku: 'one' }])).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'Inventory item with sku: one, already exists.',
    })
    expect(await t.inventory.listInventoryItems({ sku: 'dup-new' })).toEqual([])
  })

  // The DTO text of a create is written straight from the input (write.rs): for a big
  // batch it must be, byte for byte, the text serde_json wrote for the same values
  // (keys sorted, compact), computed here from the input alone.
  test('2000 items in one call: the exact DTO text and changes expected from the input; a bad row or a duplicate sku anywhere writes nothing', async () => {
    const fields = [
      'created_at',
      'deleted_at',
      'description',
      'height',
      'hs_code',
      'id',
      'length',
      'material',
      'metadata',
      'mid_code',
      'origin_country',
      'requires_shipping',
      'sku',
      'thumbnail',
      'title',
      'unit_of_measure',
      'updated_at',
      'weight',
      'width',
    ]
    const input = Array.from({ length: 2000 }, (_, i) => ({
      sku: `big-${i}`,
      title: i % 3 ? `Big “${i}” \\ "q"` : null,
      ...(i % 5 === 0 ? { weight: i, requires_shipping: false, metadata: { n: i, z: 'é', a: [i, null] } } : {}),
      ...(i === 1999 ? { id: 'iitem_zzz_big_given' } : {}),
    }))
    const text = await t.inventory._native.call('createInventoryItems', JSON.stringify([input]), null)
    const { result, changes } = JSON.parse(text)
    expect(result).toHaveLength(2000)
    const ids = result.map((r) => r.id)
    expect(ids.slice(0, 1999).every((id) => /^iitem_[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true)
    expect(ids).toEqual([...ids].sort())
    expect(new Set(ids).size).toBe(2000)
    expect(changes).toEqual([['inventory_item', 'created', ids]])
    const now = result[0].created_at
    const sortKeys = (v) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys(v[k])]),
          )
        : v
    const expected = input.map((row, i) => {
      const dto = Object.fromEntries(fields.map((f) => [f, null]))
      Object.assign(dto, { requires_shipping: true }, row, { id: ids[i], created_at: now, updated_at: now })
      return sortKeys(dto)
    })
    expect(text).toBe(`{"changes":${JSON.stringify(changes)},"result":${JSON.stringify(expected)}}`)
    // Asked for columns (as the facade asks), the same DTOs as one array of cells each,
    // but for the keys no row gives (and the timestamps): one value each, in its column.
    const again = input.map((row) => ({ ...row, sku: `col-${row.sku}`, id: row.id && `${row.id}_col` }))
    for (const row of again) if (row.id === undefined) delete row.id
    const colText = await t.inventory._native.call('createInventoryItems', JSON.stringify([again]), '{"columns":true}')
    const cols = JSON.parse(colText)
    const given = new Set(['id', ...again.flatMap((r) => Object.keys(r).filter((k) => r[k] !== null))])
    const colNow = cols.columns.find((c) => c.name === 'created_at')?.value
    expect(typeof colNow).toBe('string')
    const columns = fields.map((f) =>
      f.endsWith('ed_at') && f !== 'deleted_at'
        ? { name: f, value: colNow }
        : given.has(f)
          ? f
          : { name: f, value: null },
    )
    const varying = fields.filter((f, i) => columns[i] === f)
    const colIds = cols.rows.map((r) => r[varying.indexOf('id')])
    const cells = again.map((row, i) => {
      const dto = sortKeys({ ...expected[i], ...row, id: colIds[i], created_at: colNow, updated_at: colNow })
      return varying.map((f) => dto[f])
    })
    const expectedText = `{"changes":${JSON.stringify([['inventory_item', 'created', colIds]])},"columns":${JSON.stringify(columns)},"rows":${JSON.stringify(cells)}}`
    // Compared as booleans first: a 200 kB diff says less than the first row that differs.
    expect(cols.rows[0]).toEqual(cells[0])
    expect(cols.columns).toEqual(columns)
    expect(colText === expectedText).toBe(true)
    expect((await t.inventory.listAndCountInventoryItems({ sku: { $like: 'big-%' } }))[1]).toBe(2000)

    const count = async () => (await t.inventory.listAndCountInventoryItems({ sku: { $like: 'bad-%' } }))[1]
    const bad = Array.from({ length: 2000 }, (_, i) => ({ sku: `bad-${i}` }))
    bad[1500] = { sku: 'bad-1500', weight: 'heavy' }
    await expect(t.inventory.createInventoryItems(bad)).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'weight must be an integer (at index 1500)',
    })
    bad[1500] = { sku: 'big-7' }
    await expect(t.inventory.createInventoryItems(bad)).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'Inventory item with sku: big-7, already exists.',
    })
    // The same message as for a batch of one.
    await expect(t.inventory.createInventoryItems([{ sku: 'big-7' }])).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'Inventory item with sku: big-7, already exists.',
    })
    expect(await count()).toBe(0)
  })

  test('update, metadata merge, and not found', async () => {
    const [a] = await t.inventory.createInventoryItems([{ sku: 'upd', metadata: { keep: 1, drop: 2 } }])
    const u = await t.inventory.updateInventoryItems({ id: a.id, title: 'New', metadata: { drop: '', add: 3 } })
    expect(u).toMatchObject({ id: a.id, title: 'New', sku: 'upd', metadata: { keep: 1, add: 3 } })
    expect(u.metadata).not.toHaveProperty('drop')
    expect(u.updated_at.getTime()).toBeGreaterThanOrEqual(a.updated_at.getTime())
    const arr = await t.inventory.updateInventoryItems([{ id: a.id, hs_code: 'X' }])
    expect(arr).toHaveLength(1)
    await expect(t.inventory.updateInventoryItems({ id: 'iitem_missing', title: 'x' })).rejects.toMatchObject({
      type: 'not_found',
      message: 'InventoryItem with id "iitem_missing" not found',
    })
  })

  test('retrieve: found, not found message, select', async () => {
    const a = await t.inventory.createInventoryItems({ sku: 'ret', title: 'R' })
    const got = await t.inventory.retrieveInventoryItem(a.id)
    expect(got).toEqual(a)
    const sel = await t.inventory.retrieveInventoryItem(a.id, { select: ['sku'] })
    expect(sel).toEqual({ id: a.id, sku: 'ret' })
    await expect(t.inventory.retrieveInventoryItem('iitem_nope')).rejects.toMatchObject({
      type: 'not_found',
      message: 'InventoryItem with id: iitem_nope was not found',
    })
  })

  test('filters: operators, arrays, null, $or/$and, q, order, skip/take', async () => {
    await t.inventory.createInventoryItems([
      { sku: 'f-a', title: 'Red Shirt', weight: 1, hs_code: 'H1', origin_country: 'dk' },
      { sku: 'f-b', title: 'Blue Shirt', weight: 5, description: 'cotton' },
      { sku: 'f-c', title: 'Green Hat', weight: 9, mid_code: 'M-shirtish' },
      { sku: 'f-d', title: '100% wool', weight: null },
    ])
    const skus = async (filter, config = {}) =>
      (
        await t.inventory.listInventoryItems({ sku: { $like: 'f-%' }, ...filter }, { order: { sku: 'ASC' }, ...config })
      ).map((i) => i.sku)
    expect(await skus({ weight: { $gte: 5 } })).toEqual(['f-b', 'f-c'])
    expect(await skus({ weight: { $lt: 5, $gt: 0 } })).toEqual(['f-a'])
    expect(await skus({ weight: null })).toEqual(['f-d'])
    expect(await skus({ weight: { $ne: null, $nin: [5] } })).toEqual(['f-a', 'f-c'])
    expect(await skus({ sku: ['f-a', 'f-c'] })).toEqual(['f-a', 'f-c'])
    expect(await skus({ sku: { $in: ['f-b'] } })).toEqual(['f-b'])
    expect(await skus({ title: { $ilike: '%shirt' } })).toEqual(['f-a', 'f-b'])
    expect(await skus({ $or: [{ weight: 1 }, { title: 'Green Hat' }] })).toEqual(['f-a', 'f-c'])
    expect(await skus({ $and: [{ weight: { $gt: 0 } }, { weight: { $lt: 9 } }] })).toEqual(['f-a', 'f-b'])
    // q searches sku, hs_code, mid_code, description, title — case-insensitively
    expect(await skus({ q: 'SHIRT' })).toEqual(['f-a', 'f-b', 'f-c'])
    expect(await skus({ q: 'cotton' })).toEqual(['f-b'])
    // % in q is a literal, not a wildcard
    expect(await skus({ q: '100%' })).toEqual(['f-d'])
    expect(await skus({ q: '1%l' })).toEqual([])
    expect(await skus({}, { order: { weight: 'DESC' }, take: 2 })).toEqual(['f-d', 'f-c'])
    expect(await skus({}, { skip: 1, take: 2 })).toEqual(['f-b', 'f-c'])
    const [page, count] = await t.inventory.listAndCountInventoryItems({ sku: { $like: 'f-%' } }, { skip: 10, take: 2 })
    expect(page).toEqual([])
    expect(count).toBe(4)
    expect(await skus({ metadata: null, created_at: { $lte: new Date(Date.now() + 60000) } })).toHaveLength(4)
  })

  test('metadata numbers at the edge of a double read back as written (jsonb keeps them as 309 digits)', async () => {
    const metadata = { max: Number.MAX_VALUE, min: -Number.MAX_VALUE, tiny: Number.MIN_VALUE, big: 1e300 }
    const made = await t.inventory.createInventoryItems({ sku: 'edge-numbers', metadata })
    expect(made.metadata).toEqual(metadata)
    const [read] = await t.inventory.listInventoryItems({ id: made.id })
    expect(read.metadata).toEqual(metadata)
    expect(
      (await t.inventory.updateInventoryItems({ id: made.id, metadata: { max2: Number.MAX_VALUE } })).metadata,
    ).toEqual({ ...metadata, max2: Number.MAX_VALUE })
  })

  test('q narrowed through the search index finds what the fields alone find, and only that', async () => {
    const made = await t.inventory.createInventoryItems([
      { sku: 'TRG-0001', title: 'Alpha widget' },
      { sku: 'TRG-0002', description: 'beta gadget 0001' },
      { sku: 'abcd', hs_code: 'efgh' },
      { sku: 'zz', mid_code: 'MID-77Q' },
    ])
    const id = made.map((i) => i.id)
    const found = async (q) =>
      (await t.inventory.listInventoryItems({ id, q }, { order: { sku: 'ASC' } })).map((i) => i.sku)
    expect(await found('TRG-0001')).toEqual(['TRG-0001'])
    expect(await found('trg-000')).toEqual(['TRG-0001', 'TRG-0002'])
    expect(await found('0001')).toEqual(['TRG-0001', 'TRG-0002'])
    expect(await found('mid-77')).toEqual(['zz'])
    expect(await found('Widget')).toEqual(['TRG-0001'])
    // The index text joins the fields; a match across two of them is no match.
    expect(await found('bcd efg')).toEqual([])
    expect(await found('d efgh')).toEqual([])
    // No word long enough for a trigram: the fields alone decide.
    expect(await found('zz')).toEqual(['zz'])
    // Counted the same way.
    expect((await t.inventory.listAndCountInventoryItems({ id, q: '0001' }, { take: 1 }))[1]).toBe(2)
    // Repeated (more than the five custom plans a cached statement gets): still found.
    for (let i = 0; i < 8; i++) expect(await found('TRG-0002')).toEqual(['TRG-0002'])
    // Whatever q, what each field's own ILIKE finds (the oracle, Postgres' own matching).
    const more = await t.inventory.createInventoryItems([
      { sku: 'Straße-9', title: 'ÆBLE grøn', description: 'two  spaces\there' },
      { sku: 'x y', hs_code: 'z', mid_code: null, description: 'Ünïcode ⚑ flag' },
    ])
    id.push(...more.map((i) => i.id))
    const fields = ['sku', 'hs_code', 'mid_code', 'description', 'title']
    for (const q of [
      'straße-9',
      'straße',
      'WIDGET',
      'æble',
      'GRØN',
      'y z',
      'x y',
      'ünïcode',
      'code ⚑',
      '⚑',
      'two  spaces',
      'spaces\the',
      'e-9 Æ',
      'gadget 0001',
      'TRG',
      'o',
      'efgh',
      'cd ef',
    ]) {
      const oracle = (
        await t.inventory.listInventoryItems(
          { id, $or: fields.map((f) => ({ [f]: { $ilike: `%${q}%` } })) },
          { order: { sku: 'ASC' } },
        )
      ).map((i) => i.sku)
      expect([q, await found(q)]).toEqual([q, oracle])
    }
  })

  test('q with a number of six digits or more goes through the digit-gram index, finding what the fields find', async () => {
    const made = await t.inventory.createInventoryItems([
      { sku: 'NUM-0012345678', title: 'Widget' },
      { sku: 'num-other', description: 'barcode 4006381333931 inside' },
      { sku: 'num-x-12345', hs_code: '61091000' },
      { sku: 'num-y', mid_code: 'MID12345678X', title: 'Thing 0012345' },
      // A number split over two fields, or by a letter, is no match.
      { sku: 'num-split', title: '12345', description: '678', hs_code: '1234a5678' },
      // Digits that are not ASCII are not the index's: the fields decide.
      { sku: 'num-٣٤٥٦٧', title: '３４５６７' },
    ])
    const id = made.map((i) => i.id)
    const gone = await t.inventory.createInventoryItems({ sku: 'num-deleted-0012345678' })
    await t.inventory.softDeleteInventoryItems([gone.id])
    id.push(gone.id)
    const found = async (svc, q) =>
      (await svc.listInventoryItems({ id, q }, { order: { sku: 'ASC' } })).map((i) => i.sku)
    const fields = ['sku', 'hs_code', 'mid_code', 'description', 'title']
    const oracle = async (q) =>
      (
        await t.inventory.listInventoryItems(
          { id, $or: fields.map((f) => ({ [f]: { $ilike: `%${q}%` } })) },
          { order: { sku: 'ASC' } },
        )
      ).map((i) => i.sku)
    const qs = [
      '0012345678',
      'NUM-0012345678',
      'num-00123456',
      '12345',
      '2345678',
      '12345678',
      '12345 678',
      '12345678x',
      'mid12345678x',
      '4006381333931',
      '006381333',
      '0638133393',
      '63813',
      '638133',
      '61091000',
      '1234a5678',
      'g 0012345',
      '99999',
      '٣٤٥٦٧',
      '３４５６７',
    ]
    expect(await found(t.inventory, 'NUM-0012345678')).toEqual(['NUM-0012345678'])
    expect(await found(t.inventory, '12345')).toEqual(['NUM-0012345678', 'num-split', 'num-x-12345', 'num-y'])
    for (const q of qs) expect([q, await found(t.inventory, q)]).toEqual([q, await oracle(q)])
    expect((await t.inventory.listAndCountInventoryItems({ id, q: '12345678' }, { take: 1 }))[1]).toBe(2)

    // The statement asks the digit-gram index with the index's own expression, both
    // ways a number can sit in a run, and Postgres answers that from the index (not
    // the trigram index). Its text is cut at 1000 characters in events, after the
    // first expression.
    const spy = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: 0.000001 })
    try {
      // The addon's own call: the facade would hand the events to its logger.
      spy._native.takeEvents()
      const out = await spy._native.call('listInventoryItems', JSON.stringify([{ q: '0012345678' }]), null)
      expect(JSON.parse(out).result.map((i) => i.sku)).toEqual(['NUM-0012345678'])
      const sent = JSON.parse(spy._native.takeEvents())
        .filter((e) => e.kind === 'slow_statement' && e.statement.includes('medusa_inventory_rs_digit_grams('))
        .map((e) => e.statement)
      expect(sent).toHaveLength(1)
      const [, expr] = sent[0].match(
        /\(\((medusa_inventory_rs_digit_grams\(.*?\)) @> \$2::text\[\] OR medusa_inventory_rs_digit_grams\(/,
      )
      // Enough other items that reading each one costs more than the index.
      await t.inventory.createInventoryItems(
        Array.from({ length: 3000 }, (_, i) => ({ sku: `num-fill-${i}`, title: `Filler ${20000 + i}` })),
      )
      await t.db.query('ANALYZE inventory_item')
      const plan = await t.db.query(
        `EXPLAIN (FORMAT JSON) SELECT t.id FROM inventory_item t
         WHERE (${expr} @> $1::text[] OR ${expr} @> $2::text[]) AND t.deleted_at IS NULL`,
        [
          ['00123', '12345', '34567'],
          ['01234', '23456', '45678'],
        ],
      )
      const text = JSON.stringify(plan.rows[0])
      expect(text).toContain('medusa_inventory_rs_item_search_digits')
      expect(text).not.toContain('medusa_inventory_rs_item_search_trgm')
    } finally {
      await spy.close()
    }

    // A schema migrated before the index (no index, no function): the same answers,
    // through the trigram index.
    await t.db.query('DROP INDEX medusa_inventory_rs_item_search_digits')
    await t.db.query('DROP STATISTICS medusa_inventory_rs_item_search_digits_stats')
    await t.db.query('DROP FUNCTION medusa_inventory_rs_digit_grams(text)')
    const older = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, slowStatementMs: 0.000001 })
    const asked = async (q) => {
      older._native.takeEvents()
      const out = await older._native.call(
        'listInventoryItems',
        JSON.stringify([{ id, q }, { order: { sku: 'ASC' } }]),
        null,
      )
      const sent = (JSON.parse(older._native.takeEvents()) ?? []).map((e) => e.statement ?? '')
      return { skus: JSON.parse(out).result.map((i) => i.sku), digits: sent.some((x) => x.includes('digit_grams(')) }
    }
    try {
      for (const q of qs) expect([q, await asked(q)]).toEqual([q, { skus: await oracle(q), digits: false }])
      // Another process migrates: this one uses the index from its next search on, with
      // no migrate or restart of its own.
      await t.inventory.migrate()
      const { rows } = await t.db.query(`SELECT to_regclass('medusa_inventory_rs_item_search_digits') AS i`)
      expect(rows[0].i).toBe('medusa_inventory_rs_item_search_digits')
      for (const q of qs) expect([q, (await asked(q)).skus]).toEqual([q, await oracle(q)])
      expect(await asked('0012345678')).toEqual({ skus: ['NUM-0012345678'], digits: true })
    } finally {
      await older.close()
    }
  })

  test('unknown fields, operators and config are invalid_data and name the culprit', async () => {
    await expect(t.inventory.listInventoryItems({ password: 'x' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('password'),
    })
    await expect(t.inventory.listInventoryItems({ sku: { $regex: '.*' } })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('$regex'),
    })
    await expect(
      t.inventory.listInventoryItems({}, { order: { 'sku; DROP TABLE inventory_item': 'ASC' } }),
    ).rejects.toMatchObject({
      type: 'invalid_data',
    })
    await expect(t.inventory.createInventoryItems({ sku: 'x', colour: 'red' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining("'colour'"),
    })
    await expect(t.inventory.createInventoryItems({ sku: 'x', weight: 'heavy' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('weight'),
    })
    await expect(t.inventory.createInventoryItems({ sku: 'x', requires_shipping: 'yes' })).rejects.toMatchObject({
      type: 'invalid_data',
      message: expect.stringContaining('requires_shipping'),
    })
    expect(await t.inventory.listInventoryItems({ sku: 'x' })).toEqual([])
    // the injection attempt above did not drop anything
    expect((await t.inventory.listInventoryItems({}, { take: 1 })).length).toBe(1)
    // a value is data, never SQL
    expect(await t.inventory.listInventoryItems({ sku: "' OR 1=1 --" })).toEqual([])
  })

  test('soft delete cascades to levels and reservations; restore brings back exactly those', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'soft' })
    await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'l1', stocked_quantity: 5 },
      { inventory_item_id: item.id, location_id: 'l2', stocked_quantity: 5 },
    ])
    const res = await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'l1', quantity: 2 })
    // a level soft-deleted earlier on its own must stay deleted after the item's restore
    const [l2] = await t.inventory.listInventoryLevels({ inventory_item_id: item.id, location_id: 'l2' })
    await t.inventory.softDeleteInventoryLevels([l2.id])

    const levels0 = await t.inventory.listInventoryLevels({ inventory_item_id: item.id })
    const keys = await t.inventory.softDeleteInventoryItems([item.id], {
      returnLinkableKeys: ['inventory_item_id', 'reservation_item_id'],
    })
    expect(keys).toEqual({ inventory_item_id: [item.id], reservation_item_id: [res.id] })
    expect(await t.inventory.listInventoryItems({ id: item.id })).toEqual([])
    expect(await t.inventory.listInventoryLevels({ inventory_item_id: item.id })).toEqual([])
    expect(await t.inventory.listReservationItems({ inventory_item_id: item.id })).toEqual([])
    const withDeleted = await t.inventory.listInventoryItems({ id: item.id }, { withDeleted: true })
    expect(withDeleted[0].deleted_at).toBeInstanceOf(Date)

    expect(await t.inventory.restoreInventoryItems([item.id])).toEqual({
      inventory_item_id: [item.id],
      inventory_level_id: [levels0[0].id],
      reservation_item_id: [res.id],
    })
    expect((await t.inventory.retrieveInventoryItem(item.id)).deleted_at).toBeNull()
    const levels = await t.inventory.listInventoryLevels({ inventory_item_id: item.id })
    expect(levels.map((l) => l.location_id)).toEqual(['l1'])
    expect(levels[0].reserved_quantity).toBe(2)
    expect(await t.inventory.listReservationItems({ inventory_item_id: item.id })).toHaveLength(1)
  })

  test('hard delete removes levels and reservations with the item', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'hard' })
    await t.inventory.createInventoryLevels({ inventory_item_id: item.id, location_id: 'l1', stocked_quantity: 3 })
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'l1', quantity: 1 })
    expect(await t.inventory.deleteInventoryItems([item.id])).toBeUndefined()
    const { rows } = await t.db.query(
      `SELECT (SELECT count(*) FROM inventory_item WHERE id = $1)::int AS i,
              (SELECT count(*) FROM inventory_level WHERE inventory_item_id = $1)::int AS l,
              (SELECT count(*) FROM reservation_item WHERE inventory_item_id = $1)::int AS r`,
      [item.id],
    )
    expect(rows[0]).toEqual({ i: 0, l: 0, r: 0 })
  })

  test('computed stocked/reserved quantities and relations through select', async () => {
    const item = await t.inventory.createInventoryItems({ sku: 'computed' })
    await t.inventory.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'a', stocked_quantity: 49.5 },
      { inventory_item_id: item.id, location_id: 'b', stocked_quantity: '0.25' },
    ])
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id: 'a', quantity: 1.5 })
    const [got] = await t.inventory.listInventoryItems(
      { id: item.id },
      { select: ['id', 'stocked_quantity', 'reserved_quantity', 'location_levels.location_id'] },
    )
    expect(got.stocked_quantity).toBe(49.75)
    expect(got.reserved_quantity).toBe(1.5)
    expect(got.location_levels.map((l) => l.location_id).sort()).toEqual(['a', 'b'])
    const full = await t.inventory.retrieveInventoryItem(item.id, { relations: ['reservation_items'] })
    expect(full.reservation_items).toHaveLength(1)
    expect(full.reservation_items[0].quantity).toBe(1.5)
  })
})
