'use strict'
// Model-based property test: random sequences of the write calls that move
// quantities, applied in order to one service, each checked against a small
// exact model (BigInt hundredths) and against the SQL invariants. Deterministic:
// fixed seed, awaited calls, no timing. PROPERTY_SEED / PROPERTY_RUNS widen it.
const fc = require('fast-check')
const { freshService, ledgerGaps, reservedDrift } = require('./helpers')
const { MAX, units, text, inDomain, levelInDomain, qty, stock, adj } = require('./support/model')

const SEED = Number(process.env.PROPERTY_SEED ?? 42)
const RUNS = Number(process.env.PROPERTY_RUNS ?? 25)
const LOCS = ['a', 'b', 'c']
const LINES = ['L1', 'L2']
// A level the service may hold: stocked, reserved and available all read back as valid quantities.
const fits = levelInDomain

const itemIx = fc.nat(1)
const loc = fc.constantFrom(...LOCS)
const pick = fc.nat(6) // the n-th most recent reservation of the model; beyond them: an unknown id
const line = { item: itemIx, loc, quantity: qty, line: fc.option(fc.constantFrom(...LINES), { nil: undefined }) }

const w = (weight, arbitrary) => ({ weight, arbitrary })
const op = fc.oneof(
  w(1, fc.record({ op: fc.constant('createLevels'), levels: fc.array(fc.record({ item: itemIx, loc, stocked: stock }), { minLength: 1, maxLength: 3 }) })),
  w(1, fc.record({ op: fc.constant('updateLevel'), item: itemIx, loc, stocked: stock })),
  w(1, fc.record({ op: fc.constant('adjust'), item: itemIx, loc, by: adj })),
  w(1, fc.record({ op: fc.constant('adjustMany'), entries: fc.array(fc.record({ item: itemIx, loc, by: adj }), { minLength: 1, maxLength: 3 }) })),
  w(3, fc.record({ op: fc.constant('reserve'), lines: fc.array(fc.record(line), { minLength: 1, maxLength: 3 }), backorder: fc.boolean(), array: fc.constant(true) })),
  w(4, fc.record({ op: fc.constant('reserve'), lines: fc.array(fc.record(line), { minLength: 1, maxLength: 1 }), backorder: fc.boolean(), array: fc.boolean() })),
  w(2, fc.record({ op: fc.constant('updateQty'), r: pick, quantity: qty })),
  w(2, fc.record({ op: fc.constant('move'), r: pick, loc })),
  w(1, fc.record({ op: fc.constant('delete'), rs: fc.array(pick, { minLength: 1, maxLength: 2 }) })),
  w(1, fc.record({ op: fc.constant('softDelete'), rs: fc.array(pick, { minLength: 1, maxLength: 2 }) })),
  w(1, fc.record({ op: fc.constant('restore'), rs: fc.array(pick, { minLength: 1, maxLength: 2 }) })),
  w(1, fc.record({ op: fc.constant('deleteByLine'), line: fc.constantFrom(...LINES) })),
  w(1, fc.record({ op: fc.constant('softDeleteLevel'), item: itemIx, loc })),
  w(1, fc.record({ op: fc.constant('restoreLevel'), item: itemIx, loc })),
  w(1, fc.record({ op: fc.constant('read'), item: itemIx, locs: fc.subarray(LOCS) })),
)

// Each run starts with levels at most item x location pairs, so the writes have something to move.
const PAIRS = [0, 1].flatMap((item) => LOCS.map((l) => ({ item, loc: l })))
const start = fc
  .tuple(fc.subarray(PAIRS, { minLength: 3 }), fc.array(fc.constantFrom(2, 4.25, 10, 20), { minLength: 6, maxLength: 6 }))
  .map(([pairs, stocks]) => ({ op: 'createLevels', levels: pairs.map((p, i) => ({ ...p, stocked: stocks[i] })) }))

