'use strict'
// reconcile(): finds live levels whose reserved quantity (or its raw copy) is not the
// sum of their live reservations, and fixes them, page by page. Drift is made by raw
// SQL, by a writer holding locks mid-fix, and by the real @medusajs/inventory.
const path = require('node:path')
const { spawn } = require('node:child_process')
const { freshService, reservedDrift, sql, uniqueSchema, waitBlockedBy, DATABASE_URL } = require('./helpers')
const { startMedusa } = require('../scripts/lib/medusa')
const { InventoryModuleService } = require('../medusa')

const CLI = path.join(__dirname, '..', 'bin', 'medusa-inventory-rs.js')

let t
beforeEach(async () => {
  t = await freshService('recon', { maxConnections: 4 })
})
afterEach(() => t.cleanup())

/** An item with levels at `locations` (stocked 10 each); reserves `reserve[loc]` units there through the module. */
async function stocked(locations, reserve = {}) {
  const item = await t.inventory.createInventoryItems({})
  const levels = await t.inventory.createInventoryLevels(
    locations.map((location_id) => ({ inventory_item_id: item.id, location_id, stocked_quantity: 10 })),
  )
  for (const [location_id, quantity] of Object.entries(reserve)) {
    await t.inventory.createReservationItems({ inventory_item_id: item.id, location_id, quantity })
  }
  return { item, levels: Object.fromEntries(levels.map((l) => [l.location_id, l])) }
}

/** Every level row as stored, to prove a run wrote nothing. */
async function levelRows() {
  const { rows } = await t.db.query(
    `SELECT id, reserved_quantity::text, raw_reserved_quantity, updated_at, deleted_at FROM inventory_level ORDER BY id`,
  )
  return rows
}

async function reservedOf(id) {
  const { rows } = await t.db.query(
    `SELECT reserved_quantity::text AS reserved, raw_reserved_quantity->>'value' AS raw FROM inventory_level WHERE id = $1`,
    [id],
  )
  return rows[0]
}

/** Every page from the start: `{ levels, scanned, pages }`. */
async function walk(options) {
  const out = { levels: [], scanned: 0, pages: [] }
  let after = null
  do {
    const page = await t.inventory.reconcile({ ...options, after })
    out.pages.push(page)
    out.levels.push(...page.levels)
    out.scanned += page.scanned
    after = page.next
  } while (after !== null)
  return out
}

test('dry run reports reserved too high, too low and a raw copy out of sync without writing; a run fixes them; the next finds nothing', async () => {
  const { item, levels } = await stocked(['high', 'low', 'raw', 'ok'], { high: 2, low: 3, raw: 1, ok: 4 })
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 7, raw_reserved_quantity = '{"value":"7","precision":20}' WHERE id = $1`,
    [levels.high.id],
  )
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 1, raw_reserved_quantity = '{"value":"1","precision":20}' WHERE id = $1`,
    [levels.low.id],
  )
  await t.db.query(`UPDATE inventory_level SET raw_reserved_quantity = '{"value":"5","precision":20}' WHERE id = $1`, [
    levels.raw.id,
  ])
  const before = await levelRows()

  const dry = await t.inventory.reconcile({ dryRun: true })
  const line = (loc, reserved, raw, sum) => ({
    id: levels[loc].id,
    inventory_item_id: item.id,
    location_id: loc,
    reserved_quantity: reserved,
    raw_reserved_quantity: raw,
    reservation_quantity: sum,
    difference: reserved - sum,
    fixed: false,
  })
  const expected = [line('high', 7, '7', 2), line('low', 1, '1', 3), line('raw', 1, '5', 1)].sort((a, b) =>
    a.id < b.id ? -1 : 1,
  )
  // Raw SQL moved reserved without a movement: the ledger disagrees too (the raw twin is not in it).
  const gap = (loc, quantity, sum, fixed) => ({
    id: levels[loc].id,
    field: 'reserved_quantity',
    quantity,
    ledger_sum: sum,
    fixed,
  })
  const gaps = [gap('high', 7, 2, false), gap('low', 1, 3, false)].sort((a, b) => (a.id < b.id ? -1 : 1))
  expect(dry).toEqual({ levels: expected, ledger: gaps, next: null, scanned: 4 })
  expect(await levelRows()).toEqual(before)

  const fixed = await t.inventory.reconcile()
  expect(fixed).toEqual({
    levels: expected.map((l) => ({ ...l, fixed: true })),
    ledger: gaps.map((g) => ({ ...g, fixed: true })),
    next: null,
    scanned: 4,
  })
  // The level's history: the change made behind the module's back, then the fix.
  const moves = await t.inventory.listInventoryMovements({
    inventory_level_id: levels.high.id,
    field: 'reserved_quantity',
  })
  expect(moves.map((m) => [m.reason, m.delta, m.resulting])).toEqual([
    ['reservation_created', 2, 2],
    ['reconcile', 5, 7],
    ['reconcile', -5, 2],
  ])
  expect(await t.inventory.verifyInventoryLedger()).toMatchObject({ ok: true })
  expect(await reservedOf(levels.high.id)).toEqual({ reserved: '2', raw: '2' })
  expect(await reservedOf(levels.low.id)).toEqual({ reserved: '3', raw: '3' })
  expect(await reservedOf(levels.raw.id)).toEqual({ reserved: '1', raw: '1' })
  expect(await reservedDrift(t.db)).toEqual([])
  // The level that agreed was not written.
  const untouched = (rows) => rows.find((r) => r.id === levels.ok.id)
  expect(untouched(await levelRows())).toEqual(untouched(before))

  expect(await t.inventory.reconcile()).toEqual({ levels: [], ledger: [], next: null, scanned: 4 })
  expect(await t.inventory.reconcile({ dryRun: true })).toEqual({ levels: [], ledger: [], next: null, scanned: 4 })
})

