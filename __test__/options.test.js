'use strict'
// Every option is honoured or refused: the call option expectedStockedQuantity where it
// has a meaning (one level), softDelete/restore configs, call options and filters that
// Postgres would refuse (NUL, out-of-range offsets and ids) refused before any SQL,
// naming the option; and the operations CLI on a schema without tables or a closed or
// full output. Each refusal also checks that nothing was written.
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { freshService, sql, uniqueSchema, DATABASE_URL } = require('./helpers')

const CLI = path.join(__dirname, '..', 'bin', 'medusa-inventory-rs.js')

let t
let inv
beforeEach(async () => {
  t = await freshService('opts', { maxConnections: 4 })
  inv = t.inventory
})
afterEach(() => t.cleanup())

/** Every row of every table of the module (and of ours), to prove a call wrote nothing. */
async function everything() {
  const out = {}
  for (const table of [
    'inventory_item',
    'inventory_level',
    'reservation_item',
    'inventory_movement',
    'inventory_idempotency_key',
  ]) {
    out[table] = (await t.db.query(`SELECT * FROM ${table} ORDER BY 1`)).rows
  }
  return out
}

/** Resolves when `call()` is refused as `expected`, having written nothing. */
async function rejectsClean(call, expected) {
  const before = await everything()
  const err = await call().then(
    (v) => {
      throw new Error(`not refused: resolved to ${JSON.stringify(v)}`)
    },
    (e) => e,
  )
  expect(err).toMatchObject(expected)
  // Never the database's own words.
  expect(err.message).not.toMatch(/SQLSTATE|database|syntax/)
  expect(err.message.includes('\u0000')).toBe(false)
  expect(await everything()).toEqual(before)
  return err
}

const invalid = (...words) => ({ type: 'invalid_data', message: expect.stringMatching(new RegExp(words.join('.*'))) })
const stale = {
  type: 'conflict',
  code: 'COMPARE_QUANTITY_STALE',
  message: expect.stringContaining('is 10, not the expected 9'),
}

async function level(stocked = 10, location_id = 'loc_1') {
  const item = await inv.createInventoryItems({ sku: `sku-${Math.random()}` })
  const lvl = await inv.createInventoryLevels({ inventory_item_id: item.id, location_id, stocked_quantity: stocked })
  return { item, level: lvl }
}

describe('expectedStockedQuantity as a call option', () => {
  test('updateInventoryLevels of one level compares it (object or array of one); several rows are refused', async () => {
    const { item } = await level(10)
    const { item: other } = await level(10)
    const row = { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 42 }
    await rejectsClean(() => inv.updateInventoryLevels(row, { expectedStockedQuantity: 9 }), stale)
    await rejectsClean(() => inv.updateInventoryLevels([row], { expectedStockedQuantity: 9 }), stale)
    await rejectsClean(
      () => inv.updateInventoryLevels([row, { ...row, inventory_item_id: other.id }], { expectedStockedQuantity: 10 }),
      invalid('expectedStockedQuantity', 'one row'),
    )
    // The row's own expectation and the option must agree.
    await rejectsClean(
      () => inv.updateInventoryLevels({ ...row, expected_stocked_quantity: 10 }, { expectedStockedQuantity: 11 }),
      invalid('expected_stocked_quantity', 'expectedStockedQuantity', 'disagree'),
    )
    expect((await inv.updateInventoryLevels(row, { expectedStockedQuantity: 10 })).stocked_quantity).toBe(42)
    expect(
      (await inv.updateInventoryLevels([{ ...row, stocked_quantity: 40 }], { expectedStockedQuantity: '42' }))[0]
        .stocked_quantity,
    ).toBe(40)
  })

  test('adjustInventory: a batch of one entry compares it as the positional form does; a batch of several is refused', async () => {
    const { item } = await level(10)
    const { item: other } = await level(10)
    const entry = { inventoryItemId: item.id, locationId: 'loc_1', adjustment: 1 }
    // The same typed error as the positional form.
    await rejectsClean(() => inv.adjustInventory(item.id, 'loc_1', 1, { expectedStockedQuantity: 9 }), stale)
    await rejectsClean(() => inv.adjustInventory([entry], { expectedStockedQuantity: 9 }), stale)
    await rejectsClean(
      () => inv.adjustInventory([entry, { ...entry, inventoryItemId: other.id }], { expectedStockedQuantity: 10 }),
      invalid('expectedStockedQuantity', 'one entry'),
    )
    await rejectsClean(
      () => inv.adjustInventory([{ ...entry, expectedStockedQuantity: 10 }], { expectedStockedQuantity: 9 }),
      invalid('expectedStockedQuantity', 'disagree'),
    )
    expect((await inv.adjustInventory([entry], { expectedStockedQuantity: 10 }))[0].stocked_quantity).toBe(11)
  })

  test('setInventoryQuantities of one row takes it as the row expectation', async () => {
    const { item } = await level(10)
    const row = { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 7 }
    await rejectsClean(() => inv.setInventoryQuantities([row], { expectedStockedQuantity: 9 }), stale)
    expect((await inv.setInventoryQuantities([row], { expectedStockedQuantity: 10 }))[0].stocked_quantity).toBe(7)
  })

  test('every other method refuses it, naming it, reads included', async () => {
    const { item, level: l } = await level(10)
    const opt = { expectedStockedQuantity: 10 }
    await rejectsClean(
      () => inv.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_1', quantity: 1 }, opt),
      invalid('expectedStockedQuantity', 'createReservationItems'),
    )
    await rejectsClean(
      () => inv.createInventoryLevels({ inventory_item_id: item.id, location_id: 'loc_2', stocked_quantity: 1 }, opt),
      invalid('expectedStockedQuantity', 'createInventoryLevels'),
    )
    await rejectsClean(
      () => inv.deleteInventoryLevels([l.id], opt),
      invalid('expectedStockedQuantity', 'deleteInventoryLevels'),
    )
    await rejectsClean(
      () => inv.deleteInventoryLevel(item.id, 'loc_1', opt),
      invalid('expectedStockedQuantity', 'deleteInventoryLevel'),
    )
    await rejectsClean(
      () => inv.listInventoryLevels({}, {}, opt),
      invalid('expectedStockedQuantity', 'listInventoryLevels'),
    )
    expect((await inv.retrieveInventoryLevel(l.id)).stocked_quantity).toBe(10)
  })
})

