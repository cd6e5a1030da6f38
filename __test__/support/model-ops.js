'use strict'
// The random workload of the model-based suites (model.property.test.js in one
// process, model.multiprocess.test.js across several): abstract ops drawn by
// fast-check over item and location indexes and "the n-th most recent" row, and
// their translation to concrete calls (support/model.js predicts and invokes them)
// against what exists when the call runs.
const fc = require('fast-check')
const M = require('./model')

const LOCS = ['a', 'b', 'c']
const itemIx = fc.nat(1)
const loc = fc.constantFrom(...LOCS)
const pick = fc.nat(4) // the n-th most recent reservation; beyond them: an unknown id
const line = fc.option(fc.constantFrom('L1', 'L2', 'shared'), { nil: undefined })
const resLine = { item: itemIx, loc, quantity: M.qty, line }
// Weights in thirds: a hard-deleted item takes every later call on it to not_found,
// so it is a third as likely as the rarest other op.
const w = (weight, arbitrary) => ({ weight: weight * 3, arbitrary })
const rec = (op, fields) => fc.record({ op: fc.constant(op), ...fields })
// shared: any reservation of the round, else only the caller's own (multi-process).
const ids = { rs: fc.array(pick, { minLength: 1, maxLength: 2 }), shared: fc.boolean() }
// which: the newest (0) or an older (1) level at the item and location, deleted ones included.
const at = { item: itemIx, loc, which: fc.nat(1) }
const op = fc.oneof(
  w(
    3,
    rec('createLevels', {
      levels: fc.array(fc.record({ item: itemIx, loc, stocked: M.stock }), { minLength: 1, maxLength: 2 }),
    }),
  ),
  w(2, rec('updateLevel', { item: itemIx, loc, stocked: M.stock })),
  w(4, rec('adjust', { item: itemIx, loc, by: M.adj })),
  w(
    1,
    rec('adjustMany', {
      entries: fc.array(fc.record({ item: itemIx, loc, by: M.adj }), { minLength: 1, maxLength: 3 }),
    }),
  ),
  w(
    6,
    rec('reserve', {
      lines: fc.array(fc.record(resLine), { minLength: 1, maxLength: 3 }),
      backorder: fc.boolean(),
      array: fc.constant(true),
    }),
  ),
  w(
    8,
    rec('reserve', {
      lines: fc.array(fc.record(resLine), { minLength: 1, maxLength: 1 }),
      backorder: fc.boolean(),
      array: fc.boolean(),
    }),
  ),
  w(5, rec('updateQty', { r: pick, quantity: M.qty })),
  w(5, rec('move', { r: pick, loc })),
  w(4, rec('delete', ids)),
  w(2, rec('softDelete', ids)),
  w(3, rec('restore', ids)),
  w(2, rec('deleteByLine', { line: fc.constantFrom('L1', 'L2', 'shared') })),
  w(2, rec('restoreByLine', { line: fc.constantFrom('L1', 'L2', 'shared') })),
  w(3, rec('softDeleteLevel', at)),
  w(3, rec('restoreLevel', at)),
  w(3, rec('deleteLevel', at)),
  w(4, rec('softDeleteItem', { item: itemIx })),
  w(4, rec('restoreItem', { item: itemIx })),
  { weight: 1, arbitrary: rec('deleteItem', { item: itemIx }) },
  w(1, rec('read', { item: itemIx, locs: fc.subarray(LOCS) })),
  w(1, rec('readLevel', { item: itemIx, loc })),
)

// A mix around the second break (updateReservationItems queued behind a restore):
// reservations made on one item at two locations, soft-deleted with their level or
// item, restored, and updated or moved by their creator, so that the calls of one
// held epoch (model.multiprocess.test.js) often queue on the same rows.
const one = fc.constant(0)
const two = fc.constantFrom('a', 'b')
const near = fc.nat(1)
const raceOp = fc.oneof(
  w(
    4,
    rec('reserve', {
      lines: fc.array(fc.record({ item: one, loc: two, quantity: M.small, line }), { minLength: 1, maxLength: 1 }),
      backorder: fc.boolean(),
      array: fc.boolean(),
    }),
  ),
  w(4, rec('softDeleteLevel', { item: one, loc: two, which: fc.constant(0) })),
  w(6, rec('restoreLevel', { item: one, loc: two, which: fc.constant(0) })),
  w(1, rec('softDeleteItem', { item: one })),
  w(2, rec('restoreItem', { item: one })),
  w(6, rec('updateQty', { r: near, quantity: M.small })),
  w(4, rec('move', { r: near, loc: two })),
  w(1, rec('softDelete', { rs: fc.array(near, { minLength: 1, maxLength: 1 }), shared: fc.boolean() })),
  w(1, rec('restore', { rs: fc.array(near, { minLength: 1, maxLength: 1 }), shared: fc.boolean() })),
  w(1, rec('adjust', { item: one, loc: two, by: M.adj })),
)