/** Is q an accepted reservation quantity (> 0, inside the domain)? */
const validQty = (q) => typeof q === 'number' ? q > 0 : units(q) > 0n && units(q) <= MAX

let t
let items
beforeAll(async () => {
  t = await freshService('prop', { groupReservations: false })
})
afterAll(() => t.cleanup())

/** The model: levels by item|loc, reservations in creation order. */
function emptyModel() {
  return { levels: new Map(), res: [] }
}
const key = (item, l) => `${item}|${l}`
const reservedAt = (m, k) => m.res.filter((r) => !r.deleted && key(r.item, r.loc) === k).reduce((s, r) => s + r.q, 0n)
const live = (m, k) => { const l = m.levels.get(k); return l && !l.deleted ? l : undefined }
const avail = (m, k) => live(m, k).stocked - reservedAt(m, k)

/** Whether every live level still fits after releasing reservations (m -> next). */
const releaseFits = (m, next) => [...m.levels.keys()].every((k) => !live(m, k) || fits(live(m, k).stocked, reservedAt(next, k)))

/** Applies one op to the service and predicts it on a copy of the model. Returns { expect: types|null, next }. */
async function step(m, o) {
  const svc = t.inventory
  const next = { levels: new Map([...m.levels].map(([k, v]) => [k, { ...v }])), res: m.res.map((r) => ({ ...r })) }
  const ix = (i) => m.res.length - 1 - i
  const resAt = (i) => m.res[ix(i)] // out of range -> unknown id
  const idOf = (i) => (resAt(i) ? resAt(i).id : 'resitem_unknown')
  let want = null // null: success predicted; else the accepted error types
  let call
  switch (o.op) {
    case 'createLevels': {
      const ks = o.levels.map((l) => key(items[l.item], l.loc))
      // A soft-deleted level at the key stays restorable only while no other exists there: skip.
      if (ks.some((k) => m.levels.get(k)?.deleted)) return { skip: true }
      if (o.levels.some((l) => l.stocked === -1)) want = ['invalid_data']
      if (!want && (new Set(ks).size < ks.length || ks.some((k) => live(m, k)))) want = ['invalid_data']
      if (!want) o.levels.forEach((l, i) => next.levels.set(ks[i], { stocked: units(l.stocked), deleted: false, mayGoNegative: false }))
      call = () => svc.createInventoryLevels(o.levels.map((l) => ({ inventory_item_id: items[l.item], location_id: l.loc, stocked_quantity: l.stocked })))
      break
    }
    case 'updateLevel': {
      const k = key(items[o.item], o.loc)
      if (o.stocked === -1) want = ['invalid_data']
      else if (!live(m, k)) want = ['not_found']
      else {
        const l = next.levels.get(k)
        l.stocked = units(o.stocked)
        if (!fits(l.stocked, reservedAt(m, k))) want = ['invalid_data']
        else if (l.stocked - reservedAt(m, k) < 0n) l.mayGoNegative = true
      }
      call = () => svc.updateInventoryLevels({ inventory_item_id: items[o.item], location_id: o.loc, stocked_quantity: o.stocked })
      break
    }
    case 'adjust':
    case 'adjustMany': {
      const entries = o.op === 'adjust' ? [o] : o.entries
      for (const e of entries) {
        const k = key(items[e.item], e.loc)
        if (!live(m, k)) { want = ['not_found']; break }
      }
      if (!want) {
        for (const e of entries) {
          const k = key(items[e.item], e.loc)
          const l = next.levels.get(k)
          l.stocked += units(e.by)
          if (!fits(l.stocked, reservedAt(m, k))) { want = ['invalid_data']; break }
          if (l.stocked - reservedAt(m, k) < 0n) l.mayGoNegative = true
        }
      }
      call = o.op === 'adjust'
        ? () => svc.adjustInventory(items[o.item], o.loc, o.by)
        : () => svc.adjustInventory(o.entries.map((e) => ({ inventoryItemId: items[e.item], locationId: e.loc, adjustment: e.by })))
      break
    }
    case 'reserve': {
      const input = o.lines.map((l) => ({
        inventory_item_id: items[l.item],
        location_id: l.loc,
        quantity: l.quantity,
        allow_backorder: o.backorder,
        ...(l.line ? { line_item_id: l.line } : {}),
      }))
      if (!o.array && input.length !== 1) return { skip: true }
      const demand = new Map()
      if (o.lines.every((l) => validQty(l.quantity))) {
        for (const l of o.lines) { const k = key(items[l.item], l.loc); demand.set(k, (demand.get(k) ?? 0n) + units(l.quantity)) }
      }
      // A call's own total per level must be a valid quantity: refused before any level is looked at.
      if (!o.lines.every((l) => validQty(l.quantity)) || [...demand.values()].some((d) => !inDomain(d))) want = ['invalid_data']
      else if (o.lines.some((l) => !live(m, key(items[l.item], l.loc)))) want = ['not_found']
      else {
        for (const [k, d] of demand) {
          const r = reservedAt(m, k) + d
          if (!o.backorder && d > avail(m, k)) want = ['not_allowed']
          else if (!want && !fits(live(m, k).stocked, r)) want = ['invalid_data']
        }
        if (!want) {
          for (const [k] of demand) if (live(m, k).stocked - reservedAt(m, k) - demand.get(k) < 0n) next.levels.get(k).mayGoNegative = true
        }
      }
      call = async () => {
        const out = await svc.createReservationItems(o.array ? input : input[0])
        ;[].concat(out).forEach((r, i) =>
          next.res.push({ id: r.id, item: items[o.lines[i].item], loc: o.lines[i].loc, q: units(o.lines[i].quantity), backorder: o.backorder, line: o.lines[i].line, deleted: null })
        )
        return out
      }
      break
    }
    case 'updateQty': {
      const r = resAt(o.r)
      if (!validQty(o.quantity)) want = ['invalid_data']
      else if (!r || r.deleted) want = ['invalid_data', 'not_found'] // "Reservation item with id X not found"
      else {
        const k = key(r.item, r.loc)
        const delta = units(o.quantity) - r.q
        if (!live(m, k)) want = ['not_found']
        else if (!r.backorder && delta > 0n && delta > avail(m, k)) want = ['not_allowed']
        else if (!fits(live(m, k).stocked, reservedAt(m, k) + delta)) want = ['invalid_data']
        else {
          next.res[ix(o.r)].q = units(o.quantity)
          if (avail(m, k) - delta < 0n) next.levels.get(k).mayGoNegative = true
        }
      }
      call = () => svc.updateReservationItems({ id: idOf(o.r), quantity: o.quantity })
      break
    }
    case 'move': {
      const r = resAt(o.r)
      if (!r || r.deleted) want = ['invalid_data', 'not_found']
      else if (r.loc === o.loc) return { skip: true }
      else {
        const k = key(r.item, o.loc)
        if (!live(m, k)) want = ['not_found']
        else if (!r.backorder && r.q > avail(m, k)) want = ['not_allowed']
        else if (!fits(live(m, k).stocked, reservedAt(m, k) + r.q)) want = ['invalid_data']
        else if (!fits(live(m, key(r.item, r.loc)).stocked, reservedAt(m, key(r.item, r.loc)) - r.q)) want = ['invalid_data']
        else {
          next.res[ix(o.r)].loc = o.loc
          if (avail(m, k) - r.q < 0n) next.levels.get(k).mayGoNegative = true
        }
      }
      call = () => svc.updateReservationItems({ id: idOf(o.r), location_id: o.loc })
      break
    }
    case 'delete': {
      const ids = new Set(o.rs.map((i) => resAt(i)?.id).filter(Boolean))
      next.res = next.res.filter((r) => !ids.has(r.id))
      if (!releaseFits(m, next)) want = ['invalid_data']
      call = () => svc.deleteReservationItems(o.rs.map(idOf))
      break
    }
    case 'softDelete': {
      for (const i of o.rs) if (resAt(i) && !resAt(i).deleted) next.res[ix(i)].deleted = 'user'
      if (!releaseFits(m, next)) want = ['invalid_data']
      call = () => svc.softDeleteReservationItems(o.rs.map(idOf))
      break
    }
    case 'restore': {
      const demand = new Map()
      const seen = new Set()
      for (const i of o.rs) {
        const r = resAt(i)
        if (!r || !r.deleted || seen.has(i)) continue
        seen.add(i)
        const k = key(r.item, r.loc)
        if (!live(m, k)) { want = ['not_found']; break }
        const d = demand.get(k) ?? { all: 0n, checked: 0n }
        d.all += r.q
        if (!r.backorder) d.checked += r.q
        demand.set(k, d)
      }
      if (!want) {
        for (const [k, d] of demand) {
          const r = reservedAt(m, k) + d.all
          if (d.checked > 0n && d.all > avail(m, k)) want = ['not_allowed', 'invalid_data']
          else if (!fits(live(m, k).stocked, r)) want = ['invalid_data']
          else if (live(m, k).stocked - r < 0n) next.levels.get(k).mayGoNegative = true
        }
      }
      if (!want) for (const i of seen) next.res[ix(i)].deleted = null
      call = () => svc.restoreReservationItems(o.rs.map(idOf))
      break
    }
    case 'deleteByLine': {
      for (const r of next.res) if (!r.deleted && r.line === o.line) r.deleted = 'user'
      if (!releaseFits(m, next)) want = ['invalid_data']
      call = () => svc.deleteReservationItemsByLineItem(o.line)
      break
    }
    case 'softDeleteLevel':
    case 'restoreLevel': {
      const k = key(items[o.item], o.loc)
      const l = next.levels.get(k)
      if (!l) return { skip: true }
      const soft = o.op === 'softDeleteLevel'
      if (soft && !l.deleted) {
        l.deleted = true
        for (const r of next.res) if (!r.deleted && key(r.item, r.loc) === k) r.deleted = `level:${l.id}`
      } else if (!soft && l.deleted) {
        l.deleted = false
        for (const r of next.res) if (r.deleted === `level:${l.id}`) r.deleted = null
      }
      call = () => (soft ? svc.softDeleteInventoryLevels([l.id]) : svc.restoreInventoryLevels([l.id]))
      break
    }
    case 'read': {
      const its = items[o.item]
      const sum = o.locs.reduce((s, lc) => s + (live(m, key(its, lc)) ? avail(m, key(its, lc)) : 0n), 0n)
      call = async () => {
        const a = await svc.retrieveAvailableQuantity(its, o.locs)
        if (sum > -(2n ** 50n) && sum < 2n ** 50n) expect(a).toBe(Number(text(sum)))
        if (sum >= 0n && inDomain(sum)) {
          expect(await svc.confirmInventory(its, o.locs, text(sum))).toBe(true)
          if (inDomain(sum + 1n)) expect(await svc.confirmInventory(its, o.locs, text(sum + 1n))).toBe(false)
        } else if (sum < 0n) {
          expect(await svc.confirmInventory(its, o.locs, 0.25)).toBe(false)
        }
        return a
      }
      break
    }
    default:
      throw new Error(o.op)
  }
  const outcome = await call().then(
    (v) => ({ ok: v }),
    (e) => ({ err: e })
  )
  return { want, outcome, next }
}