test('paging with a small limit visits every live level exactly once, in id order', async () => {
  // Seeded choice of which levels drift.
  let seed = 7
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648)
  const locations = Array.from({ length: 11 }, (_, i) => `p${i}`)
  const { levels } = await stocked(locations, { p0: 1, p5: 2, p10: 3 })
  const drifted = locations.filter(() => next() % 2 === 0)
  expect(drifted.length).toBeGreaterThan(0)
  for (const loc of drifted)
    await t.db.query(`UPDATE inventory_level SET reserved_quantity = reserved_quantity + 4 WHERE id = $1`, [
      levels[loc].id,
    ])
  const ids = Object.values(levels)
    .map((l) => l.id)
    .sort()

  for (const limit of [1, 3, 11]) {
    const seen = []
    let after = null
    do {
      const page = await t.inventory.reconcile({ dryRun: true, after, limit })
      expect(page.scanned).toBeLessThanOrEqual(limit)
      // Keyset: the cursor is the last id scanned, so the next page starts after it.
      const { rows } = await t.db.query(
        `SELECT id FROM inventory_level WHERE deleted_at IS NULL AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
        [after, limit],
      )
      seen.push(...rows.map((r) => r.id))
      expect(page.levels.map((l) => l.id)).toEqual(
        rows.map((r) => r.id).filter((id) => drifted.some((loc) => levels[loc].id === id)),
      )
      after = page.next
      if (after !== null) expect(after).toBe(rows.at(-1).id)
    } while (after !== null)
    expect(seen).toEqual(ids)
  }

  const run = await walk({ limit: 4 })
  expect(run.scanned).toBe(11)
  expect(run.levels.map((l) => l.id)).toEqual(drifted.map((loc) => levels[loc].id).sort())
  expect(run.levels.every((l) => l.fixed && l.difference === 4)).toBe(true)
  expect(await reservedDrift(t.db)).toEqual([])
})

test('a level with no reservations and reserved 3 is set to 0', async () => {
  const { levels } = await stocked(['none'])
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 3, raw_reserved_quantity = '{"value":"3","precision":20}'`,
  )
  const {
    levels: [line],
  } = await t.inventory.reconcile()
  expect(line).toMatchObject({
    id: levels.none.id,
    reserved_quantity: 3,
    reservation_quantity: 0,
    difference: 3,
    fixed: true,
  })
  expect(await reservedOf(levels.none.id)).toEqual({ reserved: '0', raw: '0' })
  expect((await t.inventory.retrieveInventoryLevel(levels.none.id)).available_quantity).toBe(10)
})

test('soft-deleted levels are not scanned; soft-deleted reservations are not counted', async () => {
  const { item, levels } = await stocked(['gone', 'kept'], { kept: 2 })
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 6, deleted_at = now() WHERE id = $1`, [
    levels.gone.id,
  ])
  // A soft-deleted reservation the level still counts: reserved 2 + 5.
  const stale = await t.inventory.createReservationItems({
    inventory_item_id: item.id,
    location_id: 'kept',
    quantity: 5,
  })
  await t.db.query(`UPDATE reservation_item SET deleted_at = now() WHERE id = $1`, [stale.id])
  const before = await levelRows()

  const dry = await t.inventory.reconcile({ dryRun: true })
  // The soft-deleted level is not reconciled against reservations, but the ledger covers it.
  const gone = { id: levels.gone.id, field: 'reserved_quantity', quantity: 6, ledger_sum: 0, fixed: false }
  expect(dry).toEqual({
    levels: [expect.objectContaining({ id: levels.kept.id, reserved_quantity: 7, reservation_quantity: 2 })],
    ledger: [gone],
    next: null,
    scanned: 1,
  })
  expect(await levelRows()).toEqual(before)

  await t.inventory.reconcile()
  expect(await reservedOf(levels.kept.id)).toEqual({ reserved: '2', raw: '2' })
  // The soft-deleted level keeps its value: restoring it is not reconcile's business.
  expect(await reservedOf(levels.gone.id)).toEqual({ reserved: '6', raw: '0' })
})

/** Waits until some backend waits for a lock `holder` (a pg client) holds. */
const blockedBy = (holder) => waitBlockedBy(t.db, holder)

test('a fix waits for a writer holding a reservation and writes the sum it committed', async () => {
  const { item, levels } = await stocked(['w'], { w: 2 })
  const [res] = await t.inventory.listReservationItems({ inventory_item_id: item.id })
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 9 WHERE id = $1`, [levels.w.id])
  const writer = await sql(t.schema)
  try {
    await writer.query('BEGIN')
    await writer.query(`UPDATE reservation_item SET quantity = 5 WHERE id = $1`, [res.id])
    const fixing = t.inventory.reconcile()
    await blockedBy(writer)
    await writer.query('COMMIT')
    const {
      levels: [line],
    } = await fixing
    // The scan saw 2; the fix locked the reservation and summed what the writer committed.
    expect(line).toMatchObject({ id: levels.w.id, reserved_quantity: 9, reservation_quantity: 5, fixed: true })
    expect(await reservedOf(levels.w.id)).toEqual({ reserved: '5', raw: '5' })
  } finally {
    await writer.end()
  }
})