// Each round starts with levels at most item x location pairs, so the writes have something to move.
const PAIRS = [0, 1].flatMap((item) => LOCS.map((l) => ({ item, loc: l })))
const start = fc
  .tuple(
    fc.subarray(PAIRS, { minLength: 3 }),
    fc.array(fc.constantFrom(2, 4.25, 10, 20), { minLength: 6, maxLength: 6 }),
  )
  .map(([pairs, stocks]) => pairs.map((p, i) => ({ ...p, stocked: stocks[i] })))

/**
 * The concrete call for abstract op `o`, or null when it addresses nothing (no level
 * at the item and location yet). `ctx`: { items, levels: [{ id, item, loc }] newest
 * first }; `mine(i)` / `any(i)`: the i-th newest reservation the caller may update,
 * or any it may delete or restore (an unknown id beyond them); `lineOf(l)`: the
 * line item id of abstract line l; `tag`: a string unique to this call, the stamp of
 * whatever it soft-deletes.
 */
function concrete(o, { ctx, mine, any, lineOf, tag }) {
  const item = (i) => ctx.items[i]
  switch (o.op) {
    case 'createLevels':
      return { op: o.op, levels: o.levels.map((l) => ({ item: item(l.item), loc: l.loc, stocked: l.stocked })) }
    case 'updateLevel':
      return { op: o.op, item: item(o.item), loc: o.loc, stocked: o.stocked }
    case 'adjust':
      return { op: o.op, item: item(o.item), loc: o.loc, by: o.by }
    case 'adjustMany':
      return { op: o.op, entries: o.entries.map((e) => ({ item: item(e.item), loc: e.loc, by: e.by })) }
    case 'reserve':
      return {
        op: o.op,
        backorder: o.backorder,
        array: o.array,
        lines: o.lines.map((l) => ({ item: item(l.item), loc: l.loc, quantity: l.quantity, line: lineOf(l.line) })),
      }
    case 'updateQty':
      return { op: o.op, id: mine(o.r), quantity: o.quantity }
    case 'move':
      return { op: o.op, id: mine(o.r), loc: o.loc }
    case 'delete':
    case 'softDelete':
    case 'restore':
      return { op: o.op, ids: o.rs.map(o.shared ? any : mine), tag }
    case 'deleteByLine':
    case 'restoreByLine':
      return { op: o.op, line: lineOf(o.line), tag }
    case 'softDeleteLevel':
    case 'restoreLevel':
    case 'deleteLevel': {
      const here = ctx.levels.filter((l) => l.item === item(o.item) && l.loc === o.loc)
      const l = here[Math.min(o.which, here.length - 1)]
      return l ? { op: o.op, id: l.id, tag } : null
    }
    case 'softDeleteItem':
    case 'restoreItem':
    case 'deleteItem':
      return { op: o.op, item: item(o.item), tag }
    case 'read':
      return { op: o.op, item: item(o.item), locs: o.locs }
    case 'readLevel':
      return { op: o.op, item: item(o.item), loc: o.loc }
    default:
      throw new Error(`unknown op ${o.op}`)
  }
}

/** What the next calls may address: the items' levels and reservations, newest first. */
async function context(db, items) {
  const levels = await db.query(
    `SELECT id, inventory_item_id AS item, location_id AS loc FROM inventory_level WHERE inventory_item_id = ANY($1) ORDER BY created_at DESC, id DESC`,
    [items],
  )
  const res = await db.query(
    `SELECT id FROM reservation_item WHERE inventory_item_id = ANY($1) ORDER BY created_at DESC, id DESC`,
    [items],
  )
  return { items, levels: levels.rows, res: res.rows.map((r) => r.id) }
}

/** item|loc keys an acknowledged call may have left with reserved > stocked (a lowered stock). */
function lowers(c) {
  if (c.op === 'updateLevel') return [M.key(c.item, c.loc)]
  if (c.op === 'adjust' || c.op === 'adjustMany')
    return (c.entries ?? [c]).filter((x) => M.units(x.by) < 0n).map((x) => M.key(x.item, x.loc))
  return []
}

module.exports = { LOCS, op, raceOp, start, concrete, context, lowers }