describe('setInventoryQuantities rows', () => {
  test('a row without stocked_quantity is refused naming it', async () => {
    const { item } = await level(10)
    await rejectsClean(
      () =>
        inv.setInventoryQuantities([
          { inventory_item_id: item.id, location_id: 'loc_1', expected_stocked_quantity: 10 },
        ]),
      invalid('stocked_quantity is required'),
    )
    await rejectsClean(
      () =>
        inv.setInventoryQuantities([
          { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: null, expected_stocked_quantity: 10 },
        ]),
      { type: 'invalid_data' },
    )
  })
})

describe('idempotency keys cover expectedStockedQuantity', () => {
  test('the positional adjustInventory repeated with its key and another expected stock is refused, as the batch form is', async () => {
    const { item } = await level(10)
    const first = await inv.adjustInventory(item.id, 'loc_1', 1, {
      idempotencyKey: 'k-cas',
      expectedStockedQuantity: 10,
    })
    expect(first.stocked_quantity).toBe(11)
    await rejectsClean(
      () => inv.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-cas', expectedStockedQuantity: 11 }),
      invalid('k-cas', 'different call'),
    )
    await rejectsClean(
      () => inv.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-cas' }),
      invalid('k-cas', 'different call'),
    )
    // The same request replays (10 and '10.0' are one quantity).
    expect(
      await inv.adjustInventory(item.id, 'loc_1', 1, { idempotencyKey: 'k-cas', expectedStockedQuantity: '10.0' }),
    ).toEqual(first)
    // The batch form refuses its repeat with another expectation too.
    await inv.adjustInventory(
      [{ inventoryItemId: item.id, locationId: 'loc_1', adjustment: 1, expectedStockedQuantity: 11 }],
      { idempotencyKey: 'k-batch' },
    )
    await rejectsClean(
      () =>
        inv.adjustInventory(
          [{ inventoryItemId: item.id, locationId: 'loc_1', adjustment: 1, expectedStockedQuantity: 12 }],
          { idempotencyKey: 'k-batch' },
        ),
      invalid('k-batch', 'different call'),
    )
    // And updateInventoryLevels with the option.
    const row = { inventory_item_id: item.id, location_id: 'loc_1', stocked_quantity: 5 }
    await inv.updateInventoryLevels(row, { idempotencyKey: 'k-upd', expectedStockedQuantity: 12 })
    await rejectsClean(
      () => inv.updateInventoryLevels(row, { idempotencyKey: 'k-upd', expectedStockedQuantity: 5 }),
      invalid('k-upd', 'different call'),
    )
  })
})