test('a reservation created while the fix waits for the level is counted', async () => {
  const { item, levels } = await stocked(['n'], { n: 2 })
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 8 WHERE id = $1`, [levels.n.id])
  const writer = await sql(t.schema)
  try {
    // Creates lock the level first, then insert: the crate's protocol for a new reservation.
    await writer.query('BEGIN')
    await writer.query(`SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE`, [levels.n.id])
    await writer.query(
      `INSERT INTO reservation_item (id, inventory_item_id, location_id, quantity, raw_quantity, allow_backorder)
       VALUES ('resitem_late', $1, 'n', 4, '{"value":"4","precision":20}', false)`,
      [item.id],
    )
    const fixing = t.inventory.reconcile()
    await blockedBy(writer)
    await writer.query('COMMIT')
    const {
      levels: [line],
    } = await fixing
    expect(line).toMatchObject({ id: levels.n.id, reserved_quantity: 8, reservation_quantity: 6, fixed: true })
    expect(await reservedOf(levels.n.id)).toEqual({ reserved: '6', raw: '6' })
  } finally {
    await writer.end()
  }
})

test('options are checked; the Medusa module service exposes reconcile with Medusa errors', async () => {
  await expect(t.inventory.reconcile({ limit: 0 })).rejects.toMatchObject({
    type: 'invalid_data',
    message: 'reconcile option limit must be an integer from 1 to 10000',
  })
  await expect(t.inventory.reconcile({ dryRun: 'yes' })).rejects.toMatchObject({
    type: 'invalid_data',
    message: 'reconcile option dryRun has the wrong type',
  })
  await expect(t.inventory.reconcile({ dry_run: true })).rejects.toMatchObject({
    type: 'invalid_data',
    message: "Unknown reconcile option 'dry_run'",
  })

  const { levels } = await stocked(['m'])
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 1`)
  const service = new InventoryModuleService({ medusaInventoryRsConnection: t.inventory }, {})
  expect((await service.reconcile({ dryRun: true })).levels).toEqual([
    expect.objectContaining({ id: levels.m.id, difference: 1, fixed: false }),
  ])
  await expect(service.reconcile({ limit: -1 })).rejects.toMatchObject({ type: 'invalid_data' })
})