/** The database's live levels and reservations, in the model's terms. */
async function snapshot() {
  const levels = await t.db.query(
    `SELECT id, inventory_item_id AS item, location_id AS loc, deleted_at IS NOT NULL AS deleted,
            stocked_quantity::text AS stocked, reserved_quantity::text AS reserved
     FROM inventory_level WHERE inventory_item_id = ANY($1) ORDER BY id`,
    [items]
  )
  const res = await t.db.query(
    `SELECT id, location_id AS loc, quantity::text AS q, deleted_at IS NOT NULL AS deleted
     FROM reservation_item WHERE inventory_item_id = ANY($1) ORDER BY id`,
    [items]
  )
  return { levels: levels.rows, res: res.rows }
}

function check(m, db, o) {
  const where = JSON.stringify(o)
  // (c) stocked and reserved per live level; soft-deleted levels are the model's soft-deleted ones
  const got = db.levels.map((l) => [key(l.item, l.loc), l.deleted, units(l.stocked), l.deleted ? null : units(l.reserved)])
  const exp = [...m.levels].map(([k, l]) => [k, l.deleted, l.stocked, l.deleted ? null : reservedAt(m, k)])
  const sort = (a) => a.map((x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? v.toString() : v))).sort()
  expect([where, sort(got)]).toEqual([where, sort(exp)])
  // the reservations: which exist, which are live, where, how much
  const gotR = db.res.map((r) => [r.id, r.loc, units(r.q), r.deleted])
  const expR = m.res.map((r) => [r.id, r.loc, r.q, !!r.deleted])
  expect([where, sort(gotR)]).toEqual([where, sort(expR)])
  // (b) no negative reservation total; available < 0 only where a backorder or a lowered stock explains it
  for (const l of db.levels.filter((x) => !x.deleted)) {
    expect([where, l.id, units(l.reserved) >= 0n]).toEqual([where, l.id, true])
    if (units(l.stocked) - units(l.reserved) < 0n) {
      expect([where, l.id, m.levels.get(key(l.item, l.loc)).mayGoNegative]).toEqual([where, l.id, true])
    }
  }
}