describe('softDelete/restore configs', () => {
  test('unknown keys are refused naming them (call options one position early are not dropped); returnLinkableKeys is accepted', async () => {
    const { item, level: l } = await level(10)
    const r = await inv.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_1', quantity: 1 })
    const early = { idempotencyKey: 'k-early' }
    for (const [name, id] of [
      ['InventoryItems', item.id],
      ['InventoryLevels', l.id],
      ['ReservationItems', r.id],
    ]) {
      await rejectsClean(() => inv[`softDelete${name}`]([id], early), invalid(`softDelete${name}`, 'idempotencyKey'))
      await rejectsClean(() => inv[`restore${name}`]([id], early), invalid(`restore${name}`, 'idempotencyKey'))
      await rejectsClean(
        () => inv[`softDelete${name}`]([id], { returnLinkableKeys: 'inventory_item_id' }),
        invalid('returnLinkableKeys'),
      )
      await rejectsClean(() => inv[`softDelete${name}`]([id], 'config'), invalid(`softDelete${name}`, 'config'))
    }
    // What Medusa's generated services and the link module's cascades pass.
    expect(await inv.softDeleteReservationItems([r.id], { returnLinkableKeys: ['reservation_item_id'] })).toBeDefined()
    await inv.restoreReservationItems(
      [r.id],
      { returnLinkableKeys: ['reservation_item_id'] },
      { idempotencyKey: 'k-late' },
    )
    await inv.softDeleteReservationItems([r.id], {})
    await inv.restoreReservationItems([r.id], null)
    expect((await inv.retrieveReservationItem(r.id)).deleted_at).toBeNull()
  })
})

describe('input Postgres would refuse is refused first, naming the option or filter', () => {
  test('NUL in call options, metadata keys and values at any depth', async () => {
    const { item } = await level(10)
    const adjust = (options) => () => inv.adjustInventory(item.id, 'loc_1', 1, options)
    for (const name of ['idempotencyKey', 'reason', 'actor', 'reference']) {
      await rejectsClean(adjust({ [name]: 'a\u0000b' }), invalid(`call option ${name}`, 'NUL'))
    }
    await rejectsClean(adjust({ metadata: { note: 'a\u0000b' } }), invalid('call option metadata', 'NUL'))
    await rejectsClean(adjust({ metadata: { deep: [{ 'k\u0000': 1 }] } }), invalid('call option metadata', 'NUL'))
    await rejectsClean(
      adjust({ metadata: { deep: { deeper: ['x', 'y\u0000'] } } }),
      invalid('call option metadata', 'NUL'),
    )
    // A keyed reservation goes through the reservation engine's own batch.
    await rejectsClean(
      () =>
        inv.createReservationItems(
          { inventory_item_id: item.id, location_id: 'loc_1', quantity: 1 },
          { reference: '\u0000' },
        ),
      invalid('call option reference', 'NUL'),
    )
  })

  test("reconcile's after, verify's after", async () => {
    await level(10)
    await rejectsClean(() => inv.reconcile({ after: 'ilev_\u0000' }), invalid('reconcile option after', 'NUL'))
    await rejectsClean(() => inv.verifyInventoryLedger({ after: 'ilev_\u0000' }), invalid('after', 'NUL'))
  })

  test('movement filters: a created_at offset past 15:59, an id past bigint', async () => {
    await level(10)
    for (const bound of ['2024-05-01T10:00:00+25:00', '2024-05-01T10:00:00-16:00', '2024-05-01T10:00+1560']) {
      await rejectsClean(
        () => inv.listInventoryMovements({ created_at: { $gt: bound } }),
        invalid('created_at', 'timestamp'),
      )
    }
    for (const bound of ['9223372036854775808', '9999999999999999999']) {
      await rejectsClean(() => inv.listInventoryMovements({ id: { $lt: bound } }), invalid('id', 'movement id'))
    }
    // In range: read as always.
    expect(
      await inv.listInventoryMovements({
        created_at: { $gt: '2000-01-01T00:00:00+15:59' },
        id: { $lte: '9223372036854775807' },
      }),
    ).toHaveLength(1)
  })

  test('entity date filters: the same offsets', async () => {
    await level(10)
    await rejectsClean(
      () => inv.listInventoryLevels({ created_at: { $gt: '2024-05-01T10:00:00+25:00' } }),
      invalid('created_at'),
    )
    await rejectsClean(
      () => inv.listReservationItems({ updated_at: { $lt: '2024-05-01 10:00-24' } }),
      invalid('updated_at'),
    )
    expect(await inv.listInventoryLevels({ created_at: { $gt: '2000-05-01T10:00:00-15:00' } })).toHaveLength(1)
  })

  test('a timestamp with a fraction past nanoseconds; a $like/$ilike pattern ending in a lone escape', async () => {
    await level(10)
    const long = `2024-01-01T00:00:00.${'1'.repeat(5000)}Z`
    await rejectsClean(() => inv.listInventoryItems({ created_at: { $gt: long } }), invalid('created_at'))
    await rejectsClean(() => inv.listInventoryMovements({ created_at: { $gt: long } }), invalid('created_at'))
    // Matched against a row, Postgres refuses such a pattern (SQLSTATE 22025).
    for (const op of ['$like', '$ilike']) {
      await rejectsClean(
        () => inv.listInventoryItems({ sku: { [op]: 'sku-\\' } }),
        invalid('sku', `\\${op}`, 'escape character'),
      )
      await rejectsClean(() => inv.listInventoryItems({ sku: { [op]: 'a\\\\\\' } }), invalid('sku', 'escape character'))
    }
    expect(await inv.listInventoryItems({ sku: { $ilike: 'SKU-%' } })).toHaveLength(1)
    expect(await inv.listInventoryItems({ sku: { $like: 'sku-%\\\\' } })).toHaveLength(0)
    expect(await inv.listInventoryItems({ created_at: { $gt: '2000-01-01T00:00:00.123456789Z' } })).toHaveLength(1)
  })
})