test('inventory_item_id limits verify and reconcile to one item; actor names who reconciled; bad values are refused', async () => {
  const a = await stocked(['x1', 'x2'], { x1: 2 })
  const b = await stocked(['x1'])
  // Drift at both items: reserved (a at x1), a ledger gap (a at x2, b at x1).
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 5, raw_reserved_quantity = '{"value":"5","precision":20}' WHERE id = $1`,
    [a.levels.x1.id],
  )
  await t.db.query(
    `UPDATE inventory_level SET stocked_quantity = 4, raw_stocked_quantity = '{"value":"4","precision":20}' WHERE id = ANY($1)`,
    [[a.levels.x2.id, b.levels.x1.id]],
  )

  const onlyA = await t.inventory.verifyInventoryLedger({ inventory_item_id: a.item.id })
  expect(onlyA).toMatchObject({ ok: false, scanned: 2, next: null })
  expect(onlyA.levels.map((l) => [l.id, l.field])).toEqual(
    [
      [a.levels.x1.id, 'reserved_quantity'],
      [a.levels.x2.id, 'stocked_quantity'],
    ].sort(),
  )
  expect((await t.inventory.verifyInventoryLedger()).levels.map((l) => l.id)).toContain(b.levels.x1.id)

  const dry = await t.inventory.reconcile({ dryRun: true, inventory_item_id: a.item.id })
  expect(dry.scanned).toBe(2)
  expect(dry.levels).toEqual([expect.objectContaining({ id: a.levels.x1.id, difference: 3, fixed: false })])
  expect(dry.ledger.map((g) => [g.id, g.field, g.fixed]).sort()).toEqual(
    [
      [a.levels.x1.id, 'reserved_quantity', false],
      [a.levels.x2.id, 'stocked_quantity', false],
    ].sort(),
  )
  expect(await t.inventory.listInventoryMovements({ reason: 'reconcile' })).toEqual([])

  const run = await t.inventory.reconcile({ inventory_item_id: a.item.id, actor: 'user_admin' })
  expect(run.levels).toEqual([expect.objectContaining({ id: a.levels.x1.id, fixed: true })])
  const moved = await t.inventory.listInventoryMovements({ reason: 'reconcile' })
  expect(moved.length).toBeGreaterThan(0)
  for (const m of moved)
    expect(m).toMatchObject({ inventory_item_id: a.item.id, actor: 'user_admin', method: 'reconcile' })
  expect((await t.inventory.verifyInventoryLedger({ inventory_item_id: a.item.id })).ok).toBe(true)
  expect(await reservedOf(a.levels.x1.id)).toEqual({ reserved: '2', raw: '2' })
  // The other item is left as it was.
  const left = await t.inventory.verifyInventoryLedger({ inventory_item_id: b.item.id })
  expect(left.levels).toEqual([expect.objectContaining({ id: b.levels.x1.id, field: 'stocked_quantity' })])
  // Without an actor the movements name none, as before.
  await t.inventory.reconcile({ inventory_item_id: b.item.id })
  expect(await t.inventory.listInventoryMovements({ inventory_item_id: b.item.id, reason: 'reconcile' })).toEqual([
    expect.objectContaining({ actor: null, delta: -6, resulting: 4 }),
  ])
  expect((await t.inventory.verifyInventoryLedger()).ok).toBe(true)

  for (const bad of ['', 7, ['x']]) {
    await expect(t.inventory.reconcile({ inventory_item_id: bad })).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'reconcile option inventory_item_id must be a non-empty string without NUL characters',
    })
    await expect(t.inventory.verifyInventoryLedger({ inventory_item_id: bad })).rejects.toMatchObject({
      type: 'invalid_data',
      message: 'verifyInventoryLedger option inventory_item_id must be a non-empty string without NUL characters',
    })
  }
  await expect(t.inventory.reconcile({ actor: 3 })).rejects.toMatchObject({
    type: 'invalid_data',
    message: 'reconcile option actor must be a non-empty string of at most 1000 bytes without NUL characters',
  })
  await expect(t.inventory.reconcile({ actor: 'x'.repeat(1001) })).rejects.toMatchObject({ type: 'invalid_data' })
})

/** Runs the CLI; resolves to `{ code, stdout, stderr }`. */
function cli(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DATABASE_URL: '' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test('CLI: dry run exits 1 listing the drift, a run fixes it (exit 0), the next dry run exits 0', async () => {
  const { levels } = await stocked(['c1', 'c2', 'c3'], { c1: 1 })
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 4 WHERE id = $1`, [levels.c2.id])
  const before = await levelRows()

  const dry = await cli('reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema, '--limit', '2')
  expect(dry.code).toBe(1)
  expect(dry.stdout).toContain(levels.c2.id)
  expect(dry.stdout).not.toContain(levels.c1.id)
  // The raw write also left reserved_quantity off its ledger: a gap, listed in a table of its own.
  expect(dry.stdout).toMatch(new RegExp(`${levels.c2.id}\\s+reserved_quantity\\s+4\\s+0\\s+no`))
  expect(dry.stdout).toMatch(/3 levels scanned, 1 drifted, 0 fixed, 1 ledger gap, 0 closed \(dry run/)
  // Not a terminal: one progress line per page, against the count of live levels read first.
  const ids = Object.values(levels)
    .map((l) => l.id)
    .sort()
  const firstPage = ids.slice(0, 2).includes(levels.c2.id) ? '1 drifted, 1 ledger gap' : '0 drifted'
  expect(dry.stderr).toBe(
    `[#############-------]  66% 2/3 levels, ${firstPage}\n[####################] 100% 3/3 levels, 1 drifted, 1 ledger gap\n`,
  )
  expect(await levelRows()).toEqual(before)

  const run = await cli('reconcile', '--url', DATABASE_URL, '--schema', t.schema)
  expect([run.code, run.stderr]).toEqual([
    0,
    '[####################] 100% 3/3 levels, 1 drifted, 1 fixed, 1 ledger gap\n',
  ])
  expect(run.stdout).toMatch(new RegExp(`${levels.c2.id}.*yes`))
  expect(await reservedOf(levels.c2.id)).toEqual({ reserved: '0', raw: '0' })

  const again = await cli('reconcile', '--dry-run', `--url=${DATABASE_URL}`, `--schema=${t.schema}`)
  expect([again.code, again.stdout]).toEqual([0, '3 levels scanned, 0 drifted, 0 fixed (dry run: nothing written)\n'])
})

test('CLI: the progress bar counts live levels first, so a big table shows how far the scan is', async () => {
  const locations = Array.from({ length: 10 }, (_, i) => `b${i}`)
  const { levels } = await stocked([...locations, 'gone'])
  // A soft-deleted level is neither scanned nor counted.
  await t.db.query(`UPDATE inventory_level SET deleted_at = now() WHERE id = $1`, [levels.gone.id])
  const out = await cli('reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema, '--limit', '4')
  expect(out).toEqual({
    code: 0,
    stdout: '10 levels scanned, 0 drifted, 0 fixed (dry run: nothing written)\n',
    stderr: [
      '[########------------]  40% 4/10 levels, 0 drifted',
      '[################----]  80% 8/10 levels, 0 drifted',
      '[####################] 100% 10/10 levels, 0 drifted',
      '',
    ].join('\n'),
  })
})

/** A stream that records what is written, as a terminal (isTTY) or a pipe. */
function capture(isTTY) {
  return {
    isTTY,
    text: '',
    write(chunk) {
      this.text += chunk
    },
  }
}

test('CLI on a terminal: the bar is drawn before the first page and rewritten in place, one newline at the end', async () => {
  const { run } = require(CLI)
  const { levels } = await stocked(['t1', 't2', 't3'])
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 2 WHERE id = $1`, [levels.t2.id])
  const ids = Object.values(levels)
    .map((l) => l.id)
    .sort()
  // Drifted levels after each page; the ledger gap the raw write left shows on the same page.
  const drift = ids.map((id, i) =>
    ids.slice(0, i + 1).includes(levels.t2.id) ? '1 drifted, 1 ledger gap' : '0 drifted',
  )

  const [stdout, stderr] = [capture(false), capture(true)]
  expect(
    await run(['reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema, '--limit', '1'], {
      stdout,
      stderr,
    }),
  ).toBe(1)
  const redraw = '\r\x1b[K'
  expect(stderr.text).toBe(
    [
      `${redraw}[--------------------]   0% 0/3 levels, 0 drifted`,
      `${redraw}[######--------------]  33% 1/3 levels, ${drift[0]}`,
      `${redraw}[#############-------]  66% 2/3 levels, ${drift[1]}`,
      `${redraw}[####################] 100% 3/3 levels, 1 drifted, 1 ledger gap\n`,
    ].join(''),
  )
  expect(stdout.text).toContain(levels.t2.id)
  expect(stdout.text).toMatch(/3 levels scanned, 1 drifted, 0 fixed, 1 ledger gap, 0 closed \(dry run/)

  // Fixing: the bar counts the fixes too.
  const fixing = capture(true)
  expect(
    await run(['reconcile', '--url', DATABASE_URL, '--schema', t.schema], { stdout: capture(false), stderr: fixing }),
  ).toBe(0)
  expect(fixing.text).toBe(
    `${redraw}[--------------------]   0% 0/3 levels, 0 drifted, 0 fixed${redraw}[####################] 100% 3/3 levels, 1 drifted, 1 fixed, 1 ledger gap\n`,
  )
  expect(await reservedOf(levels.t2.id)).toEqual({ reserved: '0', raw: '0' })
})

test('CLI progress text: never past 100% when levels were created after the count; an empty table is done', () => {
  const { progressText } = require(CLI)
  expect(progressText({ scanned: 12, total: 10, drifted: 0, fixed: 0, dryRun: true })).toBe(
    '[####################] 100% 12/12 levels, 0 drifted',
  )
  expect(progressText({ scanned: 0, total: 0, drifted: 0, fixed: 0, dryRun: false })).toBe(
    '[####################] 100% 0/0 levels, 0 drifted, 0 fixed',
  )
  expect(progressText({ scanned: 4200, total: 10000, drifted: 3, fixed: 0, dryRun: true })).toBe(
    '[########------------]  42% 4200/10000 levels, 3 drifted',
  )
  expect(progressText({ scanned: 4200, total: 10000, drifted: 0, fixed: 0, gaps: 2, dryRun: true })).toBe(
    '[########------------]  42% 4200/10000 levels, 0 drifted, 2 ledger gaps',
  )
})

test('CLI: stock written past the ledger is a gap: a dry run exits 1 naming it, a run closes it with a reconcile movement', async () => {
  const { item, levels } = await stocked(['g1', 'g2'])
  await t.db.query(
    `UPDATE inventory_level SET stocked_quantity = 3, raw_stocked_quantity = '{"value":"3","precision":20}' WHERE id = $1`,
    [levels.g2.id],
  )
  const dry = await cli('reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema)
  expect([dry.code, dry.stderr]).toEqual([1, '[####################] 100% 2/2 levels, 0 drifted, 1 ledger gap\n'])
  expect(dry.stdout).toMatch(new RegExp(`${levels.g2.id}\\s+stocked_quantity\\s+3\\s+10\\s+no`))
  expect(dry.stdout).toMatch(
    /2 levels scanned, 0 drifted, 0 fixed, 1 ledger gap, 0 closed \(dry run: nothing written\)\n$/,
  )
  expect(await t.inventory.listInventoryMovements({ inventory_item_id: item.id, reason: 'reconcile' })).toEqual([])

  const run = await cli('reconcile', '--url', DATABASE_URL, '--schema', t.schema)
  expect([run.code, run.stdout]).toEqual([
    0,
    expect.stringMatching(/2 levels scanned, 0 drifted, 0 fixed, 1 ledger gap, 1 closed\n$/),
  ])
  expect(run.stdout).toMatch(new RegExp(`${levels.g2.id}\\s+stocked_quantity\\s+3\\s+10\\s+yes`))
  const closing = await t.inventory.listInventoryMovements({ inventory_item_id: item.id, reason: 'reconcile' })
  expect(closing).toEqual([
    expect.objectContaining({ inventory_level_id: levels.g2.id, field: 'stocked_quantity', delta: -7, resulting: 3 }),
  ])
  expect((await t.inventory.verifyInventoryLedger()).ok).toBe(true)

  const again = await cli('reconcile', '--dry-run', '--url', DATABASE_URL, '--schema', t.schema)
  expect([again.code, again.stdout]).toEqual([0, '2 levels scanned, 0 drifted, 0 fixed (dry run: nothing written)\n'])
})

test('CLI verify exits 1 naming a ledger gap and 0 once reconcile closed it; CLI prune folds old movements', async () => {
  const { levels } = await stocked(['v1', 'v2'])
  expect(await cli('verify', '--url', DATABASE_URL, '--schema', t.schema)).toMatchObject({
    code: 0,
    stdout: expect.stringContaining('2 levels checked, 0 ledger gaps'),
  })
  await t.db.query(`UPDATE inventory_level SET stocked_quantity = 12 WHERE id = $1`, [levels.v2.id])
  const bad = await cli('verify', '--url', DATABASE_URL, '--schema', t.schema, '--limit', '1')
  expect(bad.code).toBe(1)
  expect(bad.stdout).toContain(levels.v2.id)
  expect(bad.stdout).not.toContain(levels.v1.id)
  expect((await cli('reconcile', '--url', DATABASE_URL, '--schema', t.schema)).code).toBe(0)
  expect((await cli('verify', '--url', DATABASE_URL, '--schema', t.schema)).code).toBe(0)

  await t.db.query(`UPDATE inventory_movement SET created_at = now() - interval '10 days'`)
  const pruned = await cli('prune', '--days', '7', '--url', DATABASE_URL, '--schema', t.schema)
  expect(pruned).toMatchObject({
    code: 0,
    stdout: expect.stringMatching(/^3 movements older than 7 days folded into 2, 0 expired idempotency keys dropped/),
  })
  expect((await cli('verify', '--url', DATABASE_URL, '--schema', t.schema)).code).toBe(0)
  expect(await cli('prune', '--url', DATABASE_URL)).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('prune needs --days'),
  })
  expect(await cli('verify', '--dry-run', '--url', DATABASE_URL)).toMatchObject({
    code: 2,
    stderr: expect.stringContaining("unknown option '--dry-run'"),
  })
})

test('CLI: errors exit 2 with a typed message and no stack', async () => {
  const missing = await cli('reconcile', '--url', DATABASE_URL, '--schema', 'no_such_schema_recon')
  expect(missing.code).toBe(2)
  // No inventory tables at all in that schema: the database's refusal, typed.
  expect(missing.stderr).toMatch(/medusa-inventory-rs: database_error: /)
  expect(missing.stderr).not.toMatch(/\n\s+at /)

  const usage = await cli('reconcile', '--dry-run')
  expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('--url is required')])
  expect((await cli('frobnicate')).code).toBe(2)
})

