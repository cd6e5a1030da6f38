'use strict'
// Model-based property test: random sequences of the write calls that move
// quantities or delete and restore rows (reservations, levels, items: soft, hard,
// restores, levels re-created at an item and location), applied in order to one
// service. Each call is predicted by the exact model of support/model.js (BigInt
// hundredths; the same model the multi-process suite linearizes against): its
// outcome (the value it returns, or the typed refusal), then the whole state of the
// run's items, levels and reservations (which rows are deleted together included),
// compared with the database after every step. A refused call must change nothing,
// ledger included. After every step the SQL invariants hold: reserved = sum of the
// live reservations, never reserved > stocked without a live backorder (or a stock
// lowered by a write), every live reservation at a live level, every quantity the
// sum of its ledger movements. Deterministic: fixed seed, awaited calls, no timing.
// PROPERTY_SEED / PROPERTY_RUNS widen it.
const fc = require('fast-check')
const { freshService, ledgerGaps } = require('./helpers')
const M = require('./support/model')
const O = require('./support/model-ops')

const SEED = Number(process.env.PROPERTY_SEED ?? 42)
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60)

let t
beforeAll(async () => {
  t = await freshService('prop', { groupReservations: false })
})
afterAll(() => t.cleanup())

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? M.text(v) : v))
const movements = async () => (await t.db.query('SELECT count(*)::int AS n FROM inventory_movement')).rows[0].n

/** The available sum the model gives a read (live levels at the locations). */
function availableIn(s, item, locs) {
  let sum = 0n
  for (const loc of locs) {
    const l = M.liveLevel(s, item, loc)
    if (l) sum += l.stocked - M.reservedAt(s, item, loc)
  }
  return sum
}

const stats = {}
afterAll(() => {
  if (process.env.PROPERTY_STATS) console.log(stats)
})

test(
  'random sequences of writes, deletes and restores keep the model, the levels, the reservations and the ledger in step',
  async () => {
    let run = 0
    const lowered = new Set() // item|loc where an acknowledged write lowered the stock
    await fc.assert(
      fc.asyncProperty(O.start, fc.array(O.op, { minLength: 10, maxLength: 40 }), async (start, ops) => {
        // Fresh items per run keep runs independent within the one schema.
        run++
        const items = [
          (await t.inventory.createInventoryItems({ sku: `p-${run}-0-${Math.random()}` })).id,
          (await t.inventory.createInventoryItems({ sku: `p-${run}-1-${Math.random()}` })).id,
        ]
        const made = await t.inventory.createInventoryLevels(
          start.map((l) => ({ inventory_item_id: items[l.item], location_id: l.loc, stocked_quantity: l.stocked })),
        )
        let s = M.startState(items, made)
        let n = 0
        for (const o of ops) {
          const ctx = await O.context(t.db, items)
          const unknown = (i) => ctx.res[i] ?? 'resitem_unknown'
          const c = O.concrete(o, {
            ctx,
            mine: unknown,
            any: unknown,
            lineOf: (l) => (l ? `p${run}-${l}` : undefined),
            tag: `t${run}.${n++}`,
          })
          if (!c) continue
          const where = show(c)
          const before = { rows: M.normalRows(await M.dbState(t.db, items)), movements: await movements() }
          const pr = M.predict(s, c)
          const outcome = await M.invoke(t.inventory, c)
          const got = outcome.err ? outcome.err.type : 'ok'
          stats[`${c.op}:${got}`] = (stats[`${c.op}:${got}`] ?? 0) + 1
          // (a) success or the typed refusal, as the model predicts
          const wanted = pr.refuse ? (pr.refuse.includes(got) ? got : pr.refuse.join('|')) : 'ok'
          expect([where, got, outcome.err?.message]).toEqual([where, wanted, outcome.err?.message])
          if (outcome.err) {
            // refused: nothing written, ledger included
            expect([where, M.normalRows(await M.dbState(t.db, items)), await movements()]).toEqual([
              where,
              before.rows,
              before.movements,
            ])
          } else {
            const r = pr.accept(outcome.ok)
            expect([where, r.bad]).toEqual([where, undefined])
            s = r.next
            for (const k of O.lowers(c)) lowered.add(k)
            if (c.op === 'read' && c.locs.length) {
              const sum = availableIn(s, c.item, c.locs)
              if (sum >= 0n && M.inDomain(sum)) {
                expect([where, await t.inventory.confirmInventory(c.item, c.locs, M.text(sum))]).toEqual([where, true])
                if (M.inDomain(sum + 1n))
                  expect([where, await t.inventory.confirmInventory(c.item, c.locs, M.text(sum + 1n))]).toEqual([
                    where,
                    false,
                  ])
              } else if (sum < 0n) {
                expect([where, await t.inventory.confirmInventory(c.item, c.locs, 0.25)]).toEqual([where, false])
              }
            }
          }
          // (b) the database is the model's state
          expect([where, M.normalRows(await M.dbState(t.db, items))]).toEqual([where, M.modelRows(s)])
          // (c) the SQL invariants and the ledger, after every call
          expect([where, await M.invariants(t.db, lowered, ledgerGaps, items)]).toEqual([where, []])
        }
      }),
      // PROPERTY_NO_SHRINK=1 reports the first failing sequence as found (long runs shrink slowly).
      { seed: SEED, numRuns: RUNS, endOnFailure: process.env.PROPERTY_NO_SHRINK === '1' },
    )
  },
  Math.max(60_000, RUNS * 1_000),
) // longer runs (PROPERTY_RUNS) get time in proportion