describe('CLI', () => {
  /** Runs the CLI with `stdio`; resolves to `{ code, stdout, stderr }` (what was read of them). */
  function cli(args, { stdout = 'pipe', onStdout } = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, DATABASE_URL: '' },
        stdio: ['ignore', stdout, 'pipe'],
      })
      let out = ''
      let err = ''
      if (child.stdout) child.stdout.on('data', (d) => (onStdout ? onStdout(child, d) : (out += d)))
      child.stderr.on('data', (d) => (err += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout: out, stderr: err }))
    })
  }

  test('reconcile, verify and prune on a schema without tables say so and how to migrate', async () => {
    const empty = uniqueSchema('empty')
    const db = await sql()
    try {
      await db.query(`CREATE SCHEMA "${empty}"`)
      for (const schema of [empty, uniqueSchema('absent')]) {
        for (const args of [['reconcile', '--dry-run'], ['verify'], ['prune', '--days', '30']]) {
          const out = await cli([...args, '--url', DATABASE_URL, '--schema', schema])
          expect([out.code, out.stdout]).toEqual([2, ''])
          expect(out.stderr).toContain(`schema '${schema}' has no inventory tables`)
          expect(out.stderr).toContain('migrate()')
          expect(out.stderr).not.toMatch(/SQLSTATE|\n\s+at /)
        }
      }
    } finally {
      await db.query(`DROP SCHEMA IF EXISTS "${empty}" CASCADE`)
      await db.end()
    }
  })

  test('stdout closed early (EPIPE, as `| head` does): no stack trace, exit 3, not the drift code 1', async () => {
    // Enough drifted levels that the report outgrows the pipe's buffer.
    const items = await inv.createInventoryItems(Array.from({ length: 1500 }, () => ({})))
    await inv.createInventoryLevels(
      items.map((i) => ({ inventory_item_id: i.id, location_id: 'loc_epipe', stocked_quantity: 5 })),
    )
    await t.db.query(`UPDATE inventory_level SET reserved_quantity = 1`)
    let read = 0
    const out = await cli(['reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema], {
      onStdout(child, chunk) {
        read += chunk.length
        // The reader goes away after its first chunk.
        child.stdout.destroy()
      },
    })
    expect(read).toBeGreaterThan(0)
    expect(out.code).toBe(3)
    expect(out.stderr).toContain('could not write to stdout (EPIPE)')
    expect(out.stderr).not.toMatch(/\n\s+at |Error:/)
    // A dry run: nothing was fixed.
    expect(
      (await t.db.query(`SELECT count(*)::int AS n FROM inventory_level WHERE reserved_quantity = 1`)).rows[0].n,
    ).toBe(1500)
  })

  test('a full disk (stdout on /dev/full): no stack trace, exit 3', async () => {
    await level(10)
    const full = fs.openSync('/dev/full', 'w')
    try {
      for (const args of [['verify'], ['reconcile']]) {
        const out = await cli([...args, '--url', DATABASE_URL, '--schema', t.schema], { stdout: full })
        expect(out.code).toBe(3)
        expect(out.stderr).toContain('could not write to stdout (ENOSPC)')
        expect(out.stderr).not.toMatch(/\n\s+at |Error:/)
      }
    } finally {
      fs.closeSync(full)
    }
  })

  test('the usage text documents exit code 3', async () => {
    const out = await cli(['--help'])
    expect(out.stdout).toMatch(/3 the output could not be written/)
  })
})