test('drift left by the real @medusajs/inventory is reported and fixed', async () => {
  const admin = await sql()
  const schema = uniqueSchema('recon_peer')
  await admin.query(`CREATE SCHEMA "${schema}"`)
  const peer = await startMedusa(DATABASE_URL, schema)
  const { InventoryService } = require('..')
  let ours
  try {
    await peer.migrate()
    await peer.load()
    // The peer soft-deletes a level but leaves its reservation live; a level created
    // again at the pair starts at 0; deleting the old reservation then takes it to -2.
    const [item] = await peer.service.createInventoryItems([{ sku: 'peer-drift' }])
    const [first] = await peer.service.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'sloc_p', stocked_quantity: 10 },
    ])
    const [res] = await peer.service.createReservationItems([
      { inventory_item_id: item.id, location_id: 'sloc_p', quantity: 2 },
    ])
    await peer.service.softDeleteInventoryLevels([first.id])
    const [second] = await peer.service.createInventoryLevels([
      { inventory_item_id: item.id, location_id: 'sloc_p', stocked_quantity: 10 },
    ])

    // Before our migration (a database only the peer migrated): a dry run works, a fix says what is missing.
    ours = await InventoryService.connect({ url: DATABASE_URL, schema })
    const recreated = await ours.reconcile({ dryRun: true })
    expect(recreated).toEqual({
      levels: [
        expect.objectContaining({
          id: second.id,
          reserved_quantity: 0,
          reservation_quantity: 2,
          difference: -2,
          fixed: false,
        }),
      ],
      ledger: [],
      next: null,
      scanned: 1,
    })
    await expect(ours.reconcile()).rejects.toMatchObject({
      type: 'not_allowed',
      message: expect.stringContaining('migrate()'),
    })

    // Switching to this module migrates: its ledger opens with the levels' quantities.
    await ours.migrate()
    await peer.service.deleteReservationItems([res.id])
    const dry = await ours.reconcile({ dryRun: true })
    expect(dry.levels).toEqual([
      expect.objectContaining({ id: second.id, reserved_quantity: -2, reservation_quantity: 0, fixed: false }),
    ])
    // The peer's write is not in the ledger either.
    expect(dry.ledger).toEqual([
      { id: second.id, field: 'reserved_quantity', quantity: -2, ledger_sum: 0, fixed: false },
    ])

    const fixed = await ours.reconcile()
    expect(fixed.levels).toEqual([
      expect.objectContaining({
        id: second.id,
        reserved_quantity: -2,
        reservation_quantity: 0,
        difference: -2,
        fixed: true,
      }),
    ])
    expect(fixed.ledger).toEqual([
      { id: second.id, field: 'reserved_quantity', quantity: -2, ledger_sum: 0, fixed: true },
    ])
    // The level's history: the peer's change (recorded by reconcile), then the fix.
    const moves = await ours.listInventoryMovements({ inventory_level_id: second.id, field: 'reserved_quantity' })
    expect(moves.map((m) => [m.reason, m.delta, m.resulting])).toEqual([
      ['reconcile', -2, -2],
      ['reconcile', 2, 0],
    ])
    expect(await ours.verifyInventoryLedger()).toMatchObject({ ok: true })
    // The peer reads the fixed level back.
    const [level] = await peer.service.listInventoryLevels({ id: second.id })
    expect([Number(level.reserved_quantity), Number(level.available_quantity)]).toEqual([0, 10])
    expect(await ours.reconcile({ dryRun: true })).toEqual({ levels: [], ledger: [], next: null, scanned: 1 })
  } finally {
    await ours?.close()
    await peer.stop()
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  }
})