const stats = {}
afterAll(() => { if (process.env.PROPERTY_STATS) console.log(stats) })

test('random sequences of writes keep the model, the levels and the reservations in step', async () => {
  let run = 0
  await fc.assert(
    fc.asyncProperty(start, fc.array(op, { minLength: 10, maxLength: 40 }), async (first, rest) => {
      const ops = [first, ...rest]
      // Fresh items per run keep runs independent within the one schema.
      run++
      items = [
        (await t.inventory.createInventoryItems({ sku: `p-${run}-0-${Math.random()}` })).id,
        (await t.inventory.createInventoryItems({ sku: `p-${run}-1-${Math.random()}` })).id,
      ]
      let m = emptyModel()
      for (const o of ops) {
        const before = await snapshot()
        const r = await step(m, o)
        if (r.skip) continue
        const where = JSON.stringify(o)
        const err = r.outcome.err
        if (err && !err.type) throw err // an untyped failure (assertion in a read) propagates
        // (a) success vs typed refusal as predicted
        const got = err ? err.type : 'ok'
        stats[`${o.op}:${got}`] = (stats[`${o.op}:${got}`] ?? 0) + 1
        const wanted = r.want ? (r.want.includes(got) ? got : r.want.join('|')) : 'ok'
        expect([where, got, err?.message]).toEqual([where, wanted, err?.message])
        if (err) {
          expect(await snapshot()).toEqual(before) // refused: nothing changed
        } else {
          m = r.next
          if (o.op === 'createLevels') {
            for (const l of [].concat(r.outcome.ok)) m.levels.get(key(l.inventory_item_id, l.location_id)).id = l.id
          }
        }
        const db = await snapshot()
        check(m, db, o)
        expect([where, await reservedDrift(t.db)]).toEqual([where, []])
        // Quantities = ledger sums, after every call (refused ones wrote nothing either).
        expect([where, await ledgerGaps(t.db)]).toEqual([where, []])
      }
    }),
    // PROPERTY_NO_SHRINK=1 reports the first failing sequence as found (long runs shrink slowly).
    { seed: SEED, numRuns: RUNS, endOnFailure: process.env.PROPERTY_NO_SHRINK === '1' }
  )
}, Math.max(60_000, RUNS * 1_000)) // longer runs (PROPERTY_RUNS) get time in proportion