test('medusa db:migrate (runMigrations) warns about drift it finds and fixes nothing', async () => {
  const { levels } = await stocked(['a', 'b'], { a: 2 })
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 5, raw_reserved_quantity = '{"value":"5","precision":20}' WHERE id = $1`,
    [levels.a.id],
  )
  const medusaModule = require('../medusa')
  const logged = { info: [], warn: [] }
  const logger = { info: (m) => logged.info.push(m), warn: (m) => logged.warn.push(m) }
  const options = { database: { clientUrl: DATABASE_URL, schema: t.schema } }
  await expect(medusaModule.runMigrations({ options, logger })).resolves.toEqual([])
  expect(logged.warn).toHaveLength(1)
  expect(logged.warn[0]).toContain('1 inventory level(s)')
  expect(logged.warn[0]).toContain(levels.a.id)
  expect(logged.warn[0]).toContain('reconcile --dry-run')
  expect(await reservedOf(levels.a.id)).toEqual({ reserved: '5', raw: '5' })
  // Once reconciled, migrating again is quiet.
  await t.inventory.reconcile({})
  logged.warn.length = 0
  await medusaModule.runMigrations({ options, logger })
  expect(logged.warn).toEqual([])
})

const MIGRATE_SCRIPT = path.join(__dirname, 'support', 'migrate-warnings.js')

/** Migrates the test schema in a child process: `{ version, warnings, logged }` (see the script). */
function migrateInChild(mode = 'standalone', connectOptions = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [MIGRATE_SCRIPT, DATABASE_URL, t.schema, mode, JSON.stringify(connectOptions)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`migrate-warnings exited ${code}: ${stderr}`)),
    )
  })
}

test('standalone migrate() names drifted levels in a process warning, fixes nothing and still resolves to the schema version', async () => {
  const version = await t.inventory.migrate()
  expect(version).toBeGreaterThan(0)
  expect(await migrateInChild()).toEqual({ version, warnings: [], logged: [] })

  const { levels } = await stocked(['d1', 'd2', 'ok'], { d1: 1 })
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 4, raw_reserved_quantity = '{"value":"4","precision":20}' WHERE id = ANY($1)`,
    [[levels.d1.id, levels.d2.id]],
  )
  const before = await levelRows()

  const out = await migrateInChild()
  expect(out.version).toBe(version)
  expect(out.warnings).toHaveLength(1)
  const [w] = out.warnings
  expect([w.name, w.code]).toEqual(['Warning', 'MEDUSA_INVENTORY_RS_DRIFT'])
  // The raw write drifted reserved_quantity from the reservations and from the ledger.
  const named = `(${[levels.d1.id, levels.d2.id].sort().join(', ')})`
  expect(w.message).toContain(
    `2 inventory level(s) have a reserved_quantity that is not the sum of their live reservations ${named}.`,
  )
  expect(w.message).toContain(
    `2 inventory level(s) have quantities that are not the sum of their movements in the ledger ${named}.`,
  )
  expect(w.message).toContain(levels.d1.id)
  expect(w.message).toContain(levels.d2.id)
  expect(w.message).not.toContain(levels.ok.id)
  expect(w.message).toContain(`reconcile --dry-run --url <database url> --schema ${t.schema}`)
  expect(await levelRows()).toEqual(before)

  await t.inventory.reconcile()
  expect(await migrateInChild()).toEqual({ version, warnings: [], logged: [] })
})

test("the drift warning names the first five levels of many; db:migrate logs it through Medusa's logger, not as a process warning", async () => {
  const { levels } = await stocked(Array.from({ length: 7 }, (_, i) => `m${i}`))
  await t.db.query(`UPDATE inventory_level SET reserved_quantity = 1`)
  const ids = Object.values(levels)
    .map((l) => l.id)
    .sort()
  const { warnings } = await migrateInChild()
  expect(warnings).toHaveLength(1)
  expect(warnings[0].message).toContain(
    `7 inventory level(s) have a reserved_quantity that is not the sum of their live reservations (${ids.slice(0, 5).join(', ')}, …)`,
  )
  expect(warnings[0].message).not.toContain(ids[5])

  expect(await migrateInChild('medusa')).toEqual({ version: null, warnings: [], logged: [warnings[0].message] })
})

test('migrate checks a bounded number of levels for drift and says when it stopped short', async () => {
  const { MIGRATE } = require('../lib/internal')
  const { levels } = await stocked(Array.from({ length: 6 }, (_, i) => `b${i}`))
  await t.db.query(
    `UPDATE inventory_level SET reserved_quantity = 1, raw_reserved_quantity = '{"value":"1","precision":20}' WHERE id = ANY($1)`,
    [Object.values(levels).map((l) => l.id)],
  )
  const all = (
    await t.db.query(`SELECT id FROM inventory_level WHERE deleted_at IS NULL AND reserved_quantity = 1 ORDER BY id`)
  ).rows.map((r) => r.id)
  const some = await t.inventory[MIGRATE]({ pageSize: 2, levels: 4 })
  expect(some.drift).toContain('(Only the first 4 levels were checked; the dry run checks all.)')
  const everything = await t.inventory[MIGRATE]({ pageSize: 2, levels: 1_000_000 })
  expect(everything.drift).not.toContain('Only the first')
  expect(everything.drift).toContain(`${all.length} inventory level(s) have a reserved_quantity`)
  await t.inventory.reconcile()
})

test('stock written past the ledger is named as a ledger gap alone; a connection without the ledger does not warn about it', async () => {
  const { levels } = await stocked(['s1', 's2'])
  await t.db.query(
    `UPDATE inventory_level SET stocked_quantity = 4, raw_stocked_quantity = '{"value":"4","precision":20}' WHERE id = $1`,
    [levels.s2.id],
  )
  const { warnings } = await migrateInChild()
  expect(warnings.map((w) => w.message)).toEqual([
    `medusa-inventory-rs: 1 inventory level(s) have quantities that are not the sum of their movements in the ledger (${levels.s2.id}). ` +
      `See them with \`npx medusa-inventory-rs reconcile --dry-run --url <database url> --schema ${t.schema}\` and fix them without --dry-run.`,
  ])
  expect(await migrateInChild('standalone', { ledger: false })).toMatchObject({ warnings: [] })
  await t.inventory.reconcile()
  expect(await migrateInChild()).toMatchObject({ warnings: [] })
})
